/**
 * FileCatalog: the contents it holds in memory, on real files. What it holds
 * is the file's bytes, hashed from those bytes; it stays within its bounds
 * (per file and in all), drops the least recently used first, and a
 * replaced file is never served under the other version's validators.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { FileCatalog, type CatalogLimits, type Lookup, type Representation } from '../src/files/file-catalog.js';

let dir: string;
const catalogs: FileCatalog[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mobserve-catalog-'));
});
afterEach(() => {
  for (const c of catalogs.splice(0)) c.closeAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

function catalog(limits: Partial<CatalogLimits> = {}): FileCatalog {
  const c = new FileCatalog(dir, limits);
  catalogs.push(c);
  return c;
}

function put(name: string, bytes: Buffer): Buffer {
  fs.writeFileSync(path.join(dir, name), bytes);
  return bytes;
}

async function open(c: FileCatalog, name: string): Promise<Representation> {
  const found: Lookup = await c.open([name]);
  if (!found.ok) throw new Error(`${name}: ${found.error.code}`);
  return found.rep;
}

const digestOf = (b: Buffer): string => `sha-256=:${createHash('sha256').update(b).digest('base64')}:`;

test('a small file is held whole: its bytes are the file, its digest is theirs', async () => {
  const data = put('a.bin', randomBytes(100_352));
  const c = catalog();
  const rep = await open(c, 'a.bin');
  expect(rep.bytes?.equals(data)).toBe(true);
  expect(rep.reprDigest).toBe(digestOf(data));
  rep.release();
  expect(c.stats()).toEqual({ openFiles: 1, cachedFiles: 1, cachedBytes: data.length });
});

test('a file above maxCachedFile is not held: it is read from its descriptor', async () => {
  const data = put('big.bin', randomBytes(4096 + 1));
  const c = catalog({ maxCachedFile: 4096 });
  const rep = await open(c, 'big.bin');
  expect(rep.bytes).toBeUndefined();
  const back = Buffer.alloc(data.length);
  fs.readSync(rep.handle.fd, back, 0, data.length, 0);
  expect(back.equals(data)).toBe(true);
  expect(rep.reprDigest).toBe(digestOf(data));
  rep.release();
  expect(c.stats().cachedBytes).toBe(0);
});

test('the contents held never exceed maxCachedBytes; the least recently used lose theirs first', async () => {
  const files = ['1', '2', '3', '4'].map((n) => [n, put(`${n}.bin`, randomBytes(40_000))] as const);
  // revalidateMs 0: every use is checked and moves the file to the end of
  // the LRU order (inside the window a use keeps the place of the last check).
  const c = catalog({ maxCachedBytes: 100_000, revalidateMs: 0 });
  for (const [n] of files.slice(0, 2)) (await open(c, `${n}.bin`)).release();
  // 1 is used again: now 2 is the least recently used.
  (await open(c, '1.bin')).release();
  (await open(c, '3.bin')).release();
  expect(c.stats().cachedBytes).toBeLessThanOrEqual(100_000);
  expect(c.stats().cachedFiles).toBe(2);
  // 2 lost its bytes, 1 and 3 kept theirs, and each is still served
  // correctly (2 comes back into memory when asked for again, evicting the
  // least recently used in its turn: see the next test).
  for (const [n, data] of files.slice(0, 3)) {
    const rep = await open(c, `${n}.bin`);
    const back = rep.bytes ?? Buffer.alloc(data.length);
    if (!rep.bytes) fs.readSync(rep.handle.fd, back, 0, data.length, 0);
    expect(back.equals(data)).toBe(true);
    rep.release();
  }
  (await open(c, '4.bin')).release();
  expect(c.stats().cachedBytes).toBeLessThanOrEqual(100_000);
});

test('a file pushed out of memory comes back when asked for again, at most once per window', async () => {
  const data = ['0', '1', '2', '3', '4'].map((n) => put(`${n}.bin`, randomBytes(40_000)));
  const c = catalog({ maxCachedBytes: 120_000, revalidateMs: 50 });
  for (let i = 0; i < 5; i++) (await open(c, `${i}.bin`)).release();
  // Only three fit: 0 and 1 lost their bytes.
  expect(c.stats().cachedFiles).toBe(3);
  let rep = await open(c, '0.bin');
  // Inside the window after the drop: served from its descriptor.
  expect(rep.bytes).toBeUndefined();
  rep.release();
  await new Promise((r) => setTimeout(r, 60));
  rep = await open(c, '0.bin');
  // Asked for again after the window: read back into memory, whole and right.
  expect(rep.bytes?.equals(data[0]!)).toBe(true);
  expect(rep.reprDigest).toBe(digestOf(data[0]!));
  rep.release();
  // The budget still holds: the least recently used (2) made room.
  expect(c.stats().cachedBytes).toBeLessThanOrEqual(120_000);
  expect(c.stats().cachedFiles).toBe(3);
});

test('at most maxOpenFiles entries are kept, with their contents', async () => {
  const c = catalog({ maxOpenFiles: 3 });
  for (let i = 0; i < 10; i++) {
    put(`${i}.bin`, randomBytes(1000));
    (await open(c, `${i}.bin`)).release();
  }
  expect(c.stats()).toEqual({ openFiles: 3, cachedFiles: 3, cachedBytes: 3000 });
});

test('a lease keeps the bytes it was given after the entry drops them', async () => {
  const a = put('a.bin', randomBytes(60_000));
  put('b.bin', randomBytes(60_000));
  const c = catalog({ maxCachedBytes: 100_000 });
  const held = await open(c, 'a.bin');
  (await open(c, 'b.bin')).release();
  expect(c.stats().cachedFiles).toBe(1);
  expect(held.bytes?.equals(a)).toBe(true);
  held.release();
});

test('replaced by rename: the next look after the revalidation window is the new version, bytes and digest together', async () => {
  const v1 = put('r.bin', randomBytes(10_000));
  const c = catalog({ revalidateMs: 0 });
  const a = await open(c, 'r.bin');
  const v2 = randomBytes(10_000);
  fs.writeFileSync(path.join(dir, 'r.tmp'), v2);
  fs.renameSync(path.join(dir, 'r.tmp'), path.join(dir, 'r.bin'));
  const b = await open(c, 'r.bin');
  // The older lease still holds the old version, whole, with its own digest.
  expect(a.bytes?.equals(v1)).toBe(true);
  expect(a.reprDigest).toBe(digestOf(v1));
  expect(b.bytes?.equals(v2)).toBe(true);
  expect(b.reprDigest).toBe(digestOf(v2));
  expect(b.etag).not.toBe(a.etag);
  a.release();
  b.release();
  expect(c.stats()).toEqual({ openFiles: 1, cachedFiles: 1, cachedBytes: 10_000 });
});

test('inside the revalidation window a held version is a snapshot: the same bytes and validators, then the new version', async () => {
  const v1 = put('w.bin', randomBytes(10_000));
  const c = catalog({ revalidateMs: 200 });
  const a = await open(c, 'w.bin');
  const v2 = randomBytes(10_000);
  fs.writeFileSync(path.join(dir, 'w.bin'), v2);
  const b = await open(c, 'w.bin');
  expect(b.bytes?.equals(v1)).toBe(true);
  expect(b.etag).toBe(a.etag);
  await new Promise((r) => setTimeout(r, 250));
  const d = await open(c, 'w.bin');
  expect(d.bytes?.equals(v2)).toBe(true);
  expect(d.reprDigest).toBe(digestOf(v2));
  for (const r of [a, b, d]) r.release();
});

test('requests that arrive while a file is opened share one open', async () => {
  const data = put('s.bin', randomBytes(20_000));
  const c = catalog();
  const reps = await Promise.all(Array.from({ length: 20 }, () => open(c, 's.bin')));
  expect(new Set(reps.map((r) => r.handle)).size).toBe(1);
  for (const r of reps) {
    expect(r.bytes?.equals(data)).toBe(true);
    r.release();
  }
});
