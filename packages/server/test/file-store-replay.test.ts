/**
 * FileStore replay against the live store: every case writes, closes (or
 * leaves the log as a SIGKILL would), reopens, and compares what the
 * reopened store holds with what the live one said, order included.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStore, type FileStoreOptions } from '../src/ledger/file-store.js';
import { decodeRecords } from '../src/ledger/record-codec.js';
import { MAX_TICKET, SessionTable, type ClientEntryView } from '../src/ledger/session-table.js';

const id = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
const V = { offset: 0, size: 1000, etag: '"v"' };

/** The table behind a store: every client with its files, lists in LRU order. */
function view(store: FileStore): ClientEntryView[] {
  return [...(store as unknown as { table: SessionTable }).table.entries()];
}
function tableOf(store: FileStore): SessionTable {
  return (store as unknown as { table: SessionTable }).table;
}

describe('FileStore replay rebuilds what the live store had', () => {
  let dir: string;
  const open: FileStore[] = [];
  const t0 = Date.now();

  async function openAt(options: Partial<FileStoreOptions> = {}): Promise<FileStore> {
    const s = await FileStore.open({ dir, ...options });
    open.push(s);
    return s;
  }
  /** Closes `store` and opens the directory again with the same limits. */
  async function reopen(store: FileStore, options: Partial<FileStoreOptions>): Promise<FileStore> {
    await store.close();
    return openAt(options);
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mobserve-replay-'));
  });

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a client that begins its first download in the batch that creates another is not evicted by replay (review #1)', async () => {
    const opts = { maxClients: 2, now: t0 };
    const store = await openAt(opts);
    await store.createClient(id(1), t0);
    await store.beginTransfer(id(1), 'f', V, t0);
    await store.createClient(id(2), t0 + 1);
    await store.beginTransfer(id(2), 'f', V, t0 + 1);
    // One batch: 3 is created and begins a download, then 4 is created.
    const c3 = store.createClient(id(3), t0 + 2);
    await store.beginTransfer(id(3), 'f', V, t0 + 2);
    const c4 = store.createClient(id(4), t0 + 3);
    await Promise.all([c3, c4]);
    const live = view(store);
    expect(live.map((e) => e.id).sort()).toEqual([id(3), id(4)]);
    const again = await reopen(store, opts);
    expect(view(again)).toEqual(live);
  });

  it('clients expired by a sweep do not count against maxClients in replay (review #2)', async () => {
    const opts = { ttlMs: 1000, maxClients: 2 };
    const store = await openAt({ ...opts, now: t0 });
    await store.createClient(id(1), t0);
    await store.beginTransfer(id(1), 'f', V, t0);
    store.flush(); // 1's download is in the log before it expires
    expect(await store.sweep(t0 + 5000)).toBe(1);
    await store.createClient(id(2), t0 + 5000);
    await store.createClient(id(3), t0 + 5000);
    const live = view(store);
    expect(live.map((e) => e.id)).toEqual([id(2), id(3)]);
    const again = await reopen(store, { ...opts, now: t0 + 5000 });
    expect(view(again)).toEqual(live);
  });

  it('a client expired at touch time is logged as gone too', async () => {
    const opts = { ttlMs: 1000, maxClients: 2 };
    const store = await openAt({ ...opts, now: t0 });
    await store.createClient(id(1), t0);
    await store.beginTransfer(id(1), 'f', V, t0);
    expect(await store.touchClient(id(1), t0 + 5000)).toBe(false);
    await store.createClient(id(2), t0 + 5000);
    await store.beginTransfer(id(2), 'f', V, t0 + 5000);
    await store.createClient(id(3), t0 + 5000);
    const live = view(store);
    expect(live.map((e) => e.id)).toEqual([id(3), id(2)]);
    const again = await reopen(store, { ...opts, now: t0 + 5000 });
    expect(view(again)).toEqual(live);
    const types = decodeRecords(fs.readFileSync(path.join(dir, 'ledger.log'))).list.map((r) => r.type);
    expect(types).toContain('drop');
  });

  it('touches and first downloads in one batch keep their order: the used list survives as it was', async () => {
    const opts = { maxClients: 10, now: t0 };
    const store = await openAt(opts);
    for (let i = 1; i <= 3; i++) await store.createClient(id(i), t0);
    await store.beginTransfer(id(1), 'f', V, t0);
    // One batch: 2 becomes used, 1 is touched, 3 becomes used, 2 is touched.
    await store.beginTransfer(id(2), 'f', V, t0 + 1);
    await store.touchClient(id(1), t0 + 2);
    await store.beginTransfer(id(3), 'f', V, t0 + 3);
    await store.touchClient(id(2), t0 + 4);
    // And a client created, begun and touched again in the same batch.
    const c4 = store.createClient(id(4), t0 + 5);
    await store.beginTransfer(id(4), 'f', V, t0 + 5);
    await store.touchClient(id(1), t0 + 6);
    await store.touchClient(id(4), t0 + 7);
    await c4;
    const live = view(store);
    expect(live.map((e) => e.id)).toEqual([id(3), id(2), id(1), id(4)]);
    expect(view(await reopen(store, opts))).toEqual(live);
  });

  // A model check: random operations in random batches, then close and
  // reopen; the reopened table must equal the live one, LRU order included.
  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('random batches (seed %i): replay equals the live table', async (seed) => {
    let x = seed * 2654435761;
    const rnd = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    const limits = { ttlMs: 60, maxClients: 3 };
    let now = t0;
    const store = await openAt({ ...limits, now, flushDelayMs: 60_000 });
    const tickets = new Map<string, number>();
    const waiting: Array<Promise<void>> = [];
    for (let step = 0; step < 250; step++) {
      now += rnd(4) === 0 ? rnd(40) : 0;
      const c = id(rnd(6));
      const file = `f${rnd(2)}`;
      switch (rnd(8)) {
        case 0:
        case 1:
          waiting.push(store.createClient(c, now));
          break;
        case 2:
        case 3:
          await store.touchClient(c, now);
          break;
        case 4: {
          const t = await store.beginTransfer(c, file, { ...V, offset: rnd(100) }, now);
          if (t) tickets.set(`${c} ${file}`, t);
          break;
        }
        case 5:
          await store.recordProgress(c, file, tickets.get(`${c} ${file}`) ?? 1, rnd(1000), now);
          break;
        case 6:
          await store.sweep(now);
          break;
        default:
          store.flush();
      }
    }
    await store.sweep(now);
    const live = view(store);
    const again = await reopen(store, { ...limits, now });
    await Promise.all(waiting);
    expect(view(again)).toEqual(live);
  });

  it('creating an existing id forgets its files, live and in replay alike (review #9)', async () => {
    const store = await openAt({ now: t0 });
    await store.createClient(id(1), t0);
    await store.beginTransfer(id(1), 'f', V, t0);
    store.flush(); // the download is in the log
    await store.createClient(id(1), t0 + 1);
    const live = view(store);
    expect(live).toEqual([{ id: id(1), lastSeen: t0 + 1, used: false, files: [] }]);
    expect(view(await reopen(store, { now: t0 + 1 }))).toEqual(live);
  });

  it('a log as a SIGKILL leaves it (no close) replays to the live state', async () => {
    const opts = { maxClients: 2, now: t0 };
    const store = await openAt(opts);
    for (let i = 1; i <= 5; i++) {
      await store.createClient(id(i), t0 + i);
      if (i % 2) await store.beginTransfer(id(i), 'f', V, t0 + i);
    }
    store.flush();
    const live = view(store);
    // Copy the directory as it is on disk now, lock and all (a dead owner).
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'mobserve-replay-kill-'));
    try {
      fs.copyFileSync(path.join(dir, 'ledger.log'), path.join(copy, 'ledger.log'));
      const again = await FileStore.open({ dir: copy, ...opts });
      expect(view(again)).toEqual(live);
      await again.close();
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('recordProgress with an offset that is not a byte count is refused at the call, and the log stays good (review #3)', async () => {
    const store = await openAt({ now: t0 });
    await store.createClient(id(1), t0);
    const t = await store.beginTransfer(id(1), 'f', V, t0);
    await expect(store.recordProgress(id(1), 'f', t, 10.5, t0)).rejects.toThrow(RangeError);
    await expect(store.recordProgress(id(1), 'f', t, -1, t0)).rejects.toThrow(RangeError);
    await expect(store.recordProgress(id(1), 'f', t, Number.NaN, t0)).rejects.toThrow(RangeError);
    expect(await store.recordProgress(id(1), 'f', t, 10, t0)).toBe(true);
    expect(() => store.flush()).not.toThrow();
    expect(store.lastError).toBeUndefined();
    const again = await reopen(store, {});
    expect(again.recovery.problem).toBe('none');
    expect(await again.getProgress(id(1), 'f')).toEqual({ ...V, offset: 10, ticket: t });
  });

  it('a path too long for the log is refused by beginTransfer before anything changes', async () => {
    const store = await openAt({ now: t0 });
    await store.createClient(id(1), t0);
    await expect(store.beginTransfer(id(1), 'p'.repeat(70_000), V, t0)).rejects.toThrow(RangeError);
    expect(await store.counts()).toEqual({ clients: 1, files: 0 });
    expect(() => store.flush()).not.toThrow();
    expect(store.lastError).toBeUndefined();
  });

  it('a log of many ADVANCE frames does not reserve file slots for them at open (review #7)', async () => {
    const store = await openAt({ now: t0, flushDelayMs: 60_000 });
    await Promise.all([store.createClient(id(1), t0), Promise.resolve(store.flush())]);
    const t = await store.beginTransfer(id(1), 'f', { ...V, size: 1e9 }, t0);
    for (let i = 1; i <= 3000; i++) {
      await store.recordProgress(id(1), 'f', t, i * 1000, t0);
      store.flush();
    }
    const again = await reopen(store, { now: t0 });
    expect(fs.statSync(path.join(dir, 'ledger.log')).size).toBeGreaterThan(3000 * 20);
    expect(await again.counts()).toEqual({ clients: 1, files: 1 });
    const cap = tableOf(again).capacity;
    expect(cap.files).toBeLessThanOrEqual(128);
    expect(cap.clients).toBeLessThanOrEqual(128);
  });

  it('tickets saturate at 2^32 - 1 instead of wrapping, live and after a snapshot and reopen (review #8)', async () => {
    const store = await openAt({ now: t0 });
    await store.createClient(id(1), t0);
    const table = tableOf(store);
    // Put the entry one below the top, as 4 billion transfers would.
    await store.beginTransfer(id(1), 'f', V, t0);
    const slot = [...table.entries()][0]!;
    expect(slot.files).toHaveLength(1);
    table.putSlot(table.listHead(2), 'f', V.etag, 0, V.size, MAX_TICKET - 1);
    expect(await store.beginTransfer(id(1), 'f', V, t0)).toBe(MAX_TICKET);
    expect(await store.beginTransfer(id(1), 'f', V, t0)).toBe(MAX_TICKET);
    expect((await store.getProgress(id(1), 'f'))?.ticket).toBe(MAX_TICKET);
    expect(await store.recordProgress(id(1), 'f', MAX_TICKET, 7, t0)).toBe(true);
    store.compact();
    const again = await reopen(store, {});
    expect(await again.getProgress(id(1), 'f')).toEqual({ ...V, offset: 7, ticket: MAX_TICKET });
  });
});
