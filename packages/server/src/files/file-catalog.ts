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
 *
 * Contents: a file of at most `maxCachedFile` bytes is read whole when its
 * version is first opened, and its digest is computed from those very bytes,
 * so the ETag always matches what is served from them. Requests for that
 * version are then served from memory, without a read(2): a resume of
 * word.doc costs a writev and nothing else (docs/PERFORMANCE.md). The
 * contents of all cached versions together stay under `maxCachedBytes`;
 * the least recently used lose theirs first (their requests read the file).
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { ERRORS, type HttpErrorSpec } from '../http/errors.js';
import { strongTag } from '../http/entity-tag.js';
import { versionFields, type VersionFields } from '../http/response-plan.js';
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
  /**
   * The whole content of this version, when it is small enough to be held
   * (read once, hashed from these bytes). Never written to.
   */
  bytes: Buffer | undefined;
  /** The header fields fixed for this version, serialized once. */
  fields: VersionFields;
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
  /** When the file was last stat-ed and found to be this version. */
  checkedAt: number;
  /** When the budget took its contents away (undefined while held, or never held). */
  droppedAt?: number | undefined;
}

/**
 * The catalog's clock for its windows: monotonic, so a wall clock stepped
 * back (NTP, a VM resumed) cannot stretch the revalidation window.
 */
const clock = (): number => performance.now();

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

export interface CatalogLimits {
  /** Digests kept for versions no longer open. */
  maxCachedDigests: number;
  /** Descriptors kept open. */
  maxOpenFiles: number;
  /** Files up to this size are held in memory, whole. */
  maxCachedFile: number;
  /** The contents held in memory, all files together. */
  maxCachedBytes: number;
  /**
   * A version held in memory is stat-ed again at most this often (ms); 0:
   * on every request. Within the window a replaced file is still served
   * whole in its old version, with its old validators (docs/DESIGN.md).
   */
  revalidateMs: number;
}

export const DEFAULT_CATALOG_LIMITS: CatalogLimits = Object.freeze({
  maxCachedDigests: 4096,
  maxOpenFiles: 256,
  maxCachedFile: 1 << 20,
  maxCachedBytes: 64 << 20,
  revalidateMs: 100,
});

export class FileCatalog {
  private readonly digests = new Map<string, DigestEntry>();
  private readonly openFiles = new Map<string, OpenEntry>();
  private readonly loading = new Map<string, Promise<{ ok: true; entry: OpenEntry } | { ok: false; error: HttpErrorSpec }>>();
  private rootReal: string | undefined;
  private readonly limits: CatalogLimits;
  /** Bytes of the contents the open entries hold. */
  private heldBytes = 0;

  constructor(
    readonly root: string,
    limits: Partial<CatalogLimits> = {},
  ) {
    this.limits = { ...DEFAULT_CATALOG_LIMITS, ...limits };
  }

  /** What the cache holds now (for tests and stats). */
  stats(): { openFiles: number; cachedFiles: number; cachedBytes: number } {
    let cachedFiles = 0;
    for (const e of this.openFiles.values()) if (e.rep.bytes) cachedFiles++;
    return { openFiles: this.openFiles.size, cachedFiles, cachedBytes: this.heldBytes };
  }

  /**
   * Fast path: a file opened recently, unchanged since (one stat(2) on the
   * event loop, about 2 µs on a cached inode, instead of four pool trips),
   * answered without a promise. A version held in memory is stat-ed at most
   * every `revalidateMs`: its bytes are a snapshot, so a response from them
   * is always one whole version with its own validators, at worst that long
   * after a replacement (the stat was 10–25% of a resume request's CPU).
   * A file served from its descriptor is stat-ed on every request: a write
   * in place must not be read under the old ETag. Any change of the file,
   * or a path not resolved for RESOLVE_TTL, takes the full path again.
   */
  open(segments: string[]): Lookup | Promise<Lookup> {
    const relPath = segments.join('/');
    const hit = this.openFiles.get(relPath);
    if (hit && !hit.dead) {
      const now = clock();
      if (now - hit.resolvedAt < RESOLVE_TTL) {
        // (Inside the window the entry keeps its place in the LRU order: it
        // moved to the end when it was last checked, at most revalidateMs
        // ago. A Map delete and set per request was 1.4% of the CPU.)
        if (hit.rep.bytes && now - hit.checkedAt < this.limits.revalidateMs) return { ok: true, rep: this.leaseOf(hit) };
        let key: string | undefined;
        try {
          key = statKey(fs.statSync(hit.real));
        } catch {
          key = undefined;
        }
        // A file the budget pushed out of memory comes back, at most once
        // per window, when it is asked for again: it is the most recently
        // used now, and the LRU rule makes room from the others.
        if (key === hit.key && !this.wantsRefill(hit, now)) {
          hit.checkedAt = now;
          return { ok: true, rep: this.lease(hit, relPath) };
        }
        this.retire(relPath, hit);
      }
    }
    return this.openNew(relPath, segments);
  }

  /**
   * The slow path, once per file at a time: requests that arrive while a
   * file is being opened (or resolved again) wait for the same work rather
   * than each opening and reading it.
   */
  private openNew(relPath: string, segments: string[]): Promise<Lookup> {
    let loading = this.loading.get(relPath);
    if (!loading) {
      loading = this.load(relPath, segments).finally(() => this.loading.delete(relPath));
      this.loading.set(relPath, loading);
    }
    return loading.then((r) => {
      if (!r.ok) return r;
      // Retired in the meantime (changed again, evicted): start over.
      if (r.entry.dead) return this.open(segments);
      return { ok: true, rep: this.lease(r.entry, relPath) };
    });
  }

  private async load(relPath: string, segments: string[]): Promise<{ ok: true; entry: OpenEntry } | { ok: false; error: HttpErrorSpec }> {
    const old = this.openFiles.get(relPath);
    if (old && !old.dead) {
      // Not resolved for RESOLVE_TTL: the same real file, unchanged, keeps
      // its entry, its descriptor and its bytes.
      // The window starts when the check does, not when it returns.
      const checked = clock();
      const same = await this.stillSame(old, segments);
      if (!old.dead) {
        if (same && !this.wantsRefill(old, checked)) {
          old.resolvedAt = old.checkedAt = checked;
          return { ok: true, entry: old };
        }
        this.retire(relPath, old);
      }
    }
    const now = clock();
    const found = await this.openSlow(segments);
    if (!found.ok) return found;
    const { real, key, rep } = found;
    const entry: OpenEntry = { real, key, rep, refs: 0, dead: false, resolvedAt: now, checkedAt: now };
    const prev = this.openFiles.get(relPath);
    if (prev) this.retire(relPath, prev);
    this.openFiles.set(relPath, entry);
    if (rep.bytes) this.heldBytes += rep.bytes.length;
    while (this.openFiles.size > this.limits.maxOpenFiles) {
      const [oldest, e] = this.openFiles.entries().next().value as [string, OpenEntry];
      this.retire(oldest, e);
    }
    // Over the budget: the least recently used entries drop their contents
    // (and keep their descriptor). Leases already handed out keep theirs.
    if (this.heldBytes > this.limits.maxCachedBytes) {
      for (const e of this.openFiles.values()) {
        if (this.heldBytes <= this.limits.maxCachedBytes) break;
        if (e !== entry) this.dropBytes(e);
      }
    }
    if (this.heldBytes > this.limits.maxCachedBytes) this.dropBytes(entry);
    return { ok: true, entry };
  }

  /** Pushed out of memory by the budget, small enough, and not in the last window. */
  private wantsRefill(entry: OpenEntry, now: number): boolean {
    return !entry.rep.bytes && entry.droppedAt !== undefined && entry.rep.size <= this.limits.maxCachedFile && now - entry.droppedAt >= this.limits.revalidateMs;
  }

  /** Does the path still lead, below the root, to the version `entry` holds? */
  private async stillSame(entry: OpenEntry, segments: string[]): Promise<boolean> {
    try {
      const rootReal = (this.rootReal ??= await fsp.realpath(this.root));
      const real = await fsp.realpath(path.join(rootReal, ...segments));
      return real === entry.real && statKey(await fsp.stat(real)) === entry.key;
    } catch {
      return false;
    }
  }

  /** Closes every cached descriptor that no request holds (shutdown). */
  closeAll(): void {
    for (const [p, e] of this.openFiles) this.retire(p, e);
  }

  /** One more holder of `entry`, now the most recently used. */
  private lease(entry: OpenEntry, relPath: string): Representation {
    this.openFiles.delete(relPath);
    this.openFiles.set(relPath, entry);
    return this.leaseOf(entry);
  }

  private leaseOf(entry: OpenEntry): Representation {
    entry.refs++;
    return new Lease(entry);
  }

  private dropBytes(entry: OpenEntry): void {
    if (!entry.rep.bytes) return;
    this.heldBytes -= entry.rep.bytes.length;
    entry.rep.bytes = undefined;
    entry.droppedAt = clock();
  }

  private retire(relPath: string, entry: OpenEntry): void {
    if (this.openFiles.get(relPath) === entry) this.openFiles.delete(relPath);
    if (entry.dead) return;
    entry.dead = true;
    this.dropBytes(entry);
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
        const size = Number(st.size);
        // A small file is read whole and hashed from the bytes it will be
        // served from; a large one is hashed (or its digest found) and read
        // per request.
        const bytes = size <= this.limits.maxCachedFile ? await readWhole(handle, size) : undefined;
        const sha = await (bytes ? this.digestOf(real, key, bytes) : this.digestFor(real, key, handle, size));
        // The file may have changed while we read or hashed it; then again.
        const after = await handle.stat();
        if (statKey(after) !== key || (bytes && bytes.length !== size)) {
          this.digests.delete(real);
          continue;
        }
        const meta = {
          size,
          lastModified: new Date(Number(st.mtimeMs)),
          etag: strongTag(sha.subarray(0, 16).toString('base64url')),
          reprDigest: `sha-256=:${sha.toString('base64')}:`,
          contentType: contentTypeFor(real),
        };
        return { ok: true, real, key, rep: { handle, relPath: segments.join('/'), ...meta, bytes, fields: versionFields(meta) } };
      }
      await handle.close();
      return { ok: false, error: ERRORS.FILE_UNSTABLE };
    } catch (e) {
      await handle.close().catch(() => {});
      return { ok: false, error: mapFsError(e) };
    }
  }

  /** The digest of bytes in hand, cached like the others. */
  private digestOf(real: string, key: string, bytes: Buffer): Promise<Buffer> {
    const hit = this.digests.get(real);
    if (hit && hit.key === key) return hit.sha256;
    const sha256 = Promise.resolve(createHash('sha256').update(bytes).digest());
    this.digests.set(real, { key, sha256 });
    while (this.digests.size > this.limits.maxCachedDigests) this.digests.delete(this.digests.keys().next().value as string);
    return sha256;
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
    while (this.digests.size > this.limits.maxCachedDigests) this.digests.delete(this.digests.keys().next().value as string);
    return sha256;
  }
}

/**
 * One request's hold on an entry: its representation, and release(). A
 * class rather than a spread object with a closure: one shape, no closure
 * per request.
 */
class Lease implements Representation {
  readonly handle: fsp.FileHandle;
  readonly relPath: string;
  readonly size: number;
  readonly lastModified: Date;
  readonly etag: string;
  readonly reprDigest: string;
  readonly contentType: string;
  readonly bytes: Buffer | undefined;
  readonly fields: VersionFields;
  private released = false;

  constructor(private readonly entry: OpenEntry) {
    const r = entry.rep;
    this.handle = r.handle;
    this.relPath = r.relPath;
    this.size = r.size;
    this.lastModified = r.lastModified;
    this.etag = r.etag;
    this.reprDigest = r.reprDigest;
    this.contentType = r.contentType;
    this.bytes = r.bytes;
    this.fields = r.fields;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const e = this.entry;
    e.refs--;
    if (e.dead && e.refs === 0) void e.rep.handle.close().catch(() => {});
  }
}

/**
 * Reads a file whole, up to `size` bytes plus one (so a file that grew is
 * seen). A file that shrank returns fewer bytes; the caller compares.
 */
async function readWhole(handle: fsp.FileHandle, size: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafeSlow(size + 1);
  let pos = 0;
  while (pos < buf.length) {
    const { bytesRead } = await handle.read(buf, pos, buf.length - pos, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
  }
  return buf.subarray(0, pos);
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
