/**
 * Streams a byte span of an open file to a socket: head and first chunk in
 * one write, honouring backpressure, optionally paced to a byte rate.
 *
 * "Sent" means handed to the kernel (the write callback fired without error).
 * Bytes still in the kernel's buffers when the peer vanishes are counted as
 * sent: that is the limit of what a server can know without the peer's word,
 * which is why resuming clients send Range (docs/DESIGN.md).
 */
import type { Socket } from 'node:net';
import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

export interface SendSpan {
  socket: Socket;
  handle: FileHandle;
  /** The file's whole content, when the catalog holds it: the span is sent from it, without reading. */
  bytes?: Buffer | undefined;
  head: Buffer;
  start: number;
  length: number;
  /** Bytes per second; 0 or undefined for as fast as the peer reads. */
  rate?: number | undefined;
  /** Called as bytes reach the kernel, with the running total of body bytes. */
  onFlushed?: (flushed: number) => void;
  /** Settles when waiting should end: the socket closed, the peer sent FIN, or the owner stops us. */
  closed: Promise<void>;
  /** Set by the owner to stop early (superseded, shutdown). */
  shouldStop?: () => boolean;
  /** The peer has closed its side: stop, it will read nothing more. */
  peerGone?: () => boolean;
}

export type SendOutcome = 'complete' | 'closed' | 'stopped' | 'file-error';

export interface SendResult {
  outcome: SendOutcome;
  /** Body bytes handed to the kernel. */
  flushed: number;
}

const CHUNK = 1024 * 1024;
/** The first read of a response (see sendSpan). */
const FIRST_CHUNK = 64 * 1024;
/**
 * The first EARLY_BYTES of a response go in EARLY_CHUNK pieces, the rest in
 * CHUNK pieces. A resumed transfer that is cut again soon (a device that
 * keeps dropping) then has less read and written ahead for nothing when
 * the next request arrives: with 1 MiB pieces from the start, a 1 MiB read
 * and a 1 MiB write to the dead socket were still running on our two cores
 * while the device reconnected. Measured with bench case 3's in-process
 * probe, 8 runs each, same machine and load: drop → first resumed byte
 * 1.41 ms (median of run medians) with 1 MiB pieces after a synchronous
 * first read, 1.18 ms with 256 KiB pieces for the first 4 MiB. Bulk
 * throughput is that of 1 MiB pieces (256 KiB pieces throughout cost a
 * third of it: 0.67-0.83x nginx instead of 1.08-1.63x).
 */
const EARLY_CHUNK = 256 * 1024;
const EARLY_BYTES = 4 * 1024 * 1024;
/** Responses up to this size are read synchronously (see sendSpan). */
const SYNC_READ_MAX = 256 * 1024;

export function sendSpan(s: SendSpan): Promise<SendResult> {
  const paced = s.rate !== undefined && s.rate > 0;
  if (s.bytes && !paced && s.length > 0 && s.length <= CHUNK) return sendHeld(s, s.bytes);
  return sendChunks(s);
}

/**
 * A span of a file held in memory: head and body leave in one writev,
 * nothing is read, and the only wait is for the write's callback (or the
 * end of the connection). No read-ahead machinery, no closures beyond two.
 */
function sendHeld(s: SendSpan, bytes: Buffer): Promise<SendResult> {
  const { socket } = s;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (r: SendResult): void => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    socket.cork();
    socket.write(s.head);
    socket.write(bytes.subarray(s.start, s.start + s.length), (err) => {
      if (err) return settle({ outcome: s.shouldStop?.() ? 'stopped' : 'closed', flushed: 0 });
      s.onFlushed?.(s.length);
      settle({ outcome: 'complete', flushed: s.length });
    });
    socket.uncork();
    void s.closed.then(() => settle({ outcome: s.shouldStop?.() ? 'stopped' : 'closed', flushed: 0 }));
  });
}

async function sendChunks(s: SendSpan): Promise<SendResult> {
  const { socket, closed } = s;
  let flushed = 0;
  let failed = false;
  const paced = s.rate !== undefined && s.rate > 0;
  const chunkSize = paced ? pacedChunk(s.rate!) : CHUNK;
  const t0 = Date.now();

  // Write callbacks fire in order, so the last one to fire says that
  // everything before it reached the kernel too. Counting them replaces an
  // empty write issued to learn the same (a write(2) of 0 bytes per
  // response: 9.5% of a resume request's CPU profile).
  let pending = 0;
  let allWritten: (() => void) | undefined;
  const write = (buf: Buffer, body: number, pooled?: Buffer): boolean => {
    pending++;
    return socket.write(buf, (err) => {
      if (pooled) release(pooled);
      if (err) failed = true;
      else if (body > 0) {
        flushed += body;
        s.onFlushed?.(flushed);
      }
      if (--pending === 0 && allWritten) {
        allWritten();
        allWritten = undefined;
      }
    });
  };

  const lastWriteDone = (): Promise<void> =>
    pending === 0 || socket.destroyed ? Promise.resolve() : new Promise((resolve) => (allWritten = resolve));

  if (s.length === 0) {
    write(s.head, 0);
    await Promise.race([lastWriteDone(), closed]);
    return { outcome: socket.destroyed || failed ? 'closed' : 'complete', flushed };
  }

  const end = s.start + s.length;
  const bytes = s.bytes;
  // A short response (a resume near the end, a small file) is read on the
  // event loop: from the page cache that is a memcpy of microseconds, while
  // a trip through libuv's pool costs more than the copy. Large spans go
  // through the pool, chunk by chunk, except their first 64 KiB (below):
  // on a slow disk with a cold cache, that first read blocks the loop for
  // one seek, the price of a faster first byte after a reconnect.
  const syncRead = s.length <= SYNC_READ_MAX;
  const read = async (at: number, most: number, sync = syncRead): Promise<{ buf: Buffer; n: number; pooled?: Buffer } | 'error'> => {
    // From memory: a view, no copy (the buffer is never written to).
    if (bytes) return { buf: bytes.subarray(at, at + Math.min(most, end - at)), n: Math.min(most, end - at) };
    const buf = acquire();
    try {
      const n = Math.min(most, end - at);
      const bytesRead = sync ? fs.readSync(s.handle.fd, buf, 0, n, at) : (await s.handle.read(buf, 0, n, at)).bytesRead;
      // 0 bytes: the file shrank under us, the promised Content-Length cannot be kept.
      if (bytesRead > 0) return { buf, n: bytesRead, pooled: buf };
    } catch {
      /* fall through */
    }
    release(buf);
    return 'error';
  };

  let pos = s.start;
  let first = true;
  // The first chunk is small so the head leaves at once: a resuming device
  // waits for its first byte, not for a 1 MiB read (drop → first byte of
  // the resumed body: 1.9 ms with a 1 MiB first read; docs/PERFORMANCE.md).
  // The first read is also synchronous: 64 KiB from the page cache is a
  // copy of microseconds, a trip through libuv's pool costs a wake-up of
  // another thread while the device waits (drop → first resumed byte:
  // 1.64 → 1.56 ms and 1.41 → 1.33 ms, medians in two runs of bench case
  // 3's probe). Short spans are read that way already (SYNC_READ_MAX).
  let next = read(pos, Math.min(chunkSize, FIRST_CHUNK), true);
  while (pos < end) {
    const got = await next;
    if (got === 'error') return { outcome: 'file-error', flushed };
    if (s.shouldStop?.() || socket.destroyed || failed || s.peerGone?.()) {
      if (got.pooled) release(got.pooled);
      return { outcome: s.shouldStop?.() ? 'stopped' : 'closed', flushed };
    }
    const chunk = got.buf.subarray(0, got.n);
    if (first) {
      // Head and first chunk leave in one writev.
      socket.cork();
      write(s.head, 0);
      write(chunk, got.n, got.pooled);
      socket.uncork();
      first = false;
    } else {
      write(chunk, got.n, got.pooled);
    }
    pos += got.n;
    // Read ahead: the next chunk comes off the disk while this one drains.
    // (256 MiB to curl: 700 MB/s reading after writing; see docs/PERFORMANCE.md.)
    if (pos < end && !paced) next = read(pos, pos - s.start < EARLY_BYTES ? Math.min(chunkSize, EARLY_CHUNK) : chunkSize);
    if (paced) {
      const due = t0 + ((pos - s.start) / s.rate!) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await Promise.race([sleep(wait), closed]);
      if (pos < end) next = read(pos, chunkSize);
    }
    // Ask the socket rather than keep write()'s answer: during a pacing sleep
    // the drain may already have happened, and waiting for another would
    // wait forever.
    if (socket.writableNeedDrain && !socket.destroyed) await Promise.race([new Promise((r) => socket.once('drain', r)), closed]);
  }
  await Promise.race([lastWriteDone(), closed]);
  if (flushed === s.length) return { outcome: 'complete', flushed };
  return { outcome: s.shouldStop?.() ? 'stopped' : 'closed', flushed };
}

/**
 * Chunk buffers are reused: one goes back to the pool when the socket's
 * write callback says the kernel has its bytes. At most POOL_MAX idle
 * buffers are kept (POOL_MAX × CHUNK bytes), the rest are left to the GC.
 */
const POOL_MAX = 32;
const pool: Buffer[] = [];

function acquire(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

function release(buf: Buffer): void {
  if (pool.length < POOL_MAX) pool.push(buf);
}

/**
 * Paced chunks are about a tenth of a second of data, rounded up to whole
 * 16 KiB blocks. A client that writes through a stdio buffer (curl -o: 4 or
 * 8 KiB) then ends every chunk with that buffer empty, so when it is killed
 * with Ctrl-C it holds nothing received-but-unwritten and its file matches
 * the ledger. Measured: the seed's demo with curl interrupted by SIGINT at
 * random moments, server at --rate 20k: 5 of 10 exact with 2 KiB chunks, 4
 * of 10 with 4 KiB chunks, 10 of 10 with 16 KiB chunks.
 */
function pacedChunk(rate: number): number {
  const BLOCK = 16384;
  const tenth = Math.floor(rate / 10);
  if (tenth < BLOCK) return Math.max(1, Math.min(rate, BLOCK));
  return Math.min(CHUNK, Math.floor(tenth / BLOCK) * BLOCK);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
