// Loopback helpers shared by the bench, its cases and scripts/with-redis.mjs.
// No side effects on import (processes.mjs installs an exit hook; this does not).
import * as net from 'node:net';

/** A port free on 127.0.0.1 now (bound, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Whether 127.0.0.1:port accepts a connection. */
export function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
