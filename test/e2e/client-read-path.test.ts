/**
 * mobget's read path for big files: socket reads land in one reused ring
 * (read-ring.ts), body chunks stay there until they are on disk and hashed,
 * and the hash runs on a worker thread (running-hash.ts). A ring of 64 KiB
 * (16 KiB reads) makes every download here wrap it hundreds of times and
 * pause the socket whenever the disk or the hash is behind; each case must
 * still end with the exact bytes and a matching Repr-Digest.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type * as net from 'node:net';
import { download, type DownloadOptions, type DownloadSummary } from '@mobserve/client';
import { correct, headBytes, send, sendChunked, sendCut, startFakeServer, type FakeServer, type Handler, type Representation } from '../helpers/fake-server.js';
import { tempDir } from '../helpers/tmp.js';

const BIG: Representation = { body: randomBytes(12 * 1024 * 1024 + 333), etag: '"big-1"' };
const SMALL_RING = 64 * 1024;

let tmp: ReturnType<typeof tempDir>;
let srv: FakeServer | undefined;

beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  await srv?.close();
  srv = undefined;
  tmp.cleanup();
});

async function serve(h: Handler): Promise<FakeServer> {
  srv = await startFakeServer(h);
  return srv;
}

async function fetch(s: FakeServer, extra: Partial<DownloadOptions> = {}): Promise<{ summary: DownloadSummary; output: string }> {
  const output = extra.output ?? path.join(tmp.dir, 'out.bin');
  const summary = await download({ target: s.url('/big.bin'), output, retries: 3, timeoutMs: 10_000, readBufferBytes: SMALL_RING, hashThread: 'worker', ...extra });
  return { summary, output };
}

function expectExact(output: string, summary: DownloadSummary, want: Buffer): void {
  const got = fs.readFileSync(output);
  expect(got.length).toBe(want.length);
  expect(got.equals(want)).toBe(true);
  expect(summary.sha256).toBe(createHash('sha256').update(want).digest('hex'));
  expect(summary.verified).toBe(true);
}

/** Writes `b` in pieces of `size` bytes, one per event-loop turn, then calls `then`. */
function trickle(sock: net.Socket, b: Buffer, size: number, then: () => void): void {
  let at = 0;
  const next = (): void => {
    if (sock.destroyed) return;
    if (at >= b.length) return then();
    sock.write(b.subarray(at, at + size));
    at += size;
    setImmediate(next);
  };
  next();
}

test('12 MiB through a 64 KiB ring with the hash on a worker: exact, digest checked', async () => {
  const s = await serve((req, sock) => send(sock, correct(BIG, req)));
  const { summary, output } = await fetch(s);
  expectExact(output, summary, BIG.body);
  expect(summary.digestChecked).toBe(true);
  expect(summary.connections).toBe(1);
});

test('the same with a drop every 1 MiB: 12 resumes, not a byte fetched twice', async () => {
  const s = await serve((req, sock) => send(sock, correct(BIG, req)));
  const { summary, output } = await fetch(s, { dropEvery: 1024 * 1024 });
  expectExact(output, summary, BIG.body);
  expect(summary.drops).toBe(12);
  expect(s.requests.map((r) => r.headers.get('range'))).toEqual(Array.from({ length: 13 }, (_, i) => `bytes=${i * 1024 * 1024}-`));
});

test('real cuts by the server mid-body (the ring holds bytes of a dead connection): exact', async () => {
  const cuts = [100_000, 3_000_001, 65_536];
  const s = await serve((req, sock, n) => (n <= cuts.length ? sendCut(sock, correct(BIG, req), cuts[n - 1]!) : send(sock, correct(BIG, req))));
  const { summary, output } = await fetch(s);
  expectExact(output, summary, BIG.body);
  expect(summary.networkErrors).toBe(3);
  expect(summary.received).toBe(BIG.body.length);
});

test('a chunked body (7,000-byte chunks: sizes and CRLFs split across reads): exact', async () => {
  const s = await serve((req, sock) => {
    const r = correct(BIG, { ...req, headers: new Map([...req.headers].filter(([k]) => k !== 'range')) });
    sendChunked(sock, r);
  });
  const { summary, output } = await fetch(s);
  expectExact(output, summary, BIG.body);
});

test('a head that arrives 3 bytes at a time, then the body in 1,000-byte pieces: exact', async () => {
  const rep: Representation = { body: randomBytes(300_000), etag: '"t-1"' };
  const s = await serve((req, sock) => {
    const r = correct(rep, req);
    trickle(sock, headBytes(r), 3, () => trickle(sock, r.body, 1000, () => sock.end()));
  });
  const { summary, output } = await fetch(s);
  expectExact(output, summary, rep.body);
});

test('hashing on this thread and reads through the stream (no ring) give the same file', async () => {
  const s = await serve((req, sock) => send(sock, correct(BIG, req)));
  const a = await fetch(s, { readBufferBytes: 0, hashThread: 'main', output: path.join(tmp.dir, 'a.bin') });
  const b = await fetch(s, { readBufferBytes: SMALL_RING, hashThread: 'main', output: path.join(tmp.dir, 'b.bin') });
  expectExact(a.output, a.summary, BIG.body);
  expectExact(b.output, b.summary, BIG.body);
});

test('the idle timeout does not fire while the reader holds the ring (the socket is paused by us, not silent)', async () => {
  const { openExchange } = await import('../../packages/client/src/http/exchange.js');
  const { ReadRing } = await import('../../packages/client/src/http/read-ring.js');
  const rep: Representation = { body: randomBytes(1024 * 1024), etag: '"p-1"' };
  const s = await serve((req, sock) => send(sock, correct(rep, req)));
  const ring = new ReadRing(SMALL_RING);
  const ex = await openExchange({ url: new URL(s.url('/p.bin')), method: 'GET', headers: [], timeoutMs: 150, ring });
  const got: Buffer[] = [];
  let held: (() => void) | undefined;
  try {
    for await (const ev of ex.events()) {
      if (ev.type === 'data') {
        got.push(Buffer.from(ev.chunk));
        if (!held && ev.release) {
          // Keep the first chunk for 4 timeouts' worth: the ring fills and the socket pauses.
          held = ev.release;
          setTimeout(() => held!(), 600);
        } else ev.release?.();
      }
      expect(ev.type).not.toBe('error');
    }
  } finally {
    ex.close();
  }
  expect(Buffer.concat(got).equals(rep.body)).toBe(true);
  // Pausing and resuming restart the timer; they never add a listener each time.
  expect(ex.socket.listenerCount('timeout')).toBe(1);
});

test('a restart while the hash worker still reads the old prefix: a fresh hash, the right file', async () => {
  const { OutputFile } = await import('../../packages/client/src/output-file.js');
  const p = path.join(tmp.dir, 'prefix.bin');
  fs.writeFileSync(p, '');
  fs.truncateSync(p, 256 * 1024 * 1024); // a sparse 256 MiB prefix: the worker needs a while to read it
  const f = await OutputFile.open(p);
  try {
    await f.hashInWorker();
    await f.truncate();
    await f.append(Buffer.from('fresh start'));
    await f.flush();
    expect(await f.digest()).toBe(createHash('sha256').update('fresh start').digest('hex'));
    expect(fs.readFileSync(p, 'utf8')).toBe('fresh start');
  } finally {
    await f.close();
  }
});

test('a read buffer too small to read into is a usage error', async () => {
  await expect(download({ target: 'http://127.0.0.1:9/x', output: path.join(tmp.dir, 'x'), readBufferBytes: 3 })).rejects.toMatchObject({ code: 'MOBGET_USAGE' });
});
