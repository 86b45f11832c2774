/**
 * FileStore when the disk fails it: a batch written in part (ENOSPC), a
 * batch whose encoding throws, a snapshot that cannot be written, close()
 * after a failed write. node:fs is wrapped so single calls can be made to
 * fail; everything else goes to the real file system. Each case reopens the
 * directory and compares it with what the live store said.
 */
import * as os from 'node:os';
import * as path from 'node:path';

jest.mock('node:fs', () => {
  const real = jest.requireActual<typeof import('node:fs')>('node:fs');
  return {
    ...real,
    writeSync: jest.fn(real.writeSync),
    ftruncateSync: jest.fn(real.ftruncateSync),
    openSync: jest.fn(real.openSync),
  };
});

import * as fs from 'node:fs';
import { FileStore } from '../src/ledger/file-store.js';
import { FrameWriter } from '../src/ledger/record-codec.js';
import type { SessionTable } from '../src/ledger/session-table.js';

const realFs = jest.requireActual<typeof import('node:fs')>('node:fs');
const writeSync = fs.writeSync as unknown as jest.Mock;
const ftruncateSync = fs.ftruncateSync as unknown as jest.Mock;
const openSync = fs.openSync as unknown as jest.Mock;

const id = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
const V = { offset: 0, size: 1_000_000, etag: '"v"' };

function enospc(): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error('ENOSPC: no space left on device, write');
  e.code = 'ENOSPC';
  return e;
}

function view(store: FileStore): unknown[] {
  return [...(store as unknown as { table: SessionTable }).table.entries()];
}

describe('FileStore under write failures', () => {
  let dir: string;
  const open: FileStore[] = [];
  const t0 = Date.now();

  async function openAt(options: { compactMinBytes?: number } = {}): Promise<FileStore> {
    const s = await FileStore.open({ dir, now: t0, flushDelayMs: 60_000, ...options });
    open.push(s);
    return s;
  }

  beforeEach(() => {
    dir = realFs.mkdtempSync(path.join(os.tmpdir(), 'mobserve-faults-'));
  });

  afterEach(async () => {
    writeSync.mockImplementation(realFs.writeSync);
    ftruncateSync.mockImplementation(realFs.ftruncateSync);
    openSync.mockImplementation(realFs.openSync);
    for (const s of open.splice(0)) await s.close().catch(() => undefined);
    realFs.rmSync(dir, { recursive: true, force: true });
  });

  /** The next write puts half of its bytes in the file, then fails with ENOSPC. */
  function tearNextWrite(): void {
    writeSync.mockImplementationOnce((fd: number, buf: Buffer, off: number, len: number) => realFs.writeSync(fd, buf, off, Math.max(1, len >> 1)));
    writeSync.mockImplementationOnce(() => {
      throw enospc();
    });
  }

  it('a batch written in part is cut off before the retry: batches after a disk-full episode survive the next open (review #4)', async () => {
    const store = await openAt();
    const created = store.createClient(id(1), t0);
    store.flush();
    await created;
    const t = await store.beginTransfer(id(1), 'a', V, t0);
    await store.recordProgress(id(1), 'a', t, 500, t0);
    tearNextWrite();
    store.flush();
    expect(store.lastError).toMatchObject({ code: 'ENOSPC' });
    // Space again: the retry writes the batch whole, and later ones follow it.
    store.flush();
    expect(store.lastError).toBeUndefined();
    const c2 = store.createClient(id(2), t0 + 1);
    store.flush();
    await c2;
    await store.beginTransfer(id(2), 'b', V, t0 + 1);
    const live = view(store);
    await store.close();
    const again = await openAt();
    expect(again.recovery).toMatchObject({ problem: 'none', discardedBytes: 0 });
    expect(view(again)).toEqual(live);
  });

  it('when the torn batch cannot be cut either, the next write is a whole snapshot', async () => {
    const store = await openAt();
    const created = store.createClient(id(1), t0);
    store.flush();
    await created;
    await store.beginTransfer(id(1), 'a', V, t0);
    tearNextWrite();
    ftruncateSync.mockImplementationOnce(() => {
      throw enospc();
    });
    store.flush();
    expect(store.lastError).toMatchObject({ code: 'ENOSPC' });
    store.flush();
    expect(store.lastError).toBeUndefined();
    const c2 = store.createClient(id(2), t0 + 1);
    store.flush();
    await c2;
    const live = view(store);
    await store.close();
    const again = await openAt();
    expect(again.recovery).toMatchObject({ problem: 'none', discardedBytes: 0 });
    expect(view(again)).toEqual(live);
  });

  it('an exception while a batch is encoded leaves no half frame behind, and does not escape the timer (review #3)', async () => {
    const store = await openAt();
    const created = store.createClient(id(1), t0);
    store.flush();
    await created;
    const t = await store.beginTransfer(id(1), 'a', V, t0);
    store.flush();
    await store.recordProgress(id(1), 'a', t, 700, t0);
    // The ADVANCE frame is opened, half written, then encoding throws.
    const advance = jest.spyOn(FrameWriter.prototype, 'advance').mockImplementationOnce(function (this: FrameWriter, idBytes, at) {
      (this as unknown as { open(kind: number, n: number): void }).open(3, 64);
      (this as unknown as { id(b: Uint8Array, at: number): void }).id(idBytes, at);
      throw new RangeError('boom');
    });
    try {
      expect(() => store.flush()).not.toThrow();
    } finally {
      advance.mockRestore();
    }
    expect(store.lastError).toBeInstanceOf(RangeError);
    const c2 = store.createClient(id(2), t0 + 1);
    store.flush();
    await c2;
    expect(store.lastError).toBeUndefined();
    const live = view(store);
    await store.close();
    const again = await openAt();
    expect(again.recovery).toMatchObject({ problem: 'none', discardedBytes: 0 });
    expect(view(again)).toEqual(live);
    expect((await again.getProgress(id(1), 'a'))?.offset).toBe(700);
  });

  /** Paths a, b in the log (0, 1); 1 expires, c takes the table's index 0 but is 2 in the log. */
  async function dictionariesApart(): Promise<FileStore> {
    const store = await openAt();
    const c1 = store.createClient(id(1), t0);
    const c2 = store.createClient(id(2), t0 + 5000);
    store.flush();
    await Promise.all([c1, c2]);
    await store.beginTransfer(id(1), 'a', V, t0);
    await store.beginTransfer(id(2), 'b', V, t0 + 5000);
    store.flush();
    await store.sweep(t0 + 24 * 3600_000 + 1); // 1 expires (default TTL), 2 does not
    await store.beginTransfer(id(2), 'c', V, t0 + 5000);
    store.flush();
    return store;
  }

  it('a snapshot that cannot be written leaves the old log and its dictionaries in use (review #5)', async () => {
    const store = await dictionariesApart();
    openSync.mockImplementationOnce(() => {
      throw enospc();
    });
    expect(() => store.compact()).toThrow('ENOSPC');
    // A new client with path c: its BEGIN must use the log's index of c.
    const c3 = store.createClient(id(3), t0 + 5000);
    store.flush();
    await c3;
    await store.beginTransfer(id(3), 'c', V, t0 + 5000);
    store.flush();
    expect(realFs.existsSync(path.join(dir, 'ledger.log.tmp'))).toBe(false);
    const live = view(store);
    await store.close();
    const again = await openAt();
    expect(again.recovery).toMatchObject({ problem: 'none', discardedBytes: 0 });
    expect(view(again)).toEqual(live);
  });

  it('a compaction that fails inside flush (the timer) does not throw; the batch is kept', async () => {
    const store = await openAt({ compactMinBytes: 0 });
    const created = store.createClient(id(1), t0);
    store.flush();
    await created;
    const t = await store.beginTransfer(id(1), 'a', V, t0);
    store.flush();
    // Enough ADVANCE frames to make the log four times a snapshot: the next flush compacts.
    let failedSnapshots = 0;
    openSync.mockImplementation((p: fs.PathLike, ...rest: unknown[]) => {
      if (String(p).endsWith('.tmp')) {
        failedSnapshots++;
        throw enospc();
      }
      return (realFs.openSync as (...a: unknown[]) => number)(p, ...rest);
    });
    for (let i = 1; i <= 80; i++) {
      await store.recordProgress(id(1), 'a', t, i, t0);
      expect(() => store.flush()).not.toThrow();
    }
    expect(failedSnapshots).toBeGreaterThan(0);
    expect(store.lastError).toMatchObject({ code: 'ENOSPC' });
    openSync.mockImplementation(realFs.openSync);
    const live = view(store);
    await store.close().catch(() => undefined);
    const again = await openAt();
    expect(view(again)).toEqual(live);
    expect((await again.getProgress(id(1), 'a'))?.offset).toBe(80);
  });

  it('close() after a failed last write rejects with the error, clears the retry timer and releases the lock (review #6)', async () => {
    const store = await openAt();
    const created = store.createClient(id(1), t0);
    store.flush();
    await created;
    await store.beginTransfer(id(1), 'a', V, t0);
    writeSync.mockImplementation(() => {
      throw enospc();
    });
    await expect(store.close()).rejects.toMatchObject({ code: 'ENOSPC' });
    expect((store as unknown as { timer: unknown }).timer).toBeUndefined();
    expect(realFs.existsSync(path.join(dir, 'lock'))).toBe(false);
    await expect(store.close()).resolves.toBeUndefined();
  });

  it('a createClient waiting on a batch that fails is rejected, and the server-side timer retries later', async () => {
    const store = await openAt();
    writeSync.mockImplementationOnce(() => {
      throw enospc();
    });
    const created = store.createClient(id(1), t0);
    store.flush();
    await expect(created).rejects.toMatchObject({ code: 'ENOSPC' });
    expect((store as unknown as { timer: unknown }).timer).toBeDefined();
    store.flush();
    expect(store.lastError).toBeUndefined();
    const live = view(store);
    await store.close();
    expect(view(await openAt())).toEqual(live);
  });
});
