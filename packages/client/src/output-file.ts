/**
 * The one output file: appended to in order, hashed as it grows, truncated
 * to restart. Its size on disk is the resume offset: every byte in it came
 * from the server in order, so a process killed mid-write leaves a correct
 * prefix.
 *
 * Writes are coalesced: one writev(2) at a time is in flight, always at the
 * end of what is on disk, and the chunks that arrive meanwhile (as TCP
 * delivers them, 64 KiB or so) leave together in the next one. On a slow
 * link every chunk is written at once; on a fast one the batches grow by
 * themselves, and appending waits once MAX_PENDING bytes are queued. The
 * file on disk is a prefix at every instant; `size` counts what was
 * appended; `flush()` waits until it is all on disk.
 */
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import { MobgetError } from './errors.js';
import { InlineHash, WorkerHash, type RunningHash } from './running-hash.js';

function outputError(e: unknown, path: string): MobgetError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOSPC' ? 'the disk is full' : err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
  return new MobgetError('MOBGET_OUTPUT', `cannot write ${path}: ${why}`, { errno: err.code });
}

/** Queued bytes beyond which append() waits for the disk. */
const MAX_PENDING = 8 * 1024 * 1024;

export class OutputFile {
  private hash: RunningHash = new InlineHash();
  private pending: Buffer[] = [];
  /** Releases of the pending chunks that came with one. */
  private releases: Array<() => void> = [];
  private pendingBytes = 0;
  /** Where the next write goes on disk. */
  private diskSize: number;
  /** Settles when the write in flight (and any it chains to) is done. */
  private writing: Promise<void> | undefined;
  private failure: MobgetError | undefined;
  /**
   * Bytes that were on disk at open and are not hashed yet. They are read
   * back only when needed: by this thread before the first append or digest,
   * or by the worker if hashing moves there first (then only once).
   */
  private unhashed: number;

  private constructor(
    readonly path: string,
    private readonly fh: fs.FileHandle,
    private sizeNow: number,
  ) {
    this.diskSize = sizeNow;
    this.unhashed = sizeNow;
  }

  /** Opens (creating if needed); the bytes already there are hashed when first needed. */
  static async open(path: string): Promise<OutputFile> {
    let fh: fs.FileHandle;
    try {
      // Read-write at explicit positions, created if missing: one open(2).
      fh = await fs.open(path, fsc.O_RDWR | fsc.O_CREAT, 0o666);
    } catch (e) {
      throw outputError(e, path);
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw new MobgetError('MOBGET_OUTPUT', `cannot write ${path}: not a regular file`);
    }
    return new OutputFile(path, fh, st.size);
  }

  get size(): number {
    return this.sizeNow;
  }

  /**
   * Appends (hashed now or on the hash worker, written soon); resolves when
   * more may be appended. `release`, if given, is called once the bytes are
   * both on disk and hashed, so the caller may reuse their memory
   * (read-ring.ts); it is called on failure too.
   */
  async append(chunk: Buffer, release?: () => void): Promise<void> {
    if (this.failure) {
      release?.();
      throw this.failure;
    }
    if (chunk.length === 0) {
      release?.();
      return;
    }
    try {
      if (this.unhashed > 0) await this.hashPrefix();
      // Hashed (or handed to the hash) before it is queued for the disk, so a
      // batch's hash mark always covers every chunk in it.
      const behind = this.hash.update(chunk);
      if (behind) await behind;
    } catch (e) {
      release?.();
      throw e instanceof MobgetError ? e : new MobgetError('MOBGET_OUTPUT', `cannot hash ${this.path}: ${(e as Error).message}`);
    }
    this.pending.push(chunk);
    if (release) this.releases.push(release);
    this.pendingBytes += chunk.length;
    this.sizeNow += chunk.length;
    this.writing ??= this.drain();
    if (this.pendingBytes >= MAX_PENDING) await this.flush();
  }

  /**
   * Hashes on a worker thread from now on (running-hash.ts): worth it for a
   * large transfer, where hashing on this thread is a third of the CPU.
   */
  async hashInWorker(): Promise<void> {
    if (this.hash instanceof WorkerHash) return;
    // The worker reads back what is on disk, so everything must be there.
    await this.flush();
    const old = this.hash;
    this.hash = new WorkerHash(this.path, this.diskSize);
    this.unhashed = 0;
    await old.close();
  }

  /** Waits until everything appended is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.failure) throw this.failure;
  }

  async truncate(): Promise<void> {
    await this.flush().catch(() => {});
    this.failure = undefined;
    try {
      await this.fh.truncate(0);
    } catch (e) {
      throw outputError(e, this.path);
    }
    this.sizeNow = 0;
    this.diskSize = 0;
    this.unhashed = 0;
    if (this.hash instanceof WorkerHash) {
      // The worker may still be reading the old prefix back from disk: a new
      // start gets a new hash; download.ts moves it to a worker again if the
      // transfer is large.
      const old = this.hash;
      this.hash = new InlineHash();
      await old.close();
    } else this.hash.reset();
  }

  /** Writes what is queued, batch after batch, until nothing is left. */
  private async drain(): Promise<void> {
    let releases: Array<() => void> = [];
    try {
      while (this.pendingBytes > 0 && !this.failure) {
        const bufs = this.pending;
        const total = this.pendingBytes;
        const at = this.diskSize;
        const hashed = this.hash.mark();
        releases = this.releases;
        this.pending = [];
        this.releases = [];
        this.pendingBytes = 0;
        await this.writeAll(bufs, at, total);
        this.diskSize += total;
        const settling = this.hash.settled(hashed);
        if (settling) await settling;
        for (const r of releases.splice(0)) r();
      }
    } catch (e) {
      this.failure = e instanceof MobgetError ? e : outputError(e, this.path);
      this.pending = [];
      this.pendingBytes = 0;
      for (const r of releases.splice(0).concat(this.releases.splice(0))) r();
    } finally {
      this.writing = undefined;
    }
  }

  private async writeAll(bufs: Buffer[], at: number, total: number): Promise<void> {
    let done = 0;
    while (done < total) {
      let skip = done;
      const rest: Buffer[] = [];
      for (const b of bufs) {
        if (skip >= b.length) {
          skip -= b.length;
          continue;
        }
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
      const { bytesWritten } = await this.fh.writev(rest, at + done);
      done += bytesWritten;
    }
  }

  /** Hex SHA-256 of everything appended so far. */
  async digest(): Promise<string> {
    try {
      if (this.unhashed > 0) await this.hashPrefix();
      return await this.hash.digest();
    } catch (e) {
      throw new MobgetError('MOBGET_OUTPUT', `cannot hash ${this.path}: ${(e as Error).message}`);
    }
  }

  /** Writes what is pending (best effort) and closes. */
  async close(): Promise<void> {
    await this.flush().catch(() => {});
    await this.hash.close();
    await this.fh.close().catch(() => {});
  }

  /** Hashes the bytes that were on disk at open, on this thread. */
  private async hashPrefix(): Promise<void> {
    const length = this.unhashed;
    this.unhashed = 0;
    this.hash.reset();
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    while (pos < length) {
      const { bytesRead } = await this.fh.read(buf, 0, Math.min(buf.length, length - pos), pos);
      if (bytesRead === 0) break;
      await this.hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  }
}
