/**
 * Redis restarted under a running mobserve (issue 6): while Redis is down,
 * client-ID requests get 503 with Retry-After (the ID cannot be checked),
 * the plain path keeps working, the process never crashes, and it recovers
 * by itself when Redis is back. A download running through it finishes
 * byte-exact. Uses a private redis-server of its own, since it kills it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES } from '../helpers/paths.js';
import { killAll, mobget, startServer } from '../helpers/processes.js';
import { request } from '../helpers/raw-http.js';
import { freePort } from '../helpers/system-tools.js';
import { sha256, sha256File, tempDir } from '../helpers/tmp.js';
import { sleep } from '../helpers/wait.js';

const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => fs.existsSync(p));

function startRedis(port: number, dir: string): Promise<ChildProcess> {
  if (!REDIS_SERVER) throw new Error('redis-server is not installed: `pnpm test` installs it (apt-get install redis-server)');
  const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    const until = Date.now() + 5000;
    const probe = async () => {
      try {
        const net = await import('node:net');
        await new Promise<void>((ok, no) => {
          const s = net.connect({ port, host: '127.0.0.1' }, () => {
            s.destroy();
            ok();
          });
          s.on('error', no);
        });
        resolve(proc);
      } catch {
        if (Date.now() > until) reject(new Error('redis-server did not start'));
        else setTimeout(probe, 50);
      }
    };
    void probe();
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await gone;
}

let redis: ChildProcess | undefined;
afterAll(async () => {
  if (redis) await stop(redis);
  await killAll();
});

test('Redis down: 503 with Retry-After on the client-ID path, the plain path unaffected, recovery by itself, a download finishes', async () => {
  const tmp = tempDir();
  try {
    const port = await freePort();
    redis = await startRedis(port, tmp.dir);
    const server = await startServer(['--store', `redis://127.0.0.1:${port}`, '--rate', '64k']);
    const id = (await request(server.port, '/')).body.toString();
    expect(id).toHaveLength(36);

    // A download in flight when Redis goes away.
    const client = mobget(['fetch', 'word.doc', '--server', server.url, '--drop-every', '16k', '--retries', '30', '--json'], { cwd: tmp.dir, timeoutMs: 60_000 });
    await sleep(300);
    await stop(redis);

    const t0 = Date.now();
    const down = await request(server.port, `/${id}/word.doc`, { Range: 'bytes=0-9' });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(down.headers.get('mob-error')).toBe('store-unavailable');
    expect(Date.now() - t0).toBeLessThan(10_000);
    const plain = await request(server.port, '/word.doc', { Range: 'bytes=0-9' });
    expect(plain.status).toBe(206);
    expect(server.proc.exitCode).toBeNull();

    // Back (empty: no persistence). mobserve reconnects by itself; the old ID
    // is unknown now, and mobget simply gets a new one and goes on with Range.
    redis = await startRedis(port, tmp.dir);
    let again = 0;
    for (let i = 0; i < 100 && again !== 200; i++) {
      again = (await request(server.port, '/')).status;
      if (again !== 200) await sleep(100);
    }
    expect(again).toBe(200);
    const r = await client;
    expect(r.code).toBe(0);
    expect(sha256File(path.join(tmp.dir, 'word.doc'))).toBe(sha256(fs.readFileSync(path.join(FIXTURES, 'word.doc'))));
    expect(server.output()).toMatch(/store error/);
    expect(server.proc.exitCode).toBeNull();
  } finally {
    tmp.cleanup();
  }
}, 60_000);
