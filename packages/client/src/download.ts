/**
 * download(options): the resume loop. Library core of mobget; the command
 * line and the tests call it directly.
 *
 * The file on disk is the truth: its size is the next offset, and every
 * request asks for `Range: bytes=<size>-` with `If-Range: <etag>`, as
 * undici's RetryHandler does. What comes back is checked before a byte is
 * written (RFC 9110 §14.4, §13.1.5):
 *   206 → Content-Range must start at our offset, the ETag must not change;
 *   200 → the server ignored Range or the file changed: skip what we have
 *         if the strong ETag is the same, else truncate and start over;
 *   416 → `bytes *\/N` with N == our size means we already have it all,
 *         unless it names another size or ETag than the ones we learned.
 * At the end the size must match and the SHA-256 must match Repr-Digest
 * (RFC 9530); a mismatch is repaired once by downloading again.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { DropPlan } from './drop-plan.js';
import { MobgetError } from './errors.js';
import { NetworkError, openExchange, type Exchange } from './http/exchange.js';
import { proxyFor } from './http/proxy.js';
import { DEFAULT_RING_BYTES, MIN_RING_BYTES, ReadRing } from './http/read-ring.js';
import type { ResponseHead } from './http/response-parser.js';
import { parseContentRange, sha256FromReprDigest, strongEtag } from './http/validators.js';
import { OutputFile } from './output-file.js';
import { loadState, removeState, saveState, type ResumeState } from './state-file.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';
const USER_AGENT = 'mobget/0.1';

export interface DownloadOptions {
  /** A file name on a mobserve server (client-ID mode), or a full http:// URL (plain mode). */
  target: string;
  /**
   * mobserve base URL for names (default http://127.0.0.1:8080). Several:
   * after every drop mobget reconnects to the next one, as a device that
   * moved to another cell would (they must share a ledger to share the ID;
   * one that does not know it hands out a new one, and Range goes on).
   */
  server?: string | string[] | undefined;
  /** Output file (default: the target's last path segment, in the working directory). */
  output?: string | undefined;
  /** Cut the connection after every this many body bytes. */
  dropEvery?: number | undefined;
  /** Chance of a cut inside each 16 KiB block (0..1). */
  dropChance?: number | undefined;
  /** Seed for --drop-chance (default: random; reported in the summary). */
  seed?: number | undefined;
  /** Wait this long after a simulated drop before reconnecting (ms). */
  handoffDelayMs?: number | undefined;
  /** At most this many simulated drops. */
  maxDrops?: number | undefined;
  /** Local addresses to connect from, one after the other on each reconnect. */
  localAddresses?: string[] | undefined;
  /** Consecutive failed attempts (no byte gained) tolerated before giving up. */
  retries?: number | undefined;
  /** Silence on a connection for this long counts as a failure (ms). */
  timeoutMs?: number | undefined;
  /** HTTP forward proxy (http://host:port); default: http_proxy / HTTP_PROXY unless no_proxy matches. */
  proxy?: string | undefined;
  /** The environment read for proxies (default: process.env). */
  env?: NodeJS.ProcessEnv | undefined;
  /** Overwrite an existing output that has no resume state. */
  force?: boolean | undefined;
  /**
   * 'auto' (default): transfers of 16 MiB or more hash on a worker thread.
   * 'main': always on this thread (many small downloads in one process).
   * 'worker': always on a worker thread.
   */
  hashThread?: 'auto' | 'main' | 'worker' | undefined;
  /**
   * Size of the memory that socket reads land in, reused for the whole
   * download (default 4 MiB; reads are up to a quarter of it). 0 reads
   * through the socket's stream, a new Buffer per read.
   */
  readBufferBytes?: number | undefined;
  onEvent?: ((e: DownloadEvent) => void) | undefined;
}

export type DownloadEvent =
  | { type: 'start'; url: string; output: string; offset: number; seed: number }
  | { type: 'handshake'; clientId: string }
  | { type: 'connect'; attempt: number; url: string; offset: number; localAddress: string | undefined }
  | { type: 'response'; status: number; offset: number; size: number | undefined }
  | { type: 'progress'; bytes: number; size: number | undefined; received: number }
  | { type: 'drop'; kind: 'simulated'; at: number; drops: number }
  | { type: 'network-error'; at: number; error: string; failures: number }
  | { type: 'retry'; delayMs: number; reason: string }
  | { type: 'restart'; reason: string }
  | { type: 'skip'; bytes: number }
  /** The client-ID path cannot work through this route; going on by the plain path. */
  | { type: 'fallback'; reason: string; url: string }
  | { type: 'verified'; size: number; sha256: string; digestChecked: boolean };

export interface DownloadSummary {
  target: string;
  url: string;
  output: string;
  clientId: string | undefined;
  /** Final size of the output. */
  bytes: number;
  /** Bytes on disk when this run started (from an earlier, interrupted run). */
  resumedFrom: number;
  /** Body bytes received over the network in this run (skipped ones included). */
  received: number;
  seconds: number;
  /** Simulated drops. */
  drops: number;
  /** Real connection failures survived. */
  networkErrors: number;
  /** Connections made for the file (handshakes not counted). */
  connections: number;
  reconnects: number;
  /** Times the download went back to byte 0 (file changed, bad bytes, server without Range). */
  restarts: number;
  sha256: string;
  expectedSha256: string | undefined;
  /** Size matched and, if the server announced one, the digest matched. */
  verified: boolean;
  digestChecked: boolean;
  etag: string | undefined;
  seed: number;
}

type Target = { mode: 'session'; base: URL; bases: URL[]; name: string } | { mode: 'plain'; url: URL };

function parseServer(server: string): URL {
  let base: URL;
  try {
    base = new URL(server);
  } catch {
    throw new MobgetError('MOBGET_USAGE', `--server "${server}" is not a valid URL`);
  }
  if (base.protocol !== 'http:') throw new MobgetError('MOBGET_USAGE', '--server must be an http:// URL');
  return base;
}

export function resolveTarget(target: string, server: string | string[] | undefined): Target {
  if (/^https?:\/\//i.test(target)) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new MobgetError('MOBGET_USAGE', `"${target}" is not a valid URL`);
    }
    if (url.protocol !== 'http:') throw new MobgetError('MOBGET_USAGE', 'only http:// URLs are supported');
    return { mode: 'plain', url };
  }
  const list = server === undefined ? [DEFAULT_SERVER] : Array.isArray(server) ? server : [server];
  if (list.length === 0) list.push(DEFAULT_SERVER);
  const bases = list.map(parseServer);
  const base = bases[0]!;
  const name = target.replace(/^\/+/, '');
  if (name === '' || name.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new MobgetError('MOBGET_USAGE', `"${target}" is not a file name`);
  return { mode: 'session', base, bases, name };
}

export function defaultOutput(target: Target): string {
  const p = target.mode === 'plain' ? target.url.pathname : `/${target.name}`;
  const last = p.split('/').pop() ?? '';
  // A URL path is percent-encoded; a name is the file's own name, taken literally.
  let name = last;
  if (target.mode === 'plain') {
    try {
      name = decodeURIComponent(last);
    } catch {
      name = last;
    }
  }
  return name && name !== '.' && name !== '..' && !name.includes('/') ? name : 'index.html';
}

/** A file name as a URL path: each segment percent-encoded, the slashes kept. */
function encodeName(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

const MAX_REDIRECTS = 5;
/** Transfers at least this large hash on a worker thread. */
const WORKER_HASH_MIN_BYTES = 16 * 1024 * 1024;
const MAX_RESTARTS = 3;
const MAX_REHANDSHAKES = 3;

type AttemptResult =
  | { kind: 'body-end' }
  | { kind: 'already-complete' }
  | { kind: 'dropped' }
  /** `progressed`: the attempt gained bytes before it failed, so it does not count against --retries. */
  | { kind: 'failed'; error: string; retryAfterMs?: number | undefined; progressed?: boolean }
  | { kind: 'restart'; reason: string }
  | { kind: 'rehandshake' }
  | { kind: 'redirect'; url: URL };

export async function download(options: DownloadOptions): Promise<DownloadSummary> {
  return new Download(options).run();
}

class Download {
  private readonly target: Target;
  private readonly output: string;
  private readonly seed: number;
  private readonly plan: DropPlan;
  private readonly retries: number;
  private readonly timeoutMs: number;
  private out!: OutputFile;
  private clientId: string | undefined;
  private etag: string | undefined;
  private size: number | undefined;
  private sha256: string | undefined;
  private redirectedTo: URL | undefined;
  private failures = 0;
  private attempts = 0;
  private received = 0;
  private networkErrors = 0;
  private restarts = 0;
  private redirects = 0;
  private rehandshakes = 0;
  private repaired = false;
  /** Servers moved through (index into the --server list). */
  private hops = 0;
  /** Where every connection of this download reads into (read-ring.ts). */
  private readonly ring: ReadRing | undefined;

  constructor(private readonly o: DownloadOptions) {
    this.target = resolveTarget(o.target, o.server);
    this.output = path.resolve(o.output ?? defaultOutput(this.target));
    this.seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.plan = new DropPlan({ every: o.dropEvery, chance: o.dropChance, seed: this.seed, maxDrops: o.maxDrops });
    this.retries = o.retries ?? 10;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    const ringBytes = o.readBufferBytes ?? DEFAULT_RING_BYTES;
    if (!Number.isInteger(ringBytes) || (ringBytes !== 0 && ringBytes < MIN_RING_BYTES)) {
      throw new MobgetError('MOBGET_USAGE', `readBufferBytes must be 0 or a whole number of at least ${MIN_RING_BYTES}, not ${ringBytes}`);
    }
    this.ring = ringBytes > 0 ? new ReadRing(ringBytes) : undefined;
  }

  private emit(e: DownloadEvent): void {
    this.o.onEvent?.(e);
  }

  private fileUrl(): URL {
    if (this.redirectedTo) return this.redirectedTo;
    if (this.target.mode === 'plain') return this.target.url;
    return new URL(`/${this.clientId}/${encodeName(this.target.name)}`, this.base());
  }

  private stateNow(): ResumeState {
    return {
      version: 1,
      target: this.o.target,
      server: this.target.mode === 'session' ? this.target.base.href : undefined,
      clientId: this.clientId,
      etag: this.etag,
      size: this.size,
      sha256: this.sha256,
    };
  }

  async run(): Promise<DownloadSummary> {
    const started = performance.now();
    const state = await loadState(this.output);
    if (state && state.target !== this.o.target && !this.o.force) {
      throw new MobgetError('MOBGET_OUTPUT_EXISTS', `${this.output} holds an unfinished download of ${state.target}; use another -o or --force`);
    }
    const resuming = state !== undefined && state.target === this.o.target;
    if (!resuming && (await exists(this.output)) && !this.o.force) {
      throw new MobgetError('MOBGET_OUTPUT_EXISTS', `${this.output} already exists and no unfinished download of it is recorded; use --force to download it again, or -o to choose another name`);
    }
    this.out = await OutputFile.open(this.output);
    try {
      if (!resuming) await this.out.truncate();
      else {
        this.clientId = state.server === (this.target.mode === 'session' ? this.target.base.href : undefined) ? state.clientId : undefined;
        this.etag = state.etag;
        this.size = state.size;
        this.sha256 = state.sha256;
      }
      const resumedFrom = this.out.size;
      this.emit({ type: 'start', url: this.target.mode === 'plain' ? this.target.url.href : this.base().href, output: this.output, offset: resumedFrom, seed: this.seed });
      await saveState(this.output, this.stateNow());

      for (;;) {
        if (this.target.mode === 'session' && this.clientId === undefined) {
          await this.handshake();
          continue;
        }
        const result = await this.attempt();
        const done = await this.settle(result);
        if (done) break;
      }

      await this.out.flush();
      const sha = await this.out.digest();
      const digestChecked = this.sha256 !== undefined;
      this.emit({ type: 'verified', size: this.out.size, sha256: sha, digestChecked });
      await removeState(this.output);
      return {
        target: this.o.target,
        url: this.fileUrl().href,
        output: this.output,
        clientId: this.clientId,
        bytes: this.out.size,
        resumedFrom,
        received: this.received,
        seconds: (performance.now() - started) / 1000,
        drops: this.plan.drops,
        networkErrors: this.networkErrors,
        connections: this.attempts,
        reconnects: Math.max(0, this.attempts - 1),
        restarts: this.restarts,
        sha256: sha,
        expectedSha256: this.sha256,
        verified: true,
        digestChecked,
        etag: this.etag,
        seed: this.seed,
      };
    } finally {
      await this.out.close();
    }
  }

  /** Acts on an attempt's result; true when the file is complete and verified. */
  private async settle(r: AttemptResult): Promise<boolean> {
    switch (r.kind) {
      case 'dropped': {
        this.failures = 0;
        this.handOff();
        const delay = this.o.handoffDelayMs ?? 0;
        if (delay > 0) await sleep(delay);
        return false;
      }
      case 'failed': {
        this.handOff();
        if (r.progressed) {
          // The link broke after gaining bytes: a phone reconnects at once.
          this.failures = 0;
          return false;
        }
        this.failures++;
        if (this.failures > this.retries) {
          throw new MobgetError('MOBGET_NETWORK', `giving up after ${this.failures} failed attempts in a row: ${r.error}`, { failures: this.failures });
        }
        // undici's backoff: min(min * factor^(n-1), max), with the server's Retry-After if larger.
        const delay = Math.max(Math.min(100 * 2 ** (this.failures - 1), 5000), r.retryAfterMs ?? 0);
        this.emit({ type: 'retry', delayMs: delay, reason: r.error });
        await sleep(delay);
        return false;
      }
      case 'restart':
        await this.restart(r.reason);
        return false;
      case 'rehandshake':
        if (++this.rehandshakes > MAX_REHANDSHAKES) throw new MobgetError('MOBGET_HTTP_STATUS', 'the server keeps forgetting our client id');
        this.clientId = undefined;
        return false;
      case 'redirect':
        if (++this.redirects > MAX_REDIRECTS) throw new MobgetError('MOBGET_HTTP_STATUS', `more than ${MAX_REDIRECTS} redirects`);
        this.redirectedTo = r.url;
        return false;
      case 'already-complete':
      case 'body-end':
        return this.checkComplete();
    }
  }

  private async restart(reason: string): Promise<void> {
    if (++this.restarts > MAX_RESTARTS) throw new MobgetError('MOBGET_INTEGRITY', `gave up after ${MAX_RESTARTS} restarts from zero: ${reason}`);
    this.emit({ type: 'restart', reason });
    await this.out.truncate();
    this.etag = undefined;
    this.size = undefined;
    this.sha256 = undefined;
    await saveState(this.output, this.stateNow());
  }

  /** After a response body ended: done, more to fetch, or wrong bytes. */
  private async checkComplete(): Promise<boolean> {
    if (this.size === undefined) this.size = this.out.size; // close-delimited or chunked: the end is the end
    if (this.out.size < this.size) return false;
    const sha = this.out.size === this.size && this.sha256 !== undefined ? await this.out.digest() : undefined;
    const wrong =
      this.out.size > this.size
        ? `${this.out.size} bytes on disk but the file has ${this.size}`
        : sha !== undefined && sha !== this.sha256
          ? `SHA-256 ${sha.slice(0, 16)}… does not match the server's Repr-Digest ${this.sha256!.slice(0, 16)}…`
          : undefined;
    if (wrong === undefined) return true;
    if (this.repaired) throw new MobgetError('MOBGET_INTEGRITY', `integrity check failed again after a fresh download: ${wrong}`, { sha256: sha ?? (await this.out.digest()), expected: this.sha256 });
    this.repaired = true;
    await this.restart(`integrity: ${wrong}`);
    return false;
  }

  private proxyFor(url: URL): URL | undefined {
    try {
      return proxyFor(url, this.o.proxy, this.o.env ?? process.env);
    } catch (e) {
      throw new MobgetError('MOBGET_USAGE', `bad proxy: ${(e as Error).message}`);
    }
  }

  /** The server for the next connection (session mode). */
  private base(): URL {
    if (this.target.mode !== 'session') throw new TypeError('no server list in plain mode');
    const { bases } = this.target;
    return bases[this.hops % bases.length]!;
  }

  /** After a drop, the next server of the list: the device moved to another cell. */
  private handOff(): void {
    if (this.target.mode === 'session' && this.target.bases.length > 1 && this.redirectedTo === undefined) this.hops++;
  }

  private nextLocalAddress(): string | undefined {
    const list = this.o.localAddresses;
    return list && list.length > 0 ? list[(this.attempts - 1) % list.length] : undefined;
  }

  private async handshake(): Promise<void> {
    if (this.target.mode !== 'session') return;
    const base = this.base();
    let ex: Exchange | undefined;
    let error: string | undefined;
    try {
      const url = new URL('/', base);
      ex = await openExchange({ url, method: 'GET', headers: [['User-Agent', USER_AGENT]], timeoutMs: this.timeoutMs, proxy: this.proxyFor(url) });
      let status = 0;
      let body = Buffer.alloc(0);
      for await (const ev of ex.events()) {
        if (ev.type === 'head') status = ev.head.status;
        else if (ev.type === 'data') body = Buffer.concat([body, ev.chunk]).subarray(0, 1024);
        else if (ev.type === 'error') error = `bad handshake response: ${ev.message}`;
      }
      const id = body.toString('latin1').trim();
      if (error === undefined) {
        if (status === 200 && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
          this.clientId = id.toLowerCase();
          this.emit({ type: 'handshake', clientId: this.clientId });
          await saveState(this.output, this.stateNow());
          return;
        }
        if (status >= 500 || status === 0) error = `handshake answered ${status}`;
        else throw new MobgetError('MOBGET_HTTP_STATUS', `${base.host} is not a mobserve server: GET / answered ${status}${status === 200 ? ' without a client id' : ''} (for other servers pass a full http:// URL)`);
      }
    } catch (e) {
      if (!(e instanceof NetworkError)) throw e;
      error = e.message;
    } finally {
      ex?.close();
    }
    await this.settle({ kind: 'failed', error: error ?? 'handshake failed' });
  }

  private async attempt(): Promise<AttemptResult> {
    const offset = this.out.size;
    if (this.size !== undefined && offset === this.size && this.sha256 !== undefined && (await this.out.digest()) === this.sha256) return { kind: 'already-complete' };
    const url = this.fileUrl();
    this.attempts++;
    const localAddress = this.nextLocalAddress();
    this.emit({ type: 'connect', attempt: this.attempts, url: url.href, offset, localAddress });
    const headers: Array<[string, string]> = [
      ['User-Agent', USER_AGENT],
      ['Accept', '*/*'],
      ['Range', `bytes=${offset}-`],
    ];
    // RFC 9110 §13.1.5: If-Range only with a strong tag, and only when resuming.
    if (offset > 0 && this.etag !== undefined) headers.push(['If-Range', this.etag]);
    let ex: Exchange;
    try {
      ex = await openExchange({ url, method: 'GET', headers, localAddress, timeoutMs: this.timeoutMs, proxy: this.proxyFor(url), ring: this.ring });
    } catch (e) {
      if (!(e instanceof NetworkError)) throw e;
      return this.networkFailure(e.message);
    }
    const before = this.out.size;
    try {
      return await this.receive(ex, offset);
    } catch (e) {
      if (!(e instanceof NetworkError)) throw e;
      return this.networkFailure(e.message, this.out.size > before);
    } finally {
      ex.close();
    }
  }

  private networkFailure(error: string, progressed = false): AttemptResult {
    this.networkErrors++;
    this.emit({ type: 'network-error', at: this.out.size, error, failures: progressed ? 0 : this.failures + 1 });
    return { kind: 'failed', error, progressed };
  }

  private async receive(ex: Exchange, offset: number): Promise<AttemptResult> {
    let skip = 0;
    let dropAt: number | undefined;
    let wrote = false;
    for await (const ev of ex.events()) {
      if (ev.type === 'head') {
        const decision = await this.onHead(ev.head, offset);
        if (decision.kind !== 'write') return decision;
        skip = decision.skip;
        dropAt = this.plan.nextDrop(this.out.size, this.size);
      } else if (ev.type === 'data') {
        let chunk = ev.chunk;
        // Chunks read into the ring go on to the output, which releases them
        // once written and hashed; bytes not kept are released here.
        const release = ev.release;
        this.received += chunk.length;
        if (skip > 0) {
          const n = Math.min(skip, chunk.length);
          skip -= n;
          chunk = chunk.subarray(n);
          if (chunk.length === 0) {
            release?.();
            continue;
          }
        }
        if (this.size !== undefined && this.out.size + chunk.length > this.size) {
          // More bytes than the file has: keep what fits, the check at the end decides.
          chunk = chunk.subarray(0, Math.max(0, this.size - this.out.size));
        }
        if (dropAt !== undefined && this.out.size + chunk.length >= dropAt) {
          await this.out.append(chunk.subarray(0, dropAt - this.out.size), release);
          ex.cut();
          this.plan.record();
          this.emit({ type: 'progress', bytes: this.out.size, size: this.size, received: this.received });
          this.emit({ type: 'drop', kind: 'simulated', at: this.out.size, drops: this.plan.drops });
          return { kind: 'dropped' };
        }
        await this.out.append(chunk, release);
        wrote = true;
        this.emit({ type: 'progress', bytes: this.out.size, size: this.size, received: this.received });
      } else if (ev.type === 'end') {
        // A body that ends before the file does and brought nothing new is a
        // failed attempt (backoff, then give up), not another lap at full speed.
        if (!wrote && this.size !== undefined && this.out.size < this.size) return { kind: 'failed', error: `the response ended at byte ${this.out.size} of ${this.size}` };
        return { kind: 'body-end' };
      } else {
        // premature close: the link broke mid-body; a malformed response: the server (or a middlebox) is broken.
        return this.networkFailure(ev.message, wrote);
      }
    }
    return { kind: 'failed', error: 'connection closed without a response' };
  }

  private async onHead(head: ResponseHead, offset: number): Promise<AttemptResult | { kind: 'write'; skip: number }> {
    const h = head.headers;
    const status = head.status;
    this.emit({ type: 'response', status, offset, size: this.size });
    if ([301, 302, 303, 307, 308].includes(status) && h.has('location')) {
      try {
        return { kind: 'redirect', url: new URL(h.get('location')!, this.fileUrl()) };
      } catch {
        throw new MobgetError('MOBGET_PROTOCOL', `bad redirect Location ${JSON.stringify(h.get('location'))}`);
      }
    }
    if (status === 404 && h.get('mob-error') === 'unknown-client' && this.target.mode === 'session') return { kind: 'rehandshake' };
    if (status === 408 || status === 429 || status >= 500) {
      const ra = Number(h.get('retry-after'));
      return { kind: 'failed', error: `server answered ${status} ${head.reason}`, retryAfterMs: Number.isFinite(ra) ? Math.min(ra, 30) * 1000 : undefined };
    }
    const etag = strongEtag(h.get('etag'));
    const digest = sha256FromReprDigest(h.get('repr-digest'));

    if (status === 416) {
      const cr = parseContentRange(h.get('content-range'));
      if (cr?.kind === 'unsatisfied' && cr.size === offset) {
        // "You have it all" holds only for the version we hold: a size or a
        // strong tag other than the ones we learned means the file changed.
        if ((this.size !== undefined && cr.size !== this.size) || (offset > 0 && etag !== undefined && this.etag !== undefined && etag !== this.etag)) {
          return { kind: 'restart', reason: `the file changed on the server (416 says ${cr.size} bytes${etag !== undefined ? `, ETag ${etag}` : ''})` };
        }
        this.size = cr.size;
        if (digest) this.sha256 = digest;
        return { kind: 'already-complete' };
      }
      if (cr?.kind === 'unsatisfied' && cr.size < offset) return { kind: 'restart', reason: `the file shrank to ${cr.size} bytes` };
      throw new MobgetError('MOBGET_PROTOCOL', `server answered 416 to bytes=${offset}- (${h.get('content-range') ?? 'no Content-Range'})`);
    }
    if (status >= 400) throw new MobgetError('MOBGET_HTTP_STATUS', `server answered ${status} ${head.reason}${h.get('mob-error') ? ` (${h.get('mob-error')})` : ''}`, { status });

    if (status === 206) {
      const cr = parseContentRange(h.get('content-range'));
      if (cr?.kind !== 'range' || cr.size === undefined) throw new MobgetError('MOBGET_PROTOCOL', `206 without a usable Content-Range (${h.get('content-range') ?? 'none'})`);
      // undici's rule: the range must start where we asked.
      if (cr.start !== offset) return { kind: 'restart', reason: `asked for byte ${offset}, server sent from ${cr.start}` };
      if (cr.end !== cr.size - 1) throw new MobgetError('MOBGET_PROTOCOL', `asked for bytes=${offset}-, got only ${cr.start}-${cr.end}/${cr.size}`);
      if (head.framing === 'length' && head.contentLength !== cr.end - cr.start + 1) {
        throw new MobgetError('MOBGET_PROTOCOL', `Content-Length ${head.contentLength} disagrees with Content-Range ${cr.start}-${cr.end}`);
      }
      if (offset > 0 && ((this.etag !== undefined && etag !== this.etag) || (this.size !== undefined && cr.size !== this.size))) {
        return { kind: 'restart', reason: 'the file changed on the server (new ETag)' };
      }
      await this.learn(etag, cr.size, digest);
      return { kind: 'write', skip: 0 };
    }

    if (status === 200) {
      const length = head.framing === 'length' ? head.contentLength : undefined;
      // mobserve answers a request without Range from its ledger: a 200 whose
      // body starts at byte Mob-Resume-From (docs/PROTOCOL.md §2). We always
      // send Range, so such an answer means a middlebox (a caching proxy)
      // dropped it.
      const resumeHeader = h.get('mob-resume-from');
      const from = resumeHeader !== undefined && /^\d{1,15}$/.test(resumeHeader) ? Number(resumeHeader) : 0;
      const size = length === undefined ? undefined : length + from;
      if (from > 0) {
        const sameVersion = etag !== undefined && (this.etag === undefined || etag === this.etag);
        if (!sameVersion || from > offset) return this.fallBackToPlain(`something between us and the server dropped our Range header, and the server's ledger is at byte ${from} while we hold ${offset}`);
        if (offset > from) this.emit({ type: 'skip', bytes: offset - from });
        await this.learn(etag, size, digest);
        return { kind: 'write', skip: offset - from };
      }
      if (offset === 0) {
        await this.learn(etag, size, digest);
        return { kind: 'write', skip: 0 };
      }
      if (etag !== undefined && etag === this.etag && (size === undefined || size === this.size)) {
        // The server ignored Range: same version, so skip what we already hold.
        this.emit({ type: 'skip', bytes: offset });
        await this.learn(etag, size, digest);
        return { kind: 'write', skip: offset };
      }
      // Another version, or no way to tell: never splice two versions. The
      // body starts at byte 0, so it is written from the start of the file.
      await this.restart(
        etag === undefined
          ? 'the server ignored Range and gave no validator'
          : etag !== this.etag
            ? 'the file changed on the server (If-Range failed)'
            : `the server ignored Range and sent ${size} bytes for a file of ${this.size}`,
      );
      await this.learn(etag, size, digest);
      return { kind: 'write', skip: 0 };
    }
    throw new MobgetError('MOBGET_HTTP_STATUS', `unexpected response ${status} ${head.reason}`, { status });
  }

  /**
   * The client-ID path is unusable through this route (a proxy strips Range,
   * or read ahead and moved the ledger): go on by the plain path, which
   * needs no ledger and resumes with Range, or skips, through any proxy.
   */
  private fallBackToPlain(reason: string): AttemptResult {
    if (this.target.mode !== 'session' || this.redirectedTo !== undefined) {
      throw new MobgetError('MOBGET_PROTOCOL', `${reason}; pass the file's full URL to download it without the ledger`);
    }
    const url = new URL(`/${encodeName(this.target.name)}`, this.base());
    this.emit({ type: 'fallback', reason, url: url.href });
    return { kind: 'redirect', url };
  }

  private async learn(etag: string | undefined, size: number | undefined, digest: string | undefined): Promise<void> {
    const changed = etag !== this.etag || size !== this.size || (digest !== undefined && digest !== this.sha256);
    this.etag = etag;
    if (size !== undefined) this.size = size;
    if (digest !== undefined) this.sha256 = digest;
    if (changed) await saveState(this.output, this.stateNow());
    // A big transfer hashes on a second thread (running-hash.ts); a small one
    // is not worth a thread's start-up.
    const thread = this.o.hashThread ?? 'auto';
    if (thread === 'worker' || (thread === 'auto' && this.size !== undefined && this.size - this.out.size >= WORKER_HASH_MIN_BYTES)) await this.out.hashInWorker();
  }
}
