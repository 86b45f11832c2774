/**
 * Resource limits under attack: slowloris, idle keep-alive hordes, clients
 * that never read, a flood of new IDs, and the connection cap. Under each,
 * a legitimate mobget download still completes byte-exact in bounded time,
 * and the server's memory stays bounded (RSS read from /proc).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { download } from '@mobserve/client';
import { FIXTURES } from '../helpers/paths.js';
import { killAll, startServer, type ServerProcess } from '../helpers/processes.js';
import { memoryOf, MiB, openFds } from '../helpers/proc-stats.js';
import { request } from '../helpers/raw-http.js';
import { RawConnection } from '../helpers/raw-connection.js';
import { sha256, sha256File, tempDir } from '../helpers/tmp.js';
import { sleep } from '../helpers/wait.js';

let tmp: ReturnType<typeof tempDir>;
let root: string;
let server: ServerProcess;
const BIG = 20 * MiB;
let bigSha: string;
const WORD_SHA = sha256File(path.join(FIXTURES, 'word.doc'));

beforeAll(async () => {
  tmp = tempDir();
  root = path.join(tmp.dir, 'root');
  fs.mkdirSync(root);
  fs.copyFileSync(path.join(FIXTURES, 'word.doc'), path.join(root, 'word.doc'));
  const big = randomBytes(BIG);
  bigSha = sha256(big);
  fs.writeFileSync(path.join(root, 'big.bin'), big);
  server = await startServer(['--store', 'memory', '--root', root, '--header-timeout', '2s', '--idle-timeout', '3s', '--max-sessions', '5000', '-q']);
});
afterAll(async () => {
  await killAll();
  tmp.cleanup();
});

/** A real download through the client library, with drops; resolves with its wall time. */
async function legitimateDownload(name: string, label: string): Promise<number> {
  const out = path.join(tmp.dir, `${label}-${name}`);
  const t0 = Date.now();
  const s = await download({ target: name, server: server.url, output: out, dropEvery: 16 * 1024, retries: 5, timeoutMs: 5000 });
  expect(s.verified).toBe(true);
  expect(sha256File(out)).toBe(name === 'word.doc' ? WORD_SHA : bigSha);
  fs.rmSync(out);
  return Date.now() - t0;
}

/** Records one figure line for docs/RELIABILITY.md. */
function figure(what: string, rssBefore: number, peak: number, extra: string): void {
  console.log(`[reliability] ${what}: ${extra}; server RSS before ${(rssBefore / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB`);
}

test('slowloris: 300 connections sending headers a byte at a time are cut by the header timeout; a real download is unaffected', async () => {
  const before = memoryOf(server.proc.pid!);
  const head = 'GET /word.doc HTTP/1.1\r\nHost: x\r\nX-Slow: ';
  const conns = await Promise.all(Array.from({ length: 300 }, () => RawConnection.open(server.port)));
  let stop = false;
  const drip = (async () => {
    for (let i = 0; !stop; i++) {
      for (const c of conns) if (!c.isClosed) c.write(head[i % head.length]!);
      await sleep(100);
    }
  })();
  try {
    const ms = await legitimateDownload('word.doc', 'slowloris');
    expect(ms).toBeLessThan(5000);
    // Each slow connection gets 408 and is closed within the 2 s header timeout (+ slack).
    const kinds = await Promise.all(conns.map((c) => Promise.race([c.closed, sleep(6000).then(() => 'still open')])));
    expect(kinds.filter((k) => k === 'still open')).toHaveLength(0);
    const got408 = conns.filter((c) => c.received > 0).length;
    expect(got408).toBeGreaterThan(250);
    figure('slowloris', before.rss, memoryOf(server.proc.pid!).peak, `300 connections, ${got408} answered 408, all closed, legitimate download ${ms} ms`);
  } finally {
    stop = true;
    await drip;
    for (const c of conns) c.destroy();
  }
}, 30_000);

test('1000 idle keep-alive connections are closed by the idle timeout; a real download is unaffected', async () => {
  const before = memoryOf(server.proc.pid!);
  const conns: RawConnection[] = [];
  for (let i = 0; i < 1000; i += 100) {
    conns.push(...(await Promise.all(Array.from({ length: 100 }, () => RawConnection.open(server.port)))));
  }
  try {
    for (const c of conns) c.write('GET /word.doc HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n');
    const firsts = await Promise.all(conns.map((c) => c.response({ timeoutMs: 5000 })));
    expect(firsts.every((r) => r.status === 206 && r.body.length === 100)).toBe(true);
    const ms = await legitimateDownload('word.doc', 'idle');
    expect(ms).toBeLessThan(5000);
    const kinds = await Promise.all(conns.map((c) => Promise.race([c.closed, sleep(8000).then(() => 'still open')])));
    expect(kinds.filter((k) => k === 'still open')).toHaveLength(0);
    figure('idle keep-alive', before.rss, memoryOf(server.proc.pid!).peak, `1000 connections, all closed by the 3 s idle timeout, legitimate download ${ms} ms`);
  } finally {
    for (const c of conns) c.destroy();
  }
}, 40_000);

test('50 clients that never read a 20 MiB file: backpressure keeps memory bounded, they are cut when idle', async () => {
  const before = memoryOf(server.proc.pid!);
  const fdsBefore = openFds(server.proc.pid!);
  const socks = await Promise.all(
    Array.from(
      { length: 50 },
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect({ port: server.port, host: '127.0.0.1' }, () => {
            s.pause(); // never read
            s.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
            resolve(s);
          });
          s.on('error', () => {});
        }),
    ),
  );
  try {
    await sleep(1000);
    const during = memoryOf(server.proc.pid!);
    // 50 × 20 MiB = 1000 MiB if the server buffered the files; it may hold only what the sockets accept.
    expect(during.rss - before.rss).toBeLessThan(150 * MiB);
    // The server side: each hung client holds a socket (the file's
    // descriptor is one, shared through the catalog's cache) until the 3 s
    // idle timeout destroys it (a paused client cannot see that).
    expect(openFds(server.proc.pid!)).toBeGreaterThanOrEqual(fdsBefore + 50);
    const ms = await legitimateDownload('big.bin', 'nonreader');
    expect(ms).toBeLessThan(20_000);
    const until = Date.now() + 10_000;
    while (openFds(server.proc.pid!) > fdsBefore + 2 && Date.now() < until) await sleep(100);
    expect(openFds(server.proc.pid!)).toBeLessThanOrEqual(fdsBefore + 2);
    const peak = memoryOf(server.proc.pid!).peak;
    figure('never-reading clients', before.rss, peak, `50 × 20 MiB requested and never read, RSS +${((during.rss - before.rss) / MiB).toFixed(1)} MiB while they hung, legitimate 20 MiB download ${ms} ms`);
  } finally {
    for (const s of socks) s.destroy();
  }
}, 60_000);

test('a flood of 20,000 new IDs: the session cap holds memory, evicts only never-used IDs, and a paused download survives', async () => {
  const before = memoryOf(server.proc.pid!);
  // A device with a paused download (ledger at byte 1000) before the flood.
  const id = (await request(server.port, '/')).body.toString();
  expect((await request(server.port, `/${id}/word.doc`, { Range: 'bytes=0-999' })).status).toBe(206);

  const perConn = 500;
  const conns = await Promise.all(Array.from({ length: 40 }, () => RawConnection.open(server.port)));
  await Promise.all(
    conns.map(async (c) => {
      for (let i = 0; i < perConn; i += 50) {
        c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50));
        for (let j = 0; j < 50; j++) expect((await c.response({ timeoutMs: 10_000 })).status).toBe(200);
      }
      c.destroy();
    }),
  );
  const after = memoryOf(server.proc.pid!);
  const resumed = await request(server.port, `/${id}/word.doc`);
  expect(resumed.status).toBe(200);
  expect(resumed.headers.get('mob-resume-from')).toBe('1000');
  expect(sha256(resumed.body)).toBe(sha256(fs.readFileSync(path.join(root, 'word.doc')).subarray(1000)));
  const ms = await legitimateDownload('word.doc', 'flood');
  expect(after.rss - before.rss).toBeLessThan(100 * MiB);
  figure('ID flood', before.rss, after.peak, `${40 * perConn} handshakes with --max-sessions 5000, RSS +${((after.rss - before.rss) / MiB).toFixed(1)} MiB, the paused session survived, legitimate download ${ms} ms`);
}, 60_000);

test('the connection cap answers 503 with Retry-After, and frees up as connections leave', async () => {
  const capped = await startServer(['--store', 'memory', '--root', root, '--max-connections', '20', '-q']);
  const conns = await Promise.all(Array.from({ length: 20 }, () => RawConnection.open(capped.port)));
  try {
    await sleep(100);
    const refused = await RawConnection.open(capped.port);
    const r = await refused.response({ timeoutMs: 3000 });
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.headers.get('mob-error')).toBe('busy');
    refused.destroy();
    for (const c of conns.splice(0, 5)) c.destroy();
    await sleep(200);
    const ok = await request(capped.port, '/word.doc', { Range: 'bytes=0-9' });
    expect(ok.status).toBe(206);
  } finally {
    for (const c of conns) c.destroy();
  }
}, 20_000);
