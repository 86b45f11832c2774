/**
 * The ledger in an append-only log file, replayed into memory at start.
 *
 * - Format (record-codec.ts): a snapshot of fixed binary slots (24 B a
 *   client, 32 B a file entry) plus the path and ETag dictionaries, then
 *   short log frames (a progress update is about 26 B: 16-byte ID, path
 *   index, offset, ticket, CRC). A paused session costs about 59 B on disk
 *   in the log, 56 B in a snapshot (docs/PERFORMANCE.md, case 5).
 * - Durability: frames are written with write(2) in batches (group commit,
 *   every `flushDelayMs`). Once written they are in the kernel's page cache
 *   and survive SIGKILL of this process; `fsync: true` also survives power
 *   loss, at a cost. `createClient` resolves only after its batch is written,
 *   so an id handed to a device is never forgotten by a crash.
 * - Torn writes: every frame carries a CRC-32; at open the log is read up to
 *   the first bad frame and cut there, and the cut is reported in `recovery`.
 * - Batching: the batch remembers which client and file slots changed, in
 *   the order of the operations, and encodes their state when it is written:
 *   one frame per client and per (client, path) per batch, however many
 *   changes it saw (pendingFrames() says why the order stays the meaning).
 * - Forgetting is logged: every client the table drops by itself (evicted
 *   for maxClients, expired by a sweep or a touch, replaced by a create of
 *   its ID) gets a DROP frame, so replay never evicts or expires on its own
 *   and rebuilds exactly the clients, and the order, the live store had.
 * - Failures: a batch that cannot be written (disk full, I/O error) is cut
 *   off the log again (ftruncate to the last good length) and stays pending;
 *   if even the cut fails, the next write is a whole snapshot. A failed
 *   snapshot leaves the old log in use, unchanged. Nothing of this throws
 *   from the timer: the error is in `lastError`, rejects the createClient
 *   calls waiting on the batch, and close() rejects with it.
 * - Compaction: when the log is four times larger than a snapshot of the
 *   live data would be, it is rewritten as a snapshot (temp file, fsync,
 *   rename). Opening replays the log and appends to it; it writes a
 *   snapshot only when there is something to drop (clients expired or over
 *   maxClients), the log is due for compaction, or the ledger is in the
 *   first format (MOBLEDG1), which is read and migrated. A ledger in a newer
 *   format than this code knows is refused, not overwritten.
 * - One process per directory: a lock file holds the owner's pid.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeLog as decodeV1, MAGIC_V1 } from './record-codec-v1.js';
import { CLIENT_RECORD, CLIENTS, decodeLedger, ETAG, FILE_RECORD, FILES, FrameWriter, ID_BYTES, MAGIC, MAGIC_FAMILY, MAX_FRAME, MAX_TEXT, PATH, RECORDS_PER_FRAME, type DecodeProblem, type LedgerSink } from './record-codec.js';
import { DEFAULT_STORE_LIMITS, type Progress, type ProgressStore, type StoreCounts, type StoreLimits, type TransferStart } from './progress-store.js';
import { FRESH, NO_SLOT, SessionTable, USED } from './session-table.js';
export interface FileStoreOptions extends Partial<StoreLimits> {
  dir: string;
  /** Group-commit window (ms). */
  flushDelayMs?: number;
  /** fsync after each batch (power-loss safety). */
  fsync?: boolean;
  /** Compact when the log exceeds this many bytes and four times the live data. */
  compactMinBytes?: number;
  /** Wall clock, for expiring replayed clients at open. */
  now?: number;
  /** Replay read size (tests use tiny ones); a chunk grows to hold any frame. Default 4 MiB. */
  readChunkBytes?: number;
}

export interface Recovery {
  records: number;
  /** Bytes cut from the end of the log because they were not whole, checked frames. */
  discardedBytes: number;
  problem: string;
}

export class StoreLockedError extends Error {
  readonly code = 'STORE_LOCKED';
  constructor(dir: string, pid: number) {
    super(`ledger ${dir} is in use by process ${pid}`);
  }
}

const LOG = 'ledger.log';

/** Flags of a file slot changed in the current batch. */
const MOVED = 1;
const BEGUN = 2;

/**
 * Keys of the pending batch (one Map, in operation order): slot × 4 + kind.
 * A client to write as SEEN, a file slot as BEGIN or ADVANCE, a DROP by its
 * index in `drops`.
 */
const K_CLIENT = 0;
const K_FILE = 1;
const K_DROP = 2;

export class FileStore implements ProgressStore {
  readonly description: string;
  private readonly table: SessionTable;
  private readonly logPath: string;
  private readonly lockPath: string;
  private fd = -1;
  private logBytes = 0;
  /** The batch: key (see K_CLIENT) → MOVED/BEGUN flags of a file slot, in operation order. */
  private readonly pending = new Map<number, number>();
  /** IDs of the batch's DROP frames, 16 bytes each. */
  private drops = new Uint8Array(16 * ID_BYTES);
  private dropCount = 0;
  /** The log may end in a torn batch that could not be cut: the next write must be a snapshot. */
  private needSnapshot = false;
  /** The log's dictionaries since the last snapshot: text → index. Indices are never reused within a log. */
  private logPaths = new Map<string, number>();
  private logEtags = new Map<string, number>();
  private nextPath = 0;
  private nextEtag = 0;
  private readonly writer = new FrameWriter();
  private readonly id = new Uint8Array(ID_BYTES);
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The last write error, if the disk refused us; changes stay pending. */
  lastError: Error | undefined;

  private constructor(
    private readonly opts: Required<Pick<FileStoreOptions, 'dir' | 'flushDelayMs' | 'fsync' | 'compactMinBytes'>>,
    readonly recovery: Recovery,
    table: SessionTable,
  ) {
    this.description = `file:${opts.dir}`;
    this.logPath = path.join(opts.dir, LOG);
    this.lockPath = path.join(opts.dir, 'lock');
    this.table = table;
  }

  static async open(options: FileStoreOptions): Promise<FileStore> {
    const opts = {
      dir: path.resolve(options.dir),
      flushDelayMs: options.flushDelayMs ?? 5,
      fsync: options.fsync ?? false,
      compactMinBytes: options.compactMinBytes ?? 4 * 1024 * 1024,
    };
    const limits: StoreLimits = { ttlMs: options.ttlMs ?? DEFAULT_STORE_LIMITS.ttlMs, maxClients: options.maxClients ?? DEFAULT_STORE_LIMITS.maxClients };
    fs.mkdirSync(opts.dir, { recursive: true });
    const lockPath = path.join(opts.dir, 'lock');
    acquireLock(lockPath, opts.dir);
    try {
      return FileStore.load(opts, limits, options.now ?? Date.now(), options.readChunkBytes ?? CHUNK);
    } catch (e) {
      releaseLock(lockPath);
      throw e;
    }
  }

  private static load(opts: FileStore['opts'], limits: StoreLimits, now: number, chunkBytes: number): FileStore {
    const logPath = path.join(opts.dir, LOG);
    const table = new SessionTable(limits);
    let replayed: Replayed;
    let rewrite: boolean;
    let fileBytes: number;
    const fd = openIfThere(logPath);
    try {
      fileBytes = fd === undefined ? 0 : fs.fstatSync(fd).size;
      const head = Buffer.alloc(Math.min(fileBytes, MAGIC.length));
      if (fd !== undefined) readAt(fd, head, 0);
      if (startsWith(head, MAGIC_V1)) {
        replayed = replayV1(fs.readFileSync(logPath), table);
        rewrite = true; // migrate to the current format
      } else if (startsWith(head, MAGIC_FAMILY) && !startsWith(head, MAGIC)) {
        throw new Error(`ledger ${logPath} is in format "${head.toString('latin1')}", which this mobserve cannot read (it reads ${MAGIC.toString('latin1')} and MOBLEDG1); refusing to overwrite it`);
      } else {
        // A session takes 56 B in a snapshot and at least 57 B in the log (a
        // SEEN and a BEGIN frame): room for that many at once, so that the
        // table does not grow step by step during replay; no more file slots
        // than client slots (reserve caps those at maxClients). A log of many
        // ADVANCE frames holds fewer sessions than that: fit() gives the
        // rest back after replay.
        const sessions = Math.floor(fileBytes / 56);
        table.reserve(sessions, Math.min(sessions, table.capacity.clients));
        if (fileBytes === 0) replayed = { records: 0, goodBytes: 0, problem: 'none', paths: [], etags: [] };
        else if (!startsWith(head, MAGIC)) replayed = { records: 0, goodBytes: 0, problem: 'bad-magic', paths: [], etags: [] };
        else replayed = replay(fd!, fileBytes, table, chunkBytes);
        // A file that is not a ledger (bad-magic) is replaced, and reported.
        rewrite = fileBytes === 0 || replayed.problem === 'bad-magic';
      }
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    // Replay never evicts (every eviction of the live store is a DROP frame).
    // Expired clients go first, so that trimming to maxClients (lower than
    // the log was written with) never evicts a live one in their place.
    const swept = table.sweep(now);
    // (A first-format ledger may also evict while replayed; it is rewritten anyway.)
    const dropped = swept + table.trim();
    table.fit();
    const recovery: Recovery = { records: replayed.records, discardedBytes: fileBytes - replayed.goodBytes, problem: replayed.problem };

    const store = new FileStore(opts, recovery, table);
    store.logBytes = replayed.goodBytes;
    // Dropped clients must leave the log too: replay would otherwise count
    // them against maxClients until its final sweep, and evict differently.
    if (rewrite || dropped > 0 || store.dueForCompaction()) {
      try {
        store.writeSnapshot();
      } catch (e) {
        if (store.fd >= 0) fs.closeSync(store.fd);
        throw e;
      }
    } else {
      store.logPaths = invert(replayed.paths);
      store.logEtags = invert(replayed.etags);
      store.nextPath = replayed.paths.length;
      store.nextEtag = replayed.etags.length;
      store.fd = fs.openSync(logPath, 'a');
      // A torn tail is cut where the good frames end; appends go after them.
      if (recovery.discardedBytes > 0) {
        fs.ftruncateSync(store.fd, replayed.goodBytes);
        fs.fsyncSync(store.fd);
      }
    }
    // From now on every client the table forgets by itself is logged.
    table.onRemove = (c) => store.queueDrop(c);
    return store;
  }

  async createClient(clientId: string, now: number): Promise<void> {
    this.queueClient(this.table.create(clientId, now));
    await this.flushed();
  }

  async touchClient(clientId: string, now: number): Promise<boolean> {
    const c = this.table.touchSlot(clientId, now);
    if (c === NO_SLOT) return false;
    this.queueClient(c);
    return true;
  }

  async getProgress(clientId: string, p: string): Promise<Progress | undefined> {
    return this.table.get(clientId, p);
  }

  async beginTransfer(clientId: string, p: string, start: TransferStart, _now?: number): Promise<number> {
    // What the log could not hold is refused here, before the table changes:
    // a batch that fails to encode would fail again at every retry.
    checkText(p, 'path');
    checkText(start.etag, 'ETag');
    const f = this.table.beginSlot(clientId, p, start);
    if (f === NO_SLOT) return 0;
    this.queueFile(f, BEGUN);
    return this.table.fileTicket(f);
  }

  async recordProgress(clientId: string, p: string, ticket: number, offset: number, _now?: number): Promise<boolean> {
    // advanceSlot throws RangeError for an offset that is not a byte count.
    const f = this.table.advanceSlot(clientId, p, ticket, offset);
    if (f === NO_SLOT) return false;
    this.queueFile(f, MOVED);
    return true;
  }

  async sweep(now: number): Promise<number> {
    // Each expired client is logged as a DROP (onRemove).
    return this.table.sweep(now);
  }

  async counts(): Promise<StoreCounts> {
    return { clients: this.table.clientCount, files: this.table.progressCount };
  }

  /**
   * Writes every pending change now. Never throws: a failure is kept in
   * `lastError`, rejects the waiting createClient calls, and is retried in
   * a second with the changes still pending.
   */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.closed) return;
    if (this.needSnapshot || this.fd < 0) {
      // The log may end in bytes that could not be cut: start a new one.
      try {
        this.writeSnapshot();
      } catch (e) {
        return this.failed(e);
      }
      this.lastError = undefined;
      return this.settle();
    }
    if (this.pending.size === 0) return this.settle();
    const mark = { path: this.nextPath, etag: this.nextEtag };
    try {
      const batch = this.pendingFrames();
      try {
        writeAll(this.fd, batch);
        if (this.opts.fsync) fs.fsyncSync(this.fd);
      } catch (e) {
        // Disk full, I/O error: part of the batch may be in the file. Cut it
        // off, or later batches would be appended behind a torn frame, and
        // cut at the next open with everything after it.
        this.cutTo(this.logBytes);
        throw e;
      }
      this.logBytes += batch.length;
    } catch (e) {
      // Nothing of the batch is in the log (or needSnapshot is set): keep the
      // changes pending, forget the dictionary entries that never reached the
      // disk, start the writer over (an encoding error leaves half a frame).
      this.forgetTexts(mark.path, mark.etag);
      this.writer.truncate(0);
      return this.failed(e);
    }
    this.lastError = undefined;
    this.pending.clear();
    this.dropCount = 0;
    if (this.dueForCompaction()) {
      try {
        this.writeSnapshot();
      } catch (e) {
        // The batch is in the log; the old log stays in use as it was.
        this.lastError = e as Error;
      }
    }
    this.settle();
  }

  /** Rewrites the log as a snapshot now (also done by itself when the log grows; see the file's comment). Throws if it cannot. */
  compact(): void {
    if (this.closed) return;
    this.flush();
    this.writeSnapshot();
  }

  /**
   * Writes what is pending, closes the log and releases the lock; rejects
   * with the write error if the last changes could not be written (they are
   * lost: the lock is released all the same).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    if (this.timer) {
      // The retry after a write error: nothing may write to the fd after close.
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.closed = true;
    const error = this.lastError;
    try {
      if (this.fd >= 0 && error === undefined) fs.fsyncSync(this.fd);
    } finally {
      if (this.fd >= 0) fs.closeSync(this.fd);
      this.fd = -1;
      releaseLock(this.lockPath);
      // Anyone still waiting for a batch learns that it will never be written.
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.reject(error ?? new Error('ledger closed'));
    }
    if (error !== undefined) throw error;
  }

  /**
   * Queues a client's SEEN at the end of the batch (deleting first, so a
   * client seen again moves behind those queued since: the order of SEEN
   * frames is the least-recently-seen order replay rebuilds). When its SEEN
   * was already queued, its queued BEGINs move along right behind it: a
   * BEGIN must never precede the SEEN that creates its client, and a
   * client's BEGIN and SEEN side by side leave it where the live list has
   * it (at the end of the used list).
   */
  private queueClient(c: number): void {
    if (this.closed) return;
    const key = c * 4 + K_CLIENT;
    const requeued = this.pending.delete(key);
    this.pending.set(key, 0);
    if (requeued) {
      for (let f = this.table.firstFileOf(c); f !== NO_SLOT; f = this.table.nextFileOf(f)) {
        const fk = f * 4 + K_FILE;
        const flags = this.pending.get(fk);
        if (flags !== undefined && flags & BEGUN) {
          this.pending.delete(fk);
          this.pending.set(fk, flags);
        }
      }
    }
    this.schedule(this.opts.flushDelayMs);
  }

  /** Queues a file entry's BEGIN or ADVANCE; a slot already queued keeps its place (its first BEGIN is where the client became used). */
  private queueFile(f: number, flag: number): void {
    if (this.closed) return;
    const key = f * 4 + K_FILE;
    this.pending.set(key, (this.pending.get(key) ?? 0) | flag);
    this.schedule(this.opts.flushDelayMs);
  }

  /** The table is about to forget client slot `c`: its queued frames go, a DROP of its ID comes at the end of the batch. */
  private queueDrop(c: number): void {
    if (this.closed) return;
    for (let f = this.table.firstFileOf(c); f !== NO_SLOT; f = this.table.nextFileOf(f)) this.pending.delete(f * 4 + K_FILE);
    this.pending.delete(c * 4 + K_CLIENT);
    if ((this.dropCount + 1) * ID_BYTES > this.drops.length) {
      const bigger = new Uint8Array(this.drops.length * 2);
      bigger.set(this.drops);
      this.drops = bigger;
    }
    this.table.copyId(c, this.drops, this.dropCount * ID_BYTES);
    this.pending.set(this.dropCount * 4 + K_DROP, 0);
    this.dropCount++;
    this.schedule(this.opts.flushDelayMs);
  }

  /** Cuts the log back to `length` bytes (a batch that was not wholly written); if that fails, the next write is a snapshot. */
  private cutTo(length: number): void {
    try {
      fs.ftruncateSync(this.fd, length);
    } catch {
      this.needSnapshot = true;
    }
  }

  /** A batch or snapshot could not be written: remember why, tell the waiters, retry in a second. */
  private failed(e: unknown): void {
    this.lastError = e instanceof Error ? e : new Error(String(e));
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(e);
    this.schedule(1000);
  }

  /** A snapshot of the live data would take about this many bytes. */
  private snapshotEstimate(): number {
    return MAGIC.length + CLIENT_RECORD * this.table.clientCount + FILE_RECORD * this.table.progressCount + 64 * (this.table.paths.size + this.table.etags.size);
  }

  private dueForCompaction(): boolean {
    return this.logBytes > this.opts.compactMinBytes && this.logBytes > 4 * this.snapshotEstimate();
  }

  /**
   * The pending changes as frames, in operation order, each encoded from the
   * table's state now. Replay applies them in order with the same effect on
   * membership and on the two LRU lists as the operations had live:
   * - a client's place in its list is set by the last of its SEEN (create,
   *   touch) and its first BEGIN (fresh → used); the batch holds each
   *   client's SEEN where it was last seen, and each file's BEGIN where it
   *   was first begun (queueClient keeps a BEGIN behind its client's SEEN);
   * - ADVANCE moves nothing in the lists, only an offset;
   * - DROP stands where the client was forgotten; the forgotten client's
   *   queued frames were removed from the batch then (queueDrop), so every
   *   slot left in it belongs to the client that used it when queued.
   */
  private pendingFrames(): Buffer {
    const t = this.table;
    const w = this.writer;
    const id = this.id;
    for (const [key, flags] of this.pending) {
      const slot = key >>> 2;
      const kind = key & 3;
      if (kind === K_DROP) {
        w.drop(this.drops, slot * ID_BYTES);
      } else if (kind === K_CLIENT) {
        if (!t.isLiveClient(slot)) continue;
        t.copyId(slot, id, 0);
        w.seen(id, 0, t.clientLastSeen(slot));
      } else {
        if (!t.isLiveFile(slot)) continue;
        t.copyId(t.fileClient(slot), id, 0);
        const p = this.logText(PATH, t.paths.text(t.filePathIndex(slot)));
        if (flags & BEGUN) {
          const e = this.logText(ETAG, t.etags.text(t.fileEtagIndex(slot)));
          w.begin(id, 0, p, e, t.fileSize(slot), t.fileOffset(slot), t.fileTicket(slot));
        } else {
          w.advance(id, 0, p, t.fileOffset(slot), t.fileTicket(slot));
        }
      }
    }
    return w.take();
  }

  /** The log's index of a path or ETag, defining it with a frame the first time. */
  private logText(kind: typeof PATH | typeof ETAG, text: string): number {
    const map = kind === PATH ? this.logPaths : this.logEtags;
    let i = map.get(text);
    if (i === undefined) {
      i = kind === PATH ? this.nextPath++ : this.nextEtag++;
      map.set(text, i);
      this.writer.text(kind, i, text);
    }
    return i;
  }

  /** Forgets log dictionary entries from these indices on (their frames were never written). */
  private forgetTexts(path: number, etag: number): void {
    for (const [map, from] of [[this.logPaths, path], [this.logEtags, etag]] as const) {
      for (const [text, i] of map) if (i >= from) map.delete(text);
    }
    this.nextPath = path;
    this.nextEtag = etag;
  }

  private schedule(ms: number): void {
    if (this.timer || this.closed) return;
    // Not unref'd: a caller awaiting createClient() must see its batch
    // written even when nothing else keeps the process alive; the timer
    // lives 5 ms at most (1 s after a write error).
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush(); // never throws
    }, ms);
  }

  private flushed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private settle(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
  }

  /**
   * Rewrites the log as a snapshot: the dictionaries, then every client in
   * fixed 24-byte slots (fresh list, then used list, each least recently
   * seen first), then every file entry in fixed 32-byte slots naming its
   * client by position. Temp file, fsync, rename. On failure (thrown) the
   * old log, its dictionaries and the pending changes stay as they were.
   */
  private writeSnapshot(): void {
    const w = this.writer;
    let data: Buffer;
    // The table's dictionary indices become the log's, once the snapshot is in place.
    const logPaths = new Map<string, number>();
    const logEtags = new Map<string, number>();
    let nextPath = 0;
    let nextEtag = 0;
    try {
      w.magic();
      for (const [i, text] of this.table.paths.entries()) {
        w.text(PATH, i, text);
        logPaths.set(text, i);
        nextPath = Math.max(nextPath, i + 1);
      }
      for (const [i, text] of this.table.etags.entries()) {
        w.text(ETAG, i, text);
        logEtags.set(text, i);
        nextEtag = Math.max(nextEtag, i + 1);
      }
      this.snapshotRecords();
      data = w.take();
    } catch (e) {
      w.truncate(0);
      throw e;
    }
    const tmp = `${this.logPath}.tmp`;
    try {
      const tfd = fs.openSync(tmp, 'w');
      try {
        writeAll(tfd, data);
        fs.fsyncSync(tfd);
      } finally {
        fs.closeSync(tfd);
      }
      fs.renameSync(tmp, this.logPath);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    // The snapshot is the log now: it holds every pending change.
    this.logPaths = logPaths;
    this.logEtags = logEtags;
    this.nextPath = nextPath;
    this.nextEtag = nextEtag;
    this.pending.clear();
    this.dropCount = 0;
    this.logBytes = data.length;
    const old = this.fd;
    this.fd = -1;
    if (old >= 0) fs.closeSync(old);
    // Until the new log is open, flush() comes back here (fd < 0).
    this.fd = fs.openSync(this.logPath, 'a');
    this.needSnapshot = false;
    try {
      fsyncDir(path.dirname(this.logPath));
    } catch {
      /* the rename is done; a directory that cannot be synced is no reason to stop */
    }
  }

  /** The CLIENTS and FILES frames of a snapshot, into the writer. */
  private snapshotRecords(): void {
    const t = this.table;
    const w = this.writer;
    const id = this.id;
    let left = t.clientCount;
    let room = 0;
    let freshCount = 0;
    for (const list of [FRESH, USED] as const) {
      for (let c = t.listHead(list); c !== NO_SLOT; c = t.nextInList(c)) {
        if (room === 0) {
          if (left !== t.clientCount) w.closeRecords();
          room = Math.min(left, RECORDS_PER_FRAME);
          w.openRecords(CLIENTS, room);
        }
        t.copyId(c, id, 0);
        w.clientRecord(id, 0, t.clientLastSeen(c));
        room--;
        left--;
        if (list === FRESH) freshCount++;
      }
    }
    if (t.clientCount > 0) w.closeRecords();
    left = t.progressCount;
    room = 0;
    let ordinal = freshCount;
    for (let c = t.listHead(USED); c !== NO_SLOT; c = t.nextInList(c), ordinal++) {
      for (let f = t.firstFileOf(c); f !== NO_SLOT; f = t.nextFileOf(f)) {
        if (room === 0) {
          if (left !== t.progressCount) w.closeRecords();
          room = Math.min(left, RECORDS_PER_FRAME);
          w.openRecords(FILES, room);
        }
        w.fileRecord(ordinal, t.filePathIndex(f), t.fileEtagIndex(f), t.fileOffset(f), t.fileSize(f), t.fileTicket(f));
        room--;
        left--;
      }
    }
    if (t.progressCount > 0) w.closeRecords();
  }
}

interface Replayed {
  records: number;
  goodBytes: number;
  problem: DecodeProblem;
  /** The log's dictionaries after replay: index → text. */
  paths: string[];
  etags: string[];
}

/**
 * Read size for replay. The log is read in chunks into one reused buffer,
 * not whole: on this machine first-touching fresh memory costs about 4 ms a
 * MiB, so reading a 56 MiB log into a new buffer took 0.25 s of a 1M-session
 * reopen; a reused 4 MiB buffer takes 7 ms. A chunk holds any frame (the
 * largest, 65,536 file slots, is 2 MiB).
 */
const CHUNK = 4 * 1024 * 1024;

/** Replays a current-format ledger file into `table`. */
function replay(fd: number, fileBytes: number, table: SessionTable, chunkBytes: number): Replayed {
  const paths: string[] = [];
  const etags: string[] = [];
  let chunk = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, fileBytes)));
  let view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  // Client slots of the snapshot's CLIENTS records, by position. Valid only
  // until a log frame could evict one of them.
  let ordinals = new Int32Array(1024);
  let loaded = 0;
  const sink: LedgerSink = {
    seen(b, at, time) {
      loaded = 0;
      table.seenBytes(b, at, time);
    },
    drop(b, at) {
      loaded = 0;
      table.dropBytes(b, at);
    },
    begin(b, at, p, e, size, offset, ticket) {
      loaded = 0;
      const pathText = paths[p];
      const etagText = etags[e];
      if (pathText === undefined || etagText === undefined) return false;
      table.putBytes(b, at, pathText, etagText, offset, size, ticket);
      return true;
    },
    advance(b, at, p, offset, ticket) {
      loaded = 0;
      const pathText = paths[p];
      if (pathText === undefined) return false;
      table.advanceBytes(b, at, pathText, offset, ticket);
      return true;
    },
    text(kind, index, text) {
      (kind === PATH ? paths : etags)[index] = text;
    },
    // Snapshot slots: a tight loop over fixed records, no object per session.
    clients(b, at, count) {
      if (loaded + count > ordinals.length) {
        let size = ordinals.length * 2;
        while (size < loaded + count) size *= 2;
        const bigger = new Int32Array(size);
        bigger.set(ordinals.subarray(0, loaded));
        ordinals = bigger;
      }
      for (let i = 0; i < count; i++, at += CLIENT_RECORD) ordinals[loaded++] = table.seenBytes(b, at, view.getFloat64(at + ID_BYTES));
    },
    files(_b, at, count) {
      for (let i = 0; i < count; i++, at += FILE_RECORD) {
        const o = view.getUint32(at);
        const pathText = paths[view.getUint32(at + 4)];
        const etagText = etags[view.getUint32(at + 8)];
        if (o >= loaded || pathText === undefined || etagText === undefined) return false;
        table.putSlot(ordinals[o]!, pathText, etagText, view.getFloat64(at + 12), view.getFloat64(at + 20), view.getUint32(at + 28));
      }
      return true;
    },
  };
  // `base`: file offset of chunk[0] (MAGIC is checked); `filled`: bytes in the chunk.
  let base = MAGIC.length;
  let filled = readAt(fd, chunk, base);
  let records = 0;
  for (;;) {
    const r = decodeLedger(chunk.subarray(0, filled), sink, 0);
    records += r.records;
    const atEnd = base + filled >= fileBytes;
    // A frame cut by the chunk's end: move its start to the front, read on.
    // No progress in a full chunk: a larger chunk, up to the largest frame
    // there can be; beyond that the frame is no frame at all.
    if (r.problem === 'torn-frame' && !atEnd && r.goodBytes === 0 && filled === chunk.length && chunk.length < MAX_FRAME) {
      const bigger = Buffer.allocUnsafe(Math.min(chunk.length * 2, MAX_FRAME));
      chunk.copy(bigger, 0, 0, filled);
      chunk = bigger;
      view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      filled += readAt(fd, chunk.subarray(filled), base + filled);
      continue;
    }
    if (r.problem === 'torn-frame' && !atEnd && (r.goodBytes > 0 || filled < chunk.length)) {
      chunk.copy(chunk, 0, r.goodBytes, filled);
      base += r.goodBytes;
      filled -= r.goodBytes;
      filled += readAt(fd, chunk.subarray(filled), base + filled);
      continue;
    }
    return { records, goodBytes: base + r.goodBytes, problem: r.problem, paths, etags };
  }
}

/** Reads as much of `buf` as the file holds from `position`; returns the bytes read. */
function readAt(fd: number, buf: Uint8Array, position: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = fs.readSync(fd, buf, got, buf.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function openIfThere(file: string): number | undefined {
  try {
    return fs.openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Replays a first-format (MOBLEDG1) ledger into `table`, for migration. */
function replayV1(buf: Buffer, table: SessionTable): Replayed {
  const decoded = decodeV1(buf);
  for (const r of decoded.records) {
    if (r.type === 'seen') table.seen(r.clientId, r.time);
    else table.put(r.clientId, r.path, { offset: r.offset, size: r.size, etag: r.etag, ticket: r.ticket });
  }
  return { records: decoded.records.length, goodBytes: decoded.goodBytes, problem: decoded.problem, paths: [], etags: [] };
}

function startsWith(buf: Buffer, prefix: Buffer): boolean {
  return buf.length >= prefix.length && prefix.equals(buf.subarray(0, prefix.length));
}

function invert(texts: string[]): Map<string, number> {
  const map = new Map<string, number>();
  texts.forEach((text, i) => map.set(text, i));
  return map;
}

/** Paths and ETags go into the log's dictionaries, whose entries hold at most MAX_TEXT bytes. */
function checkText(text: string, what: string): void {
  // A UTF-16 unit is at most 3 bytes of UTF-8: most strings need no count.
  if (text.length * 3 > MAX_TEXT && Buffer.byteLength(text, 'utf8') > MAX_TEXT) throw new RangeError(`${what} longer than ${MAX_TEXT} bytes cannot be recorded in the ledger`);
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

function fsyncDir(dir: string): void {
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process not yet reaped by its parent (a zombie) still answers
  // kill(0), but holds nothing any more.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function acquireLock(lockPath: string, dir: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) throw new StoreLockedError(dir, pid);
      // Stale lock of a process that died (SIGKILL): take it over.
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`cannot lock ${dir}`);
}

function releaseLock(lockPath: string): void {
  try {
    if (fs.readFileSync(lockPath, 'utf8').trim() === String(process.pid)) fs.rmSync(lockPath, { force: true });
  } catch {
    /* already gone */
  }
}
