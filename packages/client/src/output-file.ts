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
import { createHash, type Hash } from 'node:crypto';
import { MobgetError } from './errors.js';

function outputError(e: unknown, path: string): MobgetError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOSPC' ? 'the disk is full' : err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
  return new MobgetError('MOBGET_OUTPUT', `cannot write ${path}: ${why}`, { errno: err.code });
}

/** Queued bytes beyond which append() waits for the disk. */
const MAX_PENDING = 8 * 1024 * 1024;

export class OutputFile {
  private hash: Hash = createHash('sha256');
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Where the next write goes on disk. */
  private diskSize: number;
  /** Settles when the write in flight (and any it chains to) is done. */
  private writing: Promise<void> | undefined;
  private failure: MobgetError | undefined;

  private constructor(
    readonly path: string,
    private readonly fh: fs.FileHandle,
    private sizeNow: number,
  ) {
    this.diskSize = sizeNow;
  }

  /** Opens (creating if needed) and hashes the bytes already there. */
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
    const out = new OutputFile(path, fh, st.size);
    await out.rehash();
    return out;
  }

  get size(): number {
    return this.sizeNow;
  }

  /** Appends (hashed now, written soon); resolves when more may be appended. */
  async append(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.hash.update(chunk);
    this.sizeNow += chunk.length;
    this.writing ??= this.drain();
    if (this.pendingBytes >= MAX_PENDING) await this.flush();
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
    this.hash = createHash('sha256');
  }

  /** Writes what is queued, batch after batch, until nothing is left. */
  private async drain(): Promise<void> {
    try {
      while (this.pendingBytes > 0 && !this.failure) {
        const bufs = this.pending;
        const total = this.pendingBytes;
        const at = this.diskSize;
        this.pending = [];
        this.pendingBytes = 0;
        await this.writeAll(bufs, at, total);
        this.diskSize += total;
      }
    } catch (e) {
      this.failure = outputError(e, this.path);
      this.pending = [];
      this.pendingBytes = 0;
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

  /** Hex SHA-256 of everything written so far. */
  digest(): string {
    return this.hash.copy().digest('hex');
  }

  /** Writes what is pending (best effort) and closes. */
  async close(): Promise<void> {
    await this.flush().catch(() => {});
    await this.fh.close().catch(() => {});
  }

  private async rehash(): Promise<void> {
    this.hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    while (pos < this.sizeNow) {
      const { bytesRead } = await this.fh.read(buf, 0, Math.min(buf.length, this.sizeNow - pos), pos);
      if (bytesRead === 0) break;
      this.hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  }
}
