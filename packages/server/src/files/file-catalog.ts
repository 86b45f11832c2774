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
 * once per file version and cached under (dev, ino, size, mtime ns, ctime
 * ns). Replacing a file, even with one of the same size in the same second,
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

export class FileCatalog {
  private readonly digests = new Map<string, DigestEntry>();
  private rootReal: string | undefined;

  constructor(
    readonly root: string,
    private readonly maxCachedDigests = 4096,
  ) {}

  async open(segments: string[]): Promise<Lookup> {
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
        const st = await handle.stat({ bigint: true });
        if (!st.isFile()) {
          await handle.close();
          return { ok: false, error: ERRORS.NOT_FOUND };
        }
        const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
        const sha = await this.digestFor(real, key, handle, Number(st.size));
        // The file may have changed while we hashed it; then hash again.
        const after = await handle.stat({ bigint: true });
        if (`${after.dev}:${after.ino}:${after.size}:${after.mtimeNs}:${after.ctimeNs}` !== key) {
          this.digests.delete(real);
          continue;
        }
        return {
          ok: true,
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
