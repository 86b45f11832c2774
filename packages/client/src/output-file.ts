/**
 * The one output file: appended to in order, hashed as it grows, truncated
 * to restart. Its size on disk is the resume offset: every byte in it came
 * from the server in order, so a process killed mid-write leaves a correct
 * prefix.
 */
import * as fs from 'node:fs/promises';
import { createHash, type Hash } from 'node:crypto';
import { MobgetError } from './errors.js';

function outputError(e: unknown, path: string): MobgetError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOSPC' ? 'the disk is full' : err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
  return new MobgetError('MOBGET_OUTPUT', `cannot write ${path}: ${why}`, { errno: err.code });
}

export class OutputFile {
  private hash: Hash = createHash('sha256');

  private constructor(
    readonly path: string,
    private readonly fh: fs.FileHandle,
    private sizeNow: number,
  ) {}

  /** Opens (creating if needed) and hashes the bytes already there. */
  static async open(path: string): Promise<OutputFile> {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(path, 'a+');
      await fh.close();
      fh = await fs.open(path, 'r+');
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

  async append(chunk: Buffer): Promise<void> {
    let off = 0;
    try {
      while (off < chunk.length) {
        const { bytesWritten } = await this.fh.write(chunk, off, chunk.length - off, this.sizeNow + off);
        off += bytesWritten;
      }
    } catch (e) {
      throw outputError(e, this.path);
    }
    this.hash.update(chunk);
    this.sizeNow += chunk.length;
  }

  async truncate(): Promise<void> {
    try {
      await this.fh.truncate(0);
    } catch (e) {
      throw outputError(e, this.path);
    }
    this.sizeNow = 0;
    this.hash = createHash('sha256');
  }

  /** Hex SHA-256 of everything written so far. */
  digest(): string {
    return this.hash.copy().digest('hex');
  }

  async close(): Promise<void> {
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
