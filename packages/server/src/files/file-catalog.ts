/**
 * The files below the root, as representations: an open descriptor, its
 * size and times, and its validators. This is the only module that touches
 * the served files.
 *
 * Containment: the decoded segments are joined below the root and the result
 * is resolved with realpath(3); it must still lie below the root's own real
 * path, so a symlink that points out is refused (404) while links inside the
 * root work. The real path is then opened with O_NOFOLLOW and O_NONBLOCK
 * (a FIFO must not block the open), and anything but a regular file is 404.
 *
 * Validators: the ETag is derived from the SHA-256 of the content, computed
 * once per file version and cached under (dev, ino, size, mtime, ctime). Replacing a file, even with one of the same size in the same second,
 * changes ctime (and ino, on rename) and so the tag.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { ERRORS, type HttpErrorSpec } from '../http/errors.js';
import { strongTag } from '../http/entity-tag.js';
import { contentTypeFor } from './content-type.js';

export interface Representation {
  handle: fsp.FileHandle;
  /** Done with it: the handle may be closed (it is shared and cached). */
  release(): void;
  /** Path relative to the root, "/"-separated (the ledger key). */
  relPath: string;
  size: number;
  lastModified: Date;
  etag: string;
  /** RFC 9530 §3: `sha-256=:<base64>:` */
  reprDigest: string;
  contentType: string;
}

export type Lookup = { ok: true; rep: Representation } | { ok: false; error: HttpErrorSpec };

interface DigestEntry {
  key: string;
  sha256: Promise<Buffer>;
}

const READ_CHUNK = 1 << 20;

/**
 * An open file shared by every request for it: a resuming device asks for
 * the same file again and again, and opening, resolving and stat-ing it
 * each time costs four trips through libuv's thread pool. The descriptor is
 * closed when the entry is evicted (or found stale) and no request holds it.
 */
interface OpenEntry {
  real: string;
  key: string;
  rep: Omit<Representation, 'release'>;
  refs: number;
  dead: boolean;
  /** When `real` was last resolved from the path (symlinks may change). */
  resolvedAt: number;
}

/** How long a resolved real path is trusted before it is resolved again (ms). */
const RESOLVE_TTL = 1000;

/**
 * What identifies a file version: device, inode, size, and mtime and ctime
 * as fractional milliseconds (sub-microsecond on Linux). A rename gives a
 * new inode, a write in place a new ctime. (Plain stats, not BigInt ones:
 * those cost a fifth of a resume request's CPU.)
 */
function statKey(st: fs.Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

export class FileCatalog {
  private readonly digests = new Map<string, DigestEntry>();
  private readonly openFiles = new Map<string, OpenEntry>();
  private rootReal: string | undefined;

  constructor(
    readonly root: string,
    private readonly maxCachedDigests = 4096,
    private readonly maxOpenFiles = 256,
  ) {}

  /**
   * Fast path: a file opened recently, unchanged since (one stat(2) on the
   * event loop, about 2 µs on a cached inode, instead of four pool trips).
   * Any change of the file, or a path not resolved for RESOLVE_TTL, takes
   * the full path again.
   */
  async open(segments: string[]): Promise<Lookup> {
    const relPath = segments.join('/');
    const hit = this.openFiles.get(relPath);
    if (hit && !hit.dead && Date.now() - hit.resolvedAt < RESOLVE_TTL) {
      let key: string | undefined;
      try {
        key = statKey(fs.statSync(hit.real));
      } catch {
        key = undefined;
      }
      if (key === hit.key) {
        hit.refs++;
        this.openFiles.delete(relPath);
        this.openFiles.set(relPath, hit);
        return { ok: true, rep: this.lease(hit) };
      }
      this.retire(relPath, hit);
    }
    const found = await this.openSlow(segments);
    if (!found.ok) return found;
    const { real, key, rep } = found;
    const entry: OpenEntry = { real, key, rep, refs: 1, dead: false, resolvedAt: Date.now() };
    const old = this.openFiles.get(relPath);
    if (old) this.retire(relPath, old);
    this.openFiles.set(relPath, entry);
    while (this.openFiles.size > this.maxOpenFiles) {
      const [oldest, e] = this.openFiles.entries().next().value as [string, OpenEntry];
      this.retire(oldest, e);
    }
    return { ok: true, rep: this.lease(entry) };
  }

  /** Closes every cached descriptor that no request holds (shutdown). */
  closeAll(): void {
    for (const [p, e] of this.openFiles) this.retire(p, e);
  }

  private lease(entry: OpenEntry): Representation {
    let released = false;
    return {
      ...entry.rep,
      release: () => {
        if (released) return;
        released = true;
        entry.refs--;
        if (entry.dead && entry.refs === 0) void entry.rep.handle.close().catch(() => {});
      },
    };
  }

  private retire(relPath: string, entry: OpenEntry): void {
    if (this.openFiles.get(relPath) === entry) this.openFiles.delete(relPath);
    if (entry.dead) return;
    entry.dead = true;
    if (entry.refs === 0) void entry.rep.handle.close().catch(() => {});
  }

  private async openSlow(segments: string[]): Promise<{ ok: true; real: string; key: string; rep: Omit<Representation, 'release'> } | { ok: false; error: HttpErrorSpec }> {
    const rootReal = (this.rootReal ??= await fsp.realpath(this.root));
    const candidate = path.join(rootReal, ...segments);
    let real: string;
    try {
      real = await fsp.realpath(candidate);
    } catch (e) {
      return { ok: false, error: mapFsError(e) };
    }
    if (!real.startsWith(rootReal + path.sep)) return { ok: false, error: ERRORS.NOT_FOUND };
    let handle: fsp.FileHandle;
    try {
      // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
      // writer, holding a libuv pool thread; four such requests stall all file
      // I/O. It changes nothing for regular files; the FIFO is refused below.
      handle = await fsp.open(real, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    } catch (e) {
      return { ok: false, error: mapFsError(e) };
    }
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const st = await handle.stat();
        if (!st.isFile()) {
          await handle.close();
          return { ok: false, error: ERRORS.NOT_FOUND };
        }
        const key = statKey(st);
        const sha = await this.digestFor(real, key, handle, Number(st.size));
        // The file may have changed while we hashed it; then hash again.
        const after = await handle.stat();
        if (statKey(after) !== key) {
          this.digests.delete(real);
          continue;
        }
        return {
          ok: true,
          real,
          key,
          rep: {
            handle,
            relPath: segments.join('/'),
            size: Number(st.size),
            lastModified: new Date(Number(st.mtimeMs)),
            etag: strongTag(sha.subarray(0, 16).toString('base64url')),
            reprDigest: `sha-256=:${sha.toString('base64')}:`,
            contentType: contentTypeFor(real),
          },
        };
      }
      await handle.close();
      return { ok: false, error: ERRORS.FILE_UNSTABLE };
    } catch (e) {
      await handle.close().catch(() => {});
      return { ok: false, error: mapFsError(e) };
    }
  }

  private digestFor(real: string, key: string, handle: fsp.FileHandle, size: number): Promise<Buffer> {
    const hit = this.digests.get(real);
    if (hit && hit.key === key) {
      // Keep recently used entries at the end (LRU).
      this.digests.delete(real);
      this.digests.set(real, hit);
      return hit.sha256;
    }
    const sha256 = hashHandle(handle, size);
    const entry = { key, sha256 };
    this.digests.set(real, entry);
    sha256.catch(() => this.digests.get(real) === entry && this.digests.delete(real));
    while (this.digests.size > this.maxCachedDigests) this.digests.delete(this.digests.keys().next().value as string);
    return sha256;
  }
}

async function hashHandle(handle: fsp.FileHandle, size: number): Promise<Buffer> {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(size, 1)));
  let pos = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    h.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return h.digest();
}

/** send's rule: "no such file" errors are 404, permission is 403, the rest 500. */
function mapFsError(e: unknown): HttpErrorSpec {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG' || code === 'ELOOP' || code === 'EISDIR') return ERRORS.NOT_FOUND;
  if (code === 'EACCES' || code === 'EPERM') return ERRORS.FORBIDDEN;
  return ERRORS.INTERNAL;
}
