/**
 * Where a download's socket reads land: one ring of memory, reused for every
 * connection of the download, instead of a fresh 64 KiB Buffer per read.
 *
 * Why (docs/PERFORMANCE.md, mobget): on this VM a first touch of memory
 * costs about 4.5 ms per MiB (page faults), so a download that allocates a
 * new buffer per read pays for its size again in faults and garbage; reused
 * memory is faulted once. Reads are also up to 1 MiB instead of 64 KiB, a
 * tenth of the callbacks. The ring is a SharedArrayBuffer so the hash worker
 * (running-hash.ts) reads the same bytes without a copy.
 *
 * Body bytes stay in the ring until every holder lets go: the reader until it
 * hands them on, then the disk write and the hash. `hold` marks a span as in
 * use and returns its release; spans are released in any order, and the
 * ring reuses memory only up to the oldest span still held. Bytes nobody
 * holds (response heads, bytes skipped or cut off) are free at once.
 *
 * Positions are absolute (they only grow); the memory index is abs % size.
 *
 * One ring serves one connection at a time: the download destroys a
 * connection before it opens the next, and the ring has a single waiter.
 */

/** 4 MiB: room for four 1 MiB reads while the disk and the hash catch up. */
export const DEFAULT_RING_BYTES = 4 * 1024 * 1024;
/** The smallest ring: reads of 4 KiB. */
export const MIN_RING_BYTES = 16 * 1024;
const MAX_READ = 1024 * 1024;
/** A read region is at least this long: near the end, the ring wraps instead. */
const MIN_READ = 64 * 1024;

interface Span {
  start: number;
  end: number;
  held: boolean;
}

export class ReadRing {
  readonly sab: SharedArrayBuffer;
  readonly buf: Buffer;
  readonly size: number;
  private readonly maxRead: number;
  private readonly minRead: number;
  /** Absolute position where the next read lands. */
  private tail = 0;
  /** Held spans, oldest first; released ones leave from the front. */
  private readonly spans: Span[] = [];
  private roomWaiter: (() => void) | undefined;

  constructor(size = DEFAULT_RING_BYTES) {
    this.size = size;
    this.maxRead = Math.min(MAX_READ, Math.floor(size / 4));
    this.minRead = Math.min(MIN_READ, this.maxRead);
    this.sab = new SharedArrayBuffer(size);
    this.buf = Buffer.from(this.sab);
  }

  /** Oldest absolute position still in use. */
  private head(): number {
    return this.spans.length > 0 ? this.spans[0]!.start : this.tail;
  }

  /** Where the next read goes: from the tail, or from index 0 when too little is left before the end. */
  private nextStart(): number {
    const idx = this.tail % this.size;
    return this.size - idx < this.minRead ? this.tail + (this.size - idx) : this.tail;
  }

  /** Bytes free from `start` on, before reaching held ones. */
  private freeFrom(start: number): number {
    return this.size - (start - this.head());
  }

  /** Whether at least a minimum read's worth is free where the next read goes. */
  hasRoom(): boolean {
    return this.freeFrom(this.nextStart()) >= this.minRead;
  }

  /**
   * The region for the next read: up to a full read, as much as is free.
   * When too little is free, it is a minimum read's worth that is still in
   * use: the reader then pauses its socket (hasRoom() false) and resumes in
   * `whenRoom`, by which time this very region is free, since spans free in
   * ring order. (Reading into what is free instead of waiting for a full
   * 1 MiB lets a resumed response's head in sooner.)
   */
  region(): Buffer {
    const start = this.nextStart();
    const idx = start % this.size;
    const free = this.freeFrom(start);
    const len = Math.min(this.maxRead, this.size - idx, free >= this.minRead ? free : this.minRead);
    return this.buf.subarray(idx, idx + len);
  }

  /** A read put `n` bytes at the start of the last region: their view and absolute start. */
  filled(n: number): { chunk: Buffer; at: number } {
    const at = this.nextStart();
    const idx = at % this.size;
    this.tail = at + n;
    return { chunk: this.buf.subarray(idx, idx + n), at };
  }

  /**
   * Marks `view` (inside a chunk that `filled` returned, at absolute `at` for
   * its first byte) as in use; the function returned frees it (once).
   */
  hold(view: Buffer, chunk: Buffer, at: number): () => void {
    const start = at + (view.byteOffset - chunk.byteOffset);
    const span: Span = { start, end: start + view.length, held: true };
    this.spans.push(span);
    return () => {
      if (!span.held) return;
      span.held = false;
      while (this.spans.length > 0 && !this.spans[0]!.held) this.spans.shift();
      if (this.roomWaiter && this.hasRoom()) {
        const w = this.roomWaiter;
        this.roomWaiter = undefined;
        w();
      }
    };
  }

  /** Calls `fn` once the next region is free (at once if it is). */
  whenRoom(fn: () => void): void {
    if (this.hasRoom()) fn();
    else this.roomWaiter = fn;
  }

  /** Forgets `fn` if it still waits (its connection is gone; a newer one may wait now). */
  cancelWait(fn: () => void): void {
    if (this.roomWaiter === fn) this.roomWaiter = undefined;
  }

  /** Bytes held now (for tests). */
  get heldBytes(): number {
    return this.spans.reduce((n, s) => n + (s.held ? s.end - s.start : 0), 0);
  }

  /** True if `b` is memory of this ring. */
  owns(b: Buffer): boolean {
    return b.buffer === this.sab;
  }
}
