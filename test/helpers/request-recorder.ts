/**
 * A transparent TCP relay in front of an origin that writes down every
 * request head passing through it. Put between a proxy and mobserve, it
 * shows what the proxy really sends upstream: whether it forwarded Range,
 * whether it revalidated with If-None-Match, or sent nothing at all.
 * Requests to mobserve carry no body, so heads follow each other directly.
 */
import * as net from 'node:net';

export interface RecordedRequest {
  method: string;
  target: string;
  /** Field names lower-cased; the last value wins. */
  headers: Map<string, string>;
}

export interface RequestRecorder {
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

function parseHead(head: string): RecordedRequest {
  const [line, ...fields] = head.split('\r\n');
  const [method = '', target = ''] = line!.split(' ');
  const headers = new Map<string, string>();
  for (const f of fields) {
    const c = f.indexOf(':');
    if (c > 0) headers.set(f.slice(0, c).trim().toLowerCase(), f.slice(c + 1).trim());
  }
  return { method, target, headers };
}

export function startRecorder(originPort: number): Promise<RequestRecorder> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect({ port: originPort, host: '127.0.0.1' });
    sockets.add(down).add(up);
    let pending = '';
    down.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
        requests.push(parseHead(pending.slice(0, end)));
        pending = pending.slice(end + 4);
      }
    });
    down.pipe(up);
    up.pipe(down); // the origin's FIN ends `down` once its data is flushed
    // A vanished peer on either side takes the other side with it.
    down.on('error', () => up.destroy()).on('close', () => up.destroy());
    up.on('error', () => down.destroy());
    for (const s of [down, up]) s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        requests,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    );
  });
}
