/**
 * SIGTERM during 100 active downloads: the server stops within seconds with
 * exit code 0, the progress of every transfer is in the ledger, and after a
 * restart every client finishes: 90 mobget downloads (which resume with
 * Range) and 10 seed-style clients (no Range: the ledger alone says where
 * to continue, so part1 + part2 must equal the file).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { download, type DownloadSummary } from '@mobserve/client';
import { killAll, startServer } from '../helpers/processes.js';
import { memoryOf, MiB } from '../helpers/proc-stats.js';
import { request } from '../helpers/raw-http.js';
import { sha256, sha256File, tempDir } from '../helpers/tmp.js';
import { sleep } from '../helpers/wait.js';

afterAll(killAll);

/** A no-Range GET whose body is read until the server ends the connection. */
function partialBody(port: number, target: string): Promise<{ head: string; body: Buffer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`));
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      resolve({ head: all.toString('latin1', 0, end), body: all.subarray(end + 4) });
    });
  });
}

test('SIGTERM with 100 downloads running: exit 0 within seconds, progress flushed, every client completes after the restart', async () => {
  const tmp = tempDir();
  try {
    const root = path.join(tmp.dir, 'root');
    fs.mkdirSync(root);
    const data = randomBytes(1024 * 1024);
    fs.writeFileSync(path.join(root, 'file.bin'), data);
    const args = ['--root', root, '--store', `file:${path.join(tmp.dir, 'ledger')}`, '--rate', '256k', '-q'];
    const first = await startServer(args);
    const port = first.port;

    const ledgerClients = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const id = (await request(port, '/')).body.toString();
        return { id, part1: partialBody(port, `/${id}/file.bin`) };
      }),
    );
    const outs = Array.from({ length: 90 }, (_, i) => path.join(tmp.dir, `out${i}.bin`));
    const downloads: Array<Promise<DownloadSummary>> = outs.map((output) =>
      download({ target: 'file.bin', server: `http://127.0.0.1:${port}`, output, retries: 40, timeoutMs: 3000 }),
    );
    await sleep(1500);
    const peak = memoryOf(first.proc.pid!).peak;
    const t0 = Date.now();
    const exit = await first.kill('SIGTERM');
    const stopMs = Date.now() - t0;
    expect(exit.code).toBe(0);
    expect(stopMs).toBeLessThan(5000);

    await startServer([...args, '--port', String(port), '--rate', '4m']);
    const results = await Promise.all(downloads);
    for (const [i, s] of results.entries()) {
      expect(s.verified).toBe(true);
      expect(s.restarts).toBe(0);
      expect(s.connections).toBeGreaterThanOrEqual(2);
      expect(sha256File(outs[i]!)).toBe(sha256(data));
    }
    for (const c of ledgerClients) {
      const p1 = await c.part1;
      expect(p1.body.length).toBeGreaterThan(0);
      expect(p1.body.length).toBeLessThan(data.length);
      const p2 = await request(port, `/${c.id}/file.bin`);
      expect(p2.headers.get('mob-resume-from')).toBe(String(p1.body.length));
      expect(Buffer.concat([p1.body, p2.body]).equals(data)).toBe(true);
    }
    console.log(`[reliability] shutdown: SIGTERM with 100 transfers running, exit 0 after ${stopMs} ms, all 100 clients completed after the restart; server peak RSS ${(peak / MiB).toFixed(1)} MiB`);
  } finally {
    await killAll();
    tmp.cleanup();
  }
}, 90_000);
