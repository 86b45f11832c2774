/**
 * The SHA-256 of the output as it grows, on this thread or on a second one.
 *
 * On one thread, hashing is the largest single cost of a big download: SHA-256
 * runs at 1.2–1.7 GB/s here, a third of mobget's CPU on a 256 MiB file
 * (docs/PERFORMANCE.md). `WorkerHash` moves it to a worker thread so it runs
 * beside the socket reads and the disk writes. Bytes that already live in a
 * SharedArrayBuffer (the read ring of read-ring.ts) are hashed in place: only
 * their place is posted. Others are copied into a shared staging ring first
 * (a memcpy, a tenth of the cost of hashing them). The worker counts what it
 * has hashed in Int32 cells, so this thread learns which memory it may reuse
 * without waiting for a message.
 *
 * A worker costs a thread and about 20 ms to start, so small downloads (and
 * a thousand of them in one process) keep `InlineHash`; download.ts switches
 * once a transfer is known to be large.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export interface RunningHash {
  /**
   * Adds bytes; resolves at once unless the hash is far behind. Bytes in a
   * SharedArrayBuffer may be read later, from another thread: the caller
   * leaves them alone until `settled(mark())` resolves.
   */
  update(chunk: Buffer): void | Promise<void>;
  /** A mark for everything added so far. */
  mark(): number;
  /** Resolves once everything added before `mark` has been hashed. */
  settled(mark: number): Promise<void> | undefined;
  /** Hex digest of everything added so far; adding may go on after it. */
  digest(): Promise<string>;
  /** Starts again from nothing (the output was truncated). */
  reset(): void;
  close(): Promise<void>;
}

export class InlineHash implements RunningHash {
  private hash: Hash = createHash('sha256');

  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }

  mark(): number {
    return 0;
  }

  settled(): undefined {
    return undefined;
  }

  async digest(): Promise<string> {
    return this.hash.copy().digest('hex');
  }

  reset(): void {
    this.hash = createHash('sha256');
  }

  async close(): Promise<void> {}
}

/** Staging ring for bytes that are not in shared memory: the reader waits once the worker is 8 MiB behind. */
const STAGE_BYTES = 8 * 1024 * 1024;
/** Staged bytes copied in before their place is posted: one message per MiB, not per TCP read. */
const POST_BATCH = 1024 * 1024;
const MOD = 0x8000_0000; // counters wrap at 2^31 and fit an Int32 cell
const HASHED = 0; // cell: bytes hashed from updates, mod 2^31
const STAGE_FREED = 1; // cell: staged bytes hashed, mod 2^31

/** Atomics.waitAsync (Node 16+; in TypeScript's lib only from ES2024, which Node 20 does not fully have). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<unknown> | string } }).waitAsync;

/** a - b for counters mod 2^31, when the true difference is below 2^30. */
const behind = (a: number, b: number): number => (a - b + MOD) % MOD;

/**
 * The worker's whole program. It is tiny and plain CommonJS, evaluated from
 * this string, so the same file works from dist/ and from the TypeScript
 * sources that tests run.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const stage = Buffer.from(workerData.stage);
const cells = new Int32Array(workerData.cells);
const rings = new Map();
const MOD = ${MOD};
let hash = createHash('sha256');
const add = (cell, n) => {
  Atomics.store(cells, cell, (Atomics.load(cells, cell) + n) % MOD);
  Atomics.notify(cells, cell);
};
parentPort.on('message', (m) => {
  try {
    if (m.t === 'stage') {
      hash.update(stage.subarray(m.at, m.at + m.n));
      add(${STAGE_FREED}, m.n);
      add(${HASHED}, m.n);
    } else if (m.t === 'ring') {
      hash.update(rings.get(m.id).subarray(m.at, m.at + m.n));
      add(${HASHED}, m.n);
    } else if (m.t === 'new-ring') {
      rings.set(m.id, Buffer.from(m.sab));
    } else if (m.t === 'prefix') {
      // The bytes already on disk when hashing moved here: read them back.
      const fd = fs.openSync(m.path, 'r');
      try {
        const buf = Buffer.allocUnsafe(1 << 20);
        let pos = 0;
        while (pos < m.length) {
          const n = fs.readSync(fd, buf, 0, Math.min(buf.length, m.length - pos), pos);
          if (n === 0) throw new Error('the file is shorter than ' + m.length + ' bytes');
          hash.update(buf.subarray(0, n));
          pos += n;
        }
      } finally {
        fs.closeSync(fd);
      }
    } else if (m.t === 'reset') {
      hash = createHash('sha256');
    } else if (m.t === 'digest') {
      parentPort.postMessage({ id: m.id, hex: hash.copy().digest('hex') });
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

export class WorkerHash implements RunningHash {
  private readonly worker: Worker;
  private readonly stage = new SharedArrayBuffer(STAGE_BYTES);
  private readonly stageBuf = Buffer.from(this.stage);
  private readonly cells = new Int32Array(new SharedArrayBuffer(8));
  /** Bytes handed to the worker, mod 2^31 (compared with the HASHED cell). */
  private submitted = 0;
  /** Bytes copied into the stage, mod 2^31 (compared with the STAGE_FREED cell). */
  private staged = 0;
  /** Stage position of the first byte not yet posted, and how many follow it. */
  private postAt = 0;
  private postLen = 0;
  /** Shared buffers the worker already knows, by id. */
  private readonly rings = new Map<SharedArrayBuffer, number>();
  /**
   * Ids for rings and for digest replies come from one counter on purpose:
   * the worker answers a failed message with its id, and a ring's id can
   * then never be taken for a pending digest's.
   */
  private nextId = 1;
  private readonly replies = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
  private failure: Error | undefined;

  /**
   * Starts a worker whose hash already covers the first `prefixLength` bytes
   * of the file at `path` (it reads them itself, off this thread).
   */
  constructor(path: string, prefixLength: number) {
    // The worker keeps the process alive until close(), which OutputFile
    // always calls: an unref'd one would let the process exit while this
    // thread waits on it with Atomics.waitAsync.
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { stage: this.stage, cells: this.cells.buffer } });
    this.worker.on('message', (m: { id: number; hex?: string; error?: string }) => {
      if (m.error !== undefined) this.failure ??= new Error(m.error);
      const waiter = this.replies.get(m.id);
      if (!waiter) return;
      this.replies.delete(m.id);
      if (m.hex !== undefined && !this.failure) waiter.resolve(m.hex);
      else waiter.reject(this.failure ?? new Error('hash worker failed'));
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', () => this.fail(new Error('hash worker exited')));
    if (prefixLength > 0) this.worker.postMessage({ t: 'prefix', path, length: prefixLength, id: 0 });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.replies.values()) w.reject(this.failure);
    this.replies.clear();
  }

  update(chunk: Buffer): void | Promise<void> {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    const sab = chunk.buffer;
    if (sab instanceof SharedArrayBuffer) {
      // Shared memory (read-ring.ts): the worker reads it in place, no copy.
      this.postStage();
      let id = this.rings.get(sab);
      if (id === undefined) {
        id = this.nextId++;
        this.rings.set(sab, id);
        this.worker.postMessage({ t: 'new-ring', id, sab });
      }
      this.worker.postMessage({ t: 'ring', id, at: chunk.byteOffset, n: chunk.length });
      this.submitted = (this.submitted + chunk.length) % MOD;
      return;
    }
    return this.stageCopy(chunk);
  }

  private stageCopy(chunk: Buffer): void | Promise<void> {
    let from = 0;
    while (from < chunk.length) {
      const free = STAGE_BYTES - behind(this.staged, Atomics.load(this.cells, STAGE_FREED));
      if (free === 0) return this.waitThenStage(chunk.subarray(from));
      const at = (this.postAt + this.postLen) % STAGE_BYTES;
      // Up to the end of the stage, then round: a post never wraps.
      const n = Math.min(chunk.length - from, free, STAGE_BYTES - at);
      chunk.copy(this.stageBuf, at, from, from + n);
      from += n;
      this.staged = (this.staged + n) % MOD;
      this.submitted = (this.submitted + n) % MOD;
      this.postLen += n;
      if (this.postLen >= POST_BATCH || at + n === STAGE_BYTES) this.postStage();
    }
  }

  private async waitThenStage(rest: Buffer): Promise<void> {
    this.postStage();
    for (;;) {
      const freed = Atomics.load(this.cells, STAGE_FREED);
      if (behind(this.staged, freed) < STAGE_BYTES) break;
      const w = waitAsync(this.cells, STAGE_FREED, freed, 5000);
      if (w.async) await w.value;
      if (this.failure) throw this.failure;
    }
    await this.stageCopy(rest);
  }

  private postStage(): void {
    if (this.postLen === 0) return;
    this.worker.postMessage({ t: 'stage', at: this.postAt, n: this.postLen });
    this.postAt = (this.postAt + this.postLen) % STAGE_BYTES;
    this.postLen = 0;
  }

  mark(): number {
    return this.submitted;
  }

  settled(mark: number): Promise<void> | undefined {
    // Done when the HASHED cell has reached the mark (no more than 2^30 ahead of it).
    if (behind(Atomics.load(this.cells, HASHED), mark) < MOD / 2) return undefined;
    return this.waitSettled(mark);
  }

  private async waitSettled(mark: number): Promise<void> {
    this.postStage();
    for (;;) {
      const hashed = Atomics.load(this.cells, HASHED);
      if (behind(hashed, mark) < MOD / 2) return;
      if (this.failure) throw this.failure;
      const w = waitAsync(this.cells, HASHED, hashed, 5000);
      if (w.async) await w.value;
    }
  }

  digest(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    this.postStage();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.replies.set(id, { resolve, reject });
      this.worker.postMessage({ t: 'digest', id });
    });
  }

  reset(): void {
    this.postStage();
    this.worker.postMessage({ t: 'reset' });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
