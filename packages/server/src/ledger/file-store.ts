/**
 * The ledger in an append-only log file, replayed into memory at start.
 *
 * - Durability: records are written with write(2) in batches (group commit,
 *   every `flushDelayMs`). Once written they are in the kernel's page cache
 *   and survive SIGKILL of this process; `fsync: true` also survives power
 *   loss, at a cost. `createClient` resolves only after its batch is written,
 *   so an id handed to a device is never forgotten by a crash.
 * - Torn writes: every frame carries its length and CRC-32; at open the log
 *   is read up to the first bad frame and cut there (record-codec.ts).
 * - Batching: within a batch only the latest record per client and per
 *   (client, path) is written, so a fast transfer costs one record per batch.
 * - Compaction: when the log is four times larger than the live data it is
 *   rewritten as a snapshot (temp file, fsync, rename).
 * - One process per directory: a lock file holds the owner's pid.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeLog, encodeRecord, MAGIC, type LedgerRecord } from './record-codec.js';
import { DEFAULT_STORE_LIMITS, type Progress, type ProgressStore, type StoreCounts, type StoreLimits, type TransferStart } from './progress-store.js';
import { SessionTable } from './session-table.js';

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

export class FileStore implements ProgressStore {
  readonly description: string;
  private readonly table: SessionTable;
  private readonly logPath: string;
  private readonly lockPath: string;
  private fd: number;
  private logBytes: number;
  private liveBytes: number;
  private readonly pending = new Map<string, LedgerRecord>();
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The last write error, if the disk refused us; records stay pending. */
  lastError: Error | undefined;

  private constructor(
    private readonly opts: Required<Pick<FileStoreOptions, 'dir' | 'flushDelayMs' | 'fsync' | 'compactMinBytes'>>,
    readonly recovery: Recovery,
    fd: number,
    logBytes: number,
    table: SessionTable,
  ) {
    this.description = `file:${opts.dir}`;
    this.logPath = path.join(opts.dir, LOG);
    this.lockPath = path.join(opts.dir, 'lock');
    this.fd = fd;
    this.logBytes = logBytes;
    this.liveBytes = logBytes;
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
    acquireLock(path.join(opts.dir, 'lock'), opts.dir);

    const logPath = path.join(opts.dir, LOG);
    let buf: Buffer;
    try {
      buf = fs.readFileSync(logPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      buf = Buffer.alloc(0);
    }
    const decoded = decodeLog(buf);
    const table = new SessionTable(limits);
    for (const r of decoded.records) {
      if (r.type === 'seen') table.seen(r.clientId, r.time);
      else table.put(r.clientId, r.path, { offset: r.offset, size: r.size, etag: r.etag, ticket: r.ticket });
    }
    table.sweep(options.now ?? Date.now());
    const recovery: Recovery = { records: decoded.records.length, discardedBytes: buf.length - decoded.goodBytes, problem: decoded.problem };

    const store = new FileStore(opts, recovery, -1, 0, table);
    // Always start from a fresh snapshot: it drops the torn tail and the
    // records made obsolete by later ones, and costs one sequential write.
    store.writeSnapshot();
    return store;
  }

  async createClient(clientId: string, now: number): Promise<void> {
    this.table.create(clientId, now);
    this.queue(`c${clientId}`, { type: 'seen', clientId, time: now });
    await this.flushed();
  }

  async touchClient(clientId: string, now: number): Promise<boolean> {
    if (!this.table.touch(clientId, now)) return false;
    this.queue(`c${clientId}`, { type: 'seen', clientId, time: now });
    return true;
  }

  async getProgress(clientId: string, p: string): Promise<Progress | undefined> {
    const got = this.table.get(clientId, p);
    return got && { ...got };
  }

  async beginTransfer(clientId: string, p: string, start: TransferStart, now: number): Promise<number> {
    const progress = this.table.begin(clientId, p, start);
    if (!progress) return 0;
    this.queueProgress(clientId, p, progress, now);
    return progress.ticket;
  }

  async recordProgress(clientId: string, p: string, ticket: number, offset: number, now: number): Promise<boolean> {
    const progress = this.table.advance(clientId, p, ticket, offset);
    if (!progress) return false;
    this.queueProgress(clientId, p, progress, now);
    return true;
  }

  async sweep(now: number): Promise<number> {
    // Expiry needs no record: replay applies the same TTL to the same times.
    return this.table.sweep(now).length;
  }

  async counts(): Promise<StoreCounts> {
    return { clients: this.table.clientCount, files: this.table.progressCount };
  }

  /** Writes every pending record now. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.size === 0) return this.settle();
    const batch = Buffer.concat(this.pendingFrames());
    try {
      writeAll(this.fd, batch);
      if (this.opts.fsync) fs.fsyncSync(this.fd);
    } catch (e) {
      // Disk full, I/O error: keep the records pending and tell the waiters.
      this.lastError = e as Error;
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.reject(e);
      this.schedule(1000);
      return;
    }
    this.lastError = undefined;
    this.pending.clear();
    this.logBytes += batch.length;
    if (this.logBytes > this.opts.compactMinBytes && this.logBytes > 4 * this.liveBytes) this.writeSnapshot();
    this.settle();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    try {
      fs.fsyncSync(this.fd);
    } finally {
      fs.closeSync(this.fd);
      releaseLock(this.lockPath);
    }
  }

  private queue(key: string, r: LedgerRecord): void {
    if (this.closed) return;
    // Delete first so a re-queued key moves behind records queued after it:
    // the order of "seen" records is the least-recently-seen order replay
    // rebuilds (and evicts by).
    this.pending.delete(key);
    this.pending.set(key, r);
    this.schedule(this.opts.flushDelayMs);
  }

  private queueProgress(clientId: string, p: string, progress: Progress, now: number): void {
    this.queue(`p${clientId}\0${p}`, { type: 'progress', clientId, time: now, path: p, ...progress });
  }

  /**
   * The pending records as frames: every "seen" record first, in queue
   * order, then the progress records. A client's progress must never come
   * before the record that makes it known, or replay would drop it.
   */
  private pendingFrames(): Buffer[] {
    const frames: Buffer[] = [];
    for (const r of this.pending.values()) if (r.type === 'seen') frames.push(encodeRecord(r));
    for (const r of this.pending.values()) if (r.type !== 'seen') frames.push(encodeRecord(r));
    return frames;
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    // Not unref'd: a caller awaiting createClient() must see its batch
    // written even when nothing else keeps the process alive; the timer
    // lives 5 ms at most (1 s after a write error).
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
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

  /** Rewrites the log as one record per live fact: temp file, fsync, rename. */
  private writeSnapshot(): void {
    const frames: Buffer[] = [MAGIC];
    for (const [id, lastSeen, files] of this.table.entries()) {
      frames.push(encodeRecord({ type: 'seen', clientId: id, time: lastSeen }));
      for (const [p, pr] of files) frames.push(encodeRecord({ type: 'progress', clientId: id, time: lastSeen, path: p, ...pr }));
    }
    // The table already holds every pending change: the snapshot supersedes them.
    this.pending.clear();
    const data = Buffer.concat(frames);
    const tmp = `${this.logPath}.tmp`;
    const tfd = fs.openSync(tmp, 'w');
    try {
      writeAll(tfd, data);
      fs.fsyncSync(tfd);
    } finally {
      fs.closeSync(tfd);
    }
    fs.renameSync(tmp, this.logPath);
    fsyncDir(path.dirname(this.logPath));
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = fs.openSync(this.logPath, 'a');
    this.logBytes = data.length;
    this.liveBytes = data.length;
  }
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
