/**
 * FileStore: the contract, then what only a file can get wrong: crash
 * recovery of a torn log, the one-process lock, durability of a new client
 * id before it is handed out, group commit, snapshots, replay, and the
 * migration of a first-format (MOBLEDG1) ledger.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { FileStore, StoreLockedError, type FileStoreOptions } from '../src/ledger/file-store.js';
import { decodeRecords, encodeRecord, MAGIC, type LedgerRecord } from '../src/ledger/record-codec.js';
import { encodeRecord as encodeV1, MAGIC_V1 } from '../src/ledger/record-codec-v1.js';
import { InvalidClientIdError } from '../src/ledger/session-table.js';
import { progressStoreContract } from './progress-store.contract.js';

const A = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const B = '6ba7b810-9dad-41d1-80b4-00c04fd430c8';
const V1 = { size: 1000, etag: '"v1"' };

/** The log's dictionary index of a path, from its PATH frame. */
function pathIndex(list: LedgerRecord[], text: string): number {
  const def = list.find((r) => r.type === 'path' && r.text === text);
  if (!def || def.type !== 'path') throw new Error(`no PATH frame for ${text}`);
  return def.index;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mobserve-ledger-'));
}

progressStoreContract('FileStore', async (opts) => {
  const dir = tempDir();
  const opened: FileStore[] = [];
  const openStore = async (): Promise<FileStore> => {
    const s = await FileStore.open({ dir, ...opts });
    opened.push(s);
    return s;
  };
  const store = await openStore();
  return {
    store,
    reopen: openStore,
    cleanup: async () => {
      for (const s of opened) await s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}, { nonUuidIds: 'refused' });

describe('FileStore', () => {
  let dir: string;
  const open: FileStore[] = [];
  const now = Date.now();

  async function openAt(options: Partial<FileStoreOptions> = {}): Promise<FileStore> {
    const s = await FileStore.open({ dir, ...options });
    open.push(s);
    return s;
  }

  const logPath = () => path.join(dir, 'ledger.log');
  const lockPath = () => path.join(dir, 'lock');

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** One client with two files; returns after close. */
  async function seed(): Promise<void> {
    const store = await openAt();
    await store.createClient(A, now);
    const t1 = await store.beginTransfer(A, 'one.bin', { offset: 0, ...V1 }, now);
    await store.recordProgress(A, 'one.bin', t1, 250, now + 1);
    const t2 = await store.beginTransfer(A, 'two.bin', { offset: 0, ...V1 }, now + 2);
    await store.recordProgress(A, 'two.bin', t2, 10, now + 3);
    store.flush();
    await store.recordProgress(A, 'two.bin', t2, 20, now + 4);
    await store.close();
  }

  it('describes itself by its directory', async () => {
    const store = await openAt();
    expect(store.description).toBe(`file:${path.resolve(dir)}`);
  });

  it('a fresh directory recovers nothing and reports no problem', async () => {
    const store = await openAt();
    expect(store.recovery).toEqual({ records: 0, discardedBytes: 0, problem: 'none' });
    expect(fs.existsSync(logPath())).toBe(true);
  });

  it('reopen after close keeps sessions and reports a clean log', async () => {
    await seed();
    const store = await openAt();
    expect(store.recovery.problem).toBe('none');
    expect(store.recovery.discardedBytes).toBe(0);
    expect(store.recovery.records).toBeGreaterThanOrEqual(3);
    expect(await store.counts()).toEqual({ clients: 1, files: 2 });
    expect((await store.getProgress(A, 'one.bin'))?.offset).toBe(250);
    expect((await store.getProgress(A, 'two.bin'))?.offset).toBe(20);
    expect(await store.touchClient(A, now + 5)).toBe(true);
  });

  it('writes after a reopen go after what was there, torn tail or not: a third open sees everything', async () => {
    await seed();
    const tails = [Buffer.alloc(0), encodeRecord({ type: 'seen', clientId: A, time: now }).subarray(0, 7)];
    for (const [i, tail] of tails.entries()) {
      fs.appendFileSync(logPath(), tail);
      const store = await openAt();
      const c = `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`;
      await store.createClient(c, now);
      await store.beginTransfer(c, 'three.bin', { offset: 3, ...V1 }, now);
      await store.close();
    }
    const again = await openAt();
    expect(again.recovery.problem).toBe('none');
    expect(await again.counts()).toEqual({ clients: 3, files: 4 });
    expect((await again.getProgress(A, 'two.bin'))?.offset).toBe(20);
    for (const c of ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002']) {
      expect(await again.getProgress(c, 'three.bin')).toEqual({ offset: 3, ...V1, ticket: 1 });
    }
  });

  describe('torn tail (crash mid-write)', () => {
    it.each<[string, () => Buffer]>([
      ['half of a frame', () => encodeRecord({ type: 'seen', clientId: B, time: now }).subarray(0, 13)],
      ['just the kind byte of a frame', () => encodeRecord({ type: 'seen', clientId: B, time: now }).subarray(0, 1)],
      ['zeros (the file grew, its data never came)', () => Buffer.alloc(40)],
      ['garbage', () => Buffer.from('\x00\x00\x00\x05garbage!')],
      ['a frame with a bad CRC', () => {
        const f = Buffer.from(encodeRecord({ type: 'seen', clientId: B, time: now }));
        f[f.length - 1] = f[f.length - 1]! ^ 0xff;
        return f;
      }],
    ])('appended %s: discarded, reported, earlier records kept', async (_name, tail) => {
      await seed();
      const bytes = tail();
      fs.appendFileSync(logPath(), bytes);
      const store = await openAt();
      expect(store.recovery.discardedBytes).toBe(bytes.length);
      expect(['torn-frame', 'bad-crc']).toContain(store.recovery.problem);
      expect(await store.counts()).toEqual({ clients: 1, files: 2 });
      expect(await store.touchClient(B, now)).toBe(false);
      expect((await store.getProgress(A, 'two.bin'))?.offset).toBe(20);
      // the reopened log was rewritten without the tail
      expect(decodeRecords(fs.readFileSync(logPath())).problem).toBe('none');
    });

    it('a log cut inside its last frame loses only that record', async () => {
      await seed();
      const buf = fs.readFileSync(logPath());
      const whole = decodeRecords(buf);
      expect(whole.problem).toBe('none');
      const last = whole.list[whole.list.length - 1];
      // the last batch held one change: an ADVANCE frame of two.bin to 20
      expect(last).toMatchObject({ type: 'advance', path: pathIndex(whole.list, 'two.bin'), offset: 20 });
      fs.truncateSync(logPath(), buf.length - 3);

      const store = await openAt();
      expect(store.recovery.problem).toBe('torn-frame');
      expect(store.recovery.discardedBytes).toBe(encodeRecord(last!).length - 3);
      expect(store.recovery.records).toBe(whole.records - 1);
      // the batch before the torn one survives: 10, not 20
      expect((await store.getProgress(A, 'two.bin'))?.offset).toBe(10);
      expect((await store.getProgress(A, 'one.bin'))?.offset).toBe(250);
    });

    it('a file that is not a ledger is reported as bad-magic', async () => {
      fs.writeFileSync(logPath(), 'not a ledger\n');
      const store = await openAt();
      expect(store.recovery).toEqual({ records: 0, discardedBytes: 13, problem: 'bad-magic' });
      expect(await store.counts()).toEqual({ clients: 0, files: 0 });
    });
  });

  it('clients idle past the TTL are not revived on open', async () => {
    const store = await openAt({ ttlMs: 1000 });
    await store.createClient(A, now);
    await store.createClient(B, now + 5000);
    await store.close();
    const again = await openAt({ ttlMs: 1000, now: now + 5500 });
    expect(await again.touchClient(A, now + 5500)).toBe(false);
    expect(await again.touchClient(B, now + 5500)).toBe(true);
  });

  describe('lock (one process per directory)', () => {
    it('a directory locked by another live process throws StoreLockedError', async () => {
      fs.writeFileSync(lockPath(), String(process.ppid));
      const err = await FileStore.open({ dir }).then(
        (s) => {
          open.push(s);
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreLockedError);
      expect((err as StoreLockedError).code).toBe('STORE_LOCKED');
      // the other process keeps its lock
      expect(fs.readFileSync(lockPath(), 'utf8')).toBe(String(process.ppid));
    });

    it('a stale lock of a dead process is taken over', async () => {
      const child = spawnSync(process.execPath, ['-e', '']);
      expect(child.pid).toBeGreaterThan(0);
      fs.writeFileSync(lockPath(), String(child.pid));
      const store = await openAt();
      expect(fs.readFileSync(lockPath(), 'utf8')).toBe(String(process.pid));
      await store.createClient(A, now);
      expect(await store.touchClient(A, now)).toBe(true);
    });

    it('an unreadable lock (no pid) is taken over', async () => {
      fs.writeFileSync(lockPath(), 'garbage');
      await openAt();
      expect(fs.readFileSync(lockPath(), 'utf8')).toBe(String(process.pid));
    });

    it('the lock is held while open and released on close', async () => {
      const store = await openAt();
      expect(fs.readFileSync(lockPath(), 'utf8')).toBe(String(process.pid));
      await store.close();
      expect(fs.existsSync(lockPath())).toBe(false);
    });
  });

  it('createClient resolves only after the record is on disk', async () => {
    // A long group-commit window: resolving early would leave the file without the id.
    const store = await openAt({ flushDelayMs: 200 });
    const idBytes = Buffer.from(A.replace(/-/g, ''), 'hex');
    expect(fs.readFileSync(logPath()).includes(idBytes)).toBe(false);
    await store.createClient(A, now);
    expect(fs.readFileSync(logPath()).includes(idBytes)).toBe(true);
    expect(decodeRecords(fs.readFileSync(logPath())).list).toContainEqual({ type: 'seen', clientId: A, time: now });
  });

  it('progress queued in the same batch as its client survives a later touch', async () => {
    // Within one batch the touch re-queues A's "seen" record behind its
    // progress; replay must still know A before it reads A's progress.
    const store = await openAt({ flushDelayMs: 50 });
    const created = store.createClient(A, now);
    const ticket = await store.beginTransfer(A, 'x', { offset: 7, ...V1 }, now);
    await store.touchClient(A, now + 1);
    await created;
    await store.close();
    const again = await openAt();
    expect(await again.getProgress(A, 'x')).toEqual({ offset: 7, ...V1, ticket });
  });

  it('compaction keeps the log near the live data and loses nothing', async () => {
    const store = await openAt({ compactMinBytes: 512 });
    await store.createClient(A, now);
    const ticket = await store.beginTransfer(A, 'big.bin', { offset: 0, size: 1_000_000, etag: '"v1"' }, now);
    for (let i = 1; i <= 500; i++) {
      await store.recordProgress(A, 'big.bin', ticket, i * 1000, now + i);
      store.flush();
    }
    expect(fs.statSync(logPath()).size).toBeLessThan(4 * 512);
    await store.close();
    const again = await openAt();
    expect(again.recovery.problem).toBe('none');
    expect(await again.getProgress(A, 'big.bin')).toEqual({ offset: 500_000, size: 1_000_000, etag: '"v1"', ticket });
  });

  describe('group commit', () => {
    it('a batch writes one frame per changed (client, path), with the newest state', async () => {
      const store = await openAt({ flushDelayMs: 10_000 });
      await store.createClient(A, now).catch(() => undefined);
      const created = store.createClient(B, now);
      store.flush();
      await created;
      const before = fs.statSync(logPath()).size;
      const ticket = await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, now);
      for (let i = 1; i <= 100; i++) await store.recordProgress(A, 'x', ticket, i * 7, now);
      await store.touchClient(B, now + 1);
      await store.touchClient(A, now + 2);
      store.flush();
      const added = decodeRecords(Buffer.concat([MAGIC, fs.readFileSync(logPath()).subarray(before)])).list;
      // In operation order: one BEGIN holding the last offset (the path and
      // ETag defined once before it), then the SEEN frames in the order last
      // seen (B, then A).
      expect(added.map((r) => r.type)).toEqual(['path', 'etag', 'begin', 'seen', 'seen']);
      expect(added.slice(3)).toEqual([
        { type: 'seen', clientId: B, time: now + 1 },
        { type: 'seen', clientId: A, time: now + 2 },
      ]);
      expect(added[2]).toMatchObject({ type: 'begin', clientId: A, offset: 700, ticket });
    });
  });

  describe('replay', () => {
    it('tickets: newest wins, an ADVANCE of an older ticket moves nothing', async () => {
      await seed();
      const list = decodeRecords(fs.readFileSync(logPath())).list;
      const one = pathIndex(list, 'one.bin');
      const etag = list.find((r) => r.type === 'etag')!;
      if (etag.type !== 'etag') throw new Error('no ETag frame');
      fs.appendFileSync(
        logPath(),
        Buffer.concat([
          encodeRecord({ type: 'begin', clientId: A, path: one, etag: etag.index, size: 1000, offset: 300, ticket: 2 }),
          encodeRecord({ type: 'advance', clientId: A, path: one, offset: 999, ticket: 1 }),
          encodeRecord({ type: 'advance', clientId: A, path: one, offset: 400, ticket: 2 }),
          // progress of a client the ledger never saw is dropped
          encodeRecord({ type: 'begin', clientId: B, path: one, etag: etag.index, size: 1000, offset: 5, ticket: 1 }),
        ]),
      );
      const store = await openAt();
      expect(store.recovery.problem).toBe('none');
      expect(await store.getProgress(A, 'one.bin')).toEqual({ offset: 400, ...V1, ticket: 2 });
      expect(await store.counts()).toEqual({ clients: 1, files: 2 });
      expect(await store.beginTransfer(A, 'one.bin', { offset: 0, ...V1 }, now)).toBe(3);
    });

    it('a frame naming a path the log never defined is cut as bad-record', async () => {
      await seed();
      const tail = encodeRecord({ type: 'advance', clientId: A, path: 999, offset: 1, ticket: 1 });
      fs.appendFileSync(logPath(), tail);
      const store = await openAt();
      expect(store.recovery).toMatchObject({ problem: 'bad-record', discardedBytes: tail.length });
      expect((await store.getProgress(A, 'two.bin'))?.offset).toBe(20);
    });

    it('a log read in tiny chunks replays exactly as in one piece, torn tail included', async () => {
      await seed();
      const store = await openAt({ compactMinBytes: 0 });
      for (let i = 0; i < 40; i++) await store.createClient(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, now + i);
      store.compact(); // snapshot frames, then log frames after them
      await store.recordProgress(A, 'one.bin', 1, 260, now);
      await store.close();
      fs.appendFileSync(logPath(), encodeRecord({ type: 'seen', clientId: B, time: now }).subarray(0, 20));
      const whole = await openAt();
      const wholeView = { recovery: whole.recovery, counts: await whole.counts(), one: await whole.getProgress(A, 'one.bin') };
      await whole.close();
      fs.appendFileSync(logPath(), encodeRecord({ type: 'seen', clientId: B, time: now }).subarray(0, 20));
      for (const readChunkBytes of [1, 5, 29, 100]) {
        const copy = `${dir}-copy`;
        fs.cpSync(dir, copy, { recursive: true });
        try {
          const s = await FileStore.open({ dir: copy, readChunkBytes });
          expect({ recovery: s.recovery, counts: await s.counts(), one: await s.getProgress(A, 'one.bin') }).toEqual(wholeView);
          await s.close();
        } finally {
          fs.rmSync(copy, { recursive: true, force: true });
        }
      }
      expect(wholeView.one?.offset).toBe(260);
      expect(wholeView.counts).toEqual({ clients: 41, files: 2 });
      expect(wholeView.recovery).toMatchObject({ problem: 'torn-frame', discardedBytes: 20 });
    });
  });

  describe('snapshots', () => {
    it('compact() writes fixed slots and dictionaries, and a reopen from them keeps everything, LRU order included', async () => {
      const store = await openAt({ maxClients: 3 });
      const [C, D] = ['00000000-0000-4000-8000-00000000000c', '00000000-0000-4000-8000-00000000000d'];
      await store.createClient(A, now);
      await store.createClient(B, now + 1);
      await store.createClient(C, now + 2);
      const t = await store.beginTransfer(B, 'caf\u00e9.bin', { offset: 0, size: 2 ** 40, etag: '"big"' }, now + 3);
      await store.recordProgress(B, 'caf\u00e9.bin', t, 2 ** 33 + 1, now + 4);
      await store.touchClient(A, now + 5); // fresh order now: C, A
      store.compact();
      const list = decodeRecords(fs.readFileSync(logPath())).list;
      expect(list.map((r) => r.type)).toEqual(['path', 'etag', 'clients', 'files']);
      expect(list[2]).toEqual({ type: 'clients', clients: [{ clientId: C, lastSeen: now + 2 }, { clientId: A, lastSeen: now + 5 }, { clientId: B, lastSeen: now + 1 }] });
      expect(list[3]).toMatchObject({ type: 'files', files: [{ client: 2, offset: 2 ** 33 + 1, size: 2 ** 40, ticket: t }] });
      await store.close();

      const again = await openAt({ maxClients: 3 });
      expect(again.recovery).toEqual({ records: 2 + 3 + 1, discardedBytes: 0, problem: 'none' });
      expect(await again.getProgress(B, 'caf\u00e9.bin')).toEqual({ offset: 2 ** 33 + 1, size: 2 ** 40, etag: '"big"', ticket: t });
      await again.createClient(D, now + 6);
      // C was the least recently seen fresh client
      expect(await again.touchClient(C, now + 7)).toBe(false);
      for (const id of [A, B, D]) expect(await again.touchClient(id, now + 7)).toBe(true);
    });

    it('a lower maxClients at open evicts as creating would: fresh clients first, least recently seen first', async () => {
      const store = await openAt();
      const C = '00000000-0000-4000-8000-00000000000c';
      await store.createClient(A, now);
      await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, now);
      await store.createClient(B, now + 1);
      await store.createClient(C, now + 2);
      await store.close();
      const again = await openAt({ maxClients: 2 });
      expect(await again.counts()).toEqual({ clients: 2, files: 1 });
      expect(await again.touchClient(B, now + 3)).toBe(false);
      expect(await again.getProgress(A, 'x')).toEqual({ offset: 0, ...V1, ticket: 1 });
      // the evicted client left the log too: a later reopen with the old limit does not bring it back
      await again.close();
      const third = await openAt();
      expect(await third.touchClient(B, now + 3)).toBe(false);
    });

    it('a client id that is not a UUID is refused before anything reaches the log', async () => {
      const store = await openAt();
      const size = fs.statSync(logPath()).size;
      await expect(store.createClient('device-1', now)).rejects.toBeInstanceOf(InvalidClientIdError);
      store.flush();
      expect(fs.statSync(logPath()).size).toBe(size);
    });
  });

  describe('formats', () => {
    it('a first-format (MOBLEDG1) ledger is migrated: everything kept, rewritten as format 2', async () => {
      fs.writeFileSync(
        logPath(),
        Buffer.concat([
          MAGIC_V1,
          encodeV1({ type: 'seen', clientId: A, time: now }),
          encodeV1({ type: 'seen', clientId: B, time: now + 1 }),
          encodeV1({ type: 'progress', clientId: A, time: now, path: 'one.bin', offset: 10, size: 1000, etag: '"v1"', ticket: 1 }),
          encodeV1({ type: 'progress', clientId: A, time: now, path: 'one.bin', offset: 250, size: 1000, etag: '"v1"', ticket: 2 }),
        ]),
      );
      const store = await openAt();
      expect(store.recovery).toEqual({ records: 4, discardedBytes: 0, problem: 'none' });
      expect(await store.getProgress(A, 'one.bin')).toEqual({ offset: 250, ...V1, ticket: 2 });
      expect(await store.touchClient(B, now + 2)).toBe(true);
      expect(fs.readFileSync(logPath()).subarray(0, MAGIC.length)).toEqual(MAGIC);
      await store.close();
      const again = await openAt();
      expect(again.recovery.problem).toBe('none');
      expect(await again.counts()).toEqual({ clients: 2, files: 1 });
    });

    it('a first-format ledger with a torn tail is migrated up to the tear, which is reported', async () => {
      const torn = encodeV1({ type: 'seen', clientId: B, time: now }).subarray(0, 10);
      fs.writeFileSync(logPath(), Buffer.concat([MAGIC_V1, encodeV1({ type: 'seen', clientId: A, time: now }), torn]));
      const store = await openAt();
      expect(store.recovery).toEqual({ records: 1, discardedBytes: torn.length, problem: 'torn-frame' });
      expect(await store.counts()).toEqual({ clients: 1, files: 0 });
    });

    it('a ledger in a newer format is refused, left as it is, and the lock released', async () => {
      const newer = Buffer.concat([Buffer.from('MOBLEDG3', 'latin1'), Buffer.from('whatever comes next')]);
      fs.writeFileSync(logPath(), newer);
      await expect(FileStore.open({ dir })).rejects.toThrow(/MOBLEDG3.*cannot read/);
      expect(fs.readFileSync(logPath())).toEqual(newer);
      expect(fs.existsSync(lockPath())).toBe(false);
    });
  });

});
