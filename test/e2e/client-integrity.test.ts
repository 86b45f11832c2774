/**
 * mobget never produces a wrong file silently. A fake server on raw
 * sockets (test/helpers/fake-server.ts) is wrong in exactly one way per
 * case: cut bodies, ignored Range, files that change between attempts,
 * bad Content-Range, flipped bytes, lying lengths, redirects, 5xx, and a
 * client killed mid-download. Each case ends with the exact bytes, or with
 * an error whose `code` says why (tests never look at message text).
 *
 * Most cases call download() in-process; the exit-code cases run the built
 * CLI (`pnpm run build` first).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { download, MobgetError, type DownloadEvent, type DownloadOptions, type DownloadSummary } from '@mobserve/client';
import {
  closedPort,
  correct,
  full,
  partial,
  removeHeader,
  send,
  sendChunked,
  sendCut,
  sendPaced,
  setHeader,
  startFakeServer,
  type FakeServer,
  type Handler,
  type Representation,
} from '../helpers/fake-server.js';
import { MOBGET } from '../helpers/paths.js';
import { killAll, mobget, startProcess } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

const SIZE = 200 * 1024;
/** Version A of the file, and a version B of the same size (so size alone cannot tell them apart). */
const A: Representation = { body: randomBytes(SIZE), etag: '"a-1"' };
const B: Representation = { body: randomBytes(SIZE), etag: '"b-2"' };

let srv: FakeServer | undefined;
let tmp: ReturnType<typeof tempDir>;

beforeEach(() => {
  tmp = tempDir('mobget-integrity-');
});
afterEach(async () => {
  await srv?.close();
  srv = undefined;
  tmp.cleanup();
});
afterAll(killAll);

async function serve(handler: Handler): Promise<FakeServer> {
  srv = await startFakeServer(handler);
  return srv;
}

interface Outcome {
  summary: DownloadSummary | undefined;
  error: MobgetError | undefined;
  events: DownloadEvent[];
  output: string;
}

/** download() in-process with small retries and timeouts; never rejects with a MobgetError, returns it. */
async function fetchFrom(s: FakeServer, extra: Partial<DownloadOptions> = {}): Promise<Outcome> {
  const events: DownloadEvent[] = [];
  const output = path.join(tmp.dir, 'out.bin');
  try {
    const summary = await download({ target: s.url(), output, retries: 3, timeoutMs: 5000, onEvent: (e) => events.push(e), ...extra });
    return { summary, error: undefined, events, output };
  } catch (e) {
    if (!(e instanceof MobgetError)) throw e;
    return { summary: undefined, error: e, events, output };
  }
}

function ofType<T extends DownloadEvent['type']>(events: DownloadEvent[], type: T): Array<Extract<DownloadEvent, { type: T }>> {
  return events.filter((e): e is Extract<DownloadEvent, { type: T }> => e.type === type);
}

/** Byte-exact, compared without printing 200 KiB on failure. */
function expectFile(file: string, want: Buffer): void {
  const got = fs.readFileSync(file);
  expect(got.length).toBe(want.length);
  expect(got.equals(want)).toBe(true);
}

function expectSuccess(o: Outcome, want: Buffer): DownloadSummary {
  expect(o.error).toBeUndefined();
  expectFile(o.output, want);
  expect(o.summary!.verified).toBe(true);
  expect(fs.existsSync(`${o.output}.mobget.json`)).toBe(false);
  return o.summary!;
}

/** Failed, and nothing claims the output is a finished file. */
function expectFailure(o: Outcome, code: string): void {
  expect(o.summary).toBeUndefined();
  expect(o.error?.code).toBe(code);
  expect(ofType(o.events, 'verified')).toEqual([]);
}

const rangeOf = (s: FakeServer, i: number) => s.requests[i]?.headers.get('range');
const ifRangeOf = (s: FakeServer, i: number) => s.requests[i]?.headers.get('if-range');

describe('resuming after a cut', () => {
  test.each([3, 65_536 + 7])('a 206 cut after %i bytes: the retry asks for bytes=<n>- with the same If-Range, and the file is exact', async (cut) => {
    const s = await serve((req, sock, n) => (n === 1 ? sendCut(sock, correct(A, req), cut) : send(sock, correct(A, req))));
    const o = await fetchFrom(s);
    const sum = expectSuccess(o, A.body);
    expect(s.requests).toHaveLength(2);
    expect(rangeOf(s, 0)).toBe('bytes=0-');
    expect(ifRangeOf(s, 0)).toBeUndefined(); // nothing to validate yet
    expect(rangeOf(s, 1)).toBe(`bytes=${cut}-`);
    expect(ifRangeOf(s, 1)).toBe(A.etag);
    expect(sum.networkErrors).toBe(1);
    expect(sum.restarts).toBe(0);
    expect(sum.received).toBe(SIZE); // not a byte fetched twice
  });

  test('a lying Content-Length (promises the rest, sends less, then FIN) is a drop: resumed, exact file', async () => {
    const s = await serve((req, sock, n) => (n === 1 ? sendCut(sock, correct(A, req), 100_000, 'end') : send(sock, correct(A, req))));
    const o = await fetchFrom(s);
    const sum = expectSuccess(o, A.body);
    expect(rangeOf(s, 1)).toBe('bytes=100000-');
    expect(ifRangeOf(s, 1)).toBe(A.etag);
    expect(sum.restarts).toBe(0);
    expect(ofType(o.events, 'network-error')).toHaveLength(1);
  });
  test('a 206 that ends (FIN, close-delimited) before the file does, again and again with no new byte: MOBGET_NETWORK after the retries, no hot loop', async () => {
    const s = await serve((req, sock, n) => (n === 1 ? sendCut(sock, correct(A, req), 1000) : sendCut(sock, removeHeader(correct(A, req), 'Content-Length'), 0, 'end')));
    const o = await fetchFrom(s, { retries: 2 });
    expectFailure(o, 'MOBGET_NETWORK');
    // The first cut gained bytes, so it does not count; then three answers
    // with nothing new make 3 failures > retries (2).
    expect(s.requests).toHaveLength(4);
    expect(ofType(o.events, 'retry')).toHaveLength(2);
  });
});

describe('servers that ignore Range', () => {
  test('200 with the same strong ETag every time: mobget skips what it has, no duplicated prefix', async () => {
    const s = await serve((_req, sock, n) => (n === 1 ? sendCut(sock, full(A), 50_000) : send(sock, full(A))));
    const o = await fetchFrom(s);
    const sum = expectSuccess(o, A.body);
    expect(rangeOf(s, 1)).toBe('bytes=50000-');
    expect(ifRangeOf(s, 1)).toBe(A.etag);
    expect(ofType(o.events, 'skip')).toEqual([{ type: 'skip', bytes: 50_000 }]);
    expect(ofType(o.events, 'restart')).toEqual([]);
    expect(sum.restarts).toBe(0);
    expect(sum.received).toBe(50_000 + SIZE); // the repeated prefix came over the wire but was not written
  });

  test('200 without an ETag (like python http.server): restart from zero, exact file', async () => {
    const plain: Representation = { body: A.body, digest: false };
    const s = await serve((_req, sock, n) => (n === 1 ? sendCut(sock, full(plain), 50_000) : send(sock, full(plain))));
    const o = await fetchFrom(s);
    const sum = expectSuccess(o, A.body);
    expect(rangeOf(s, 1)).toBe('bytes=50000-');
    expect(ifRangeOf(s, 1)).toBeUndefined(); // no validator to send
    expect(ofType(o.events, 'restart')).toHaveLength(1);
    expect(ofType(o.events, 'skip')).toEqual([]);
    expect(sum.restarts).toBe(1);
    expect(sum.digestChecked).toBe(false);
  });

  test.each(['chunked', 'close-delimited'] as const)('a %s 200 without Content-Length: exact file', async (framing) => {
    // Range is ignored: the whole file, framed without a length.
    const s = await serve((_req, sock) => (framing === 'chunked' ? sendChunked(sock, full(A), 6_151) : send(sock, removeHeader(full(A), 'Content-Length'))));
    const o = await fetchFrom(s);
    const sum = expectSuccess(o, A.body);
    expect(s.requests).toHaveLength(1);
    expect(sum.digestChecked).toBe(true);
  });
});

describe('the file changes between attempts', () => {
  test('If-Range fails and the server sends version B whole: the output is B, never a splice of A and B', async () => {
    const s = await serve((req, sock, n) => (n === 1 ? sendCut(sock, correct(A, req), 40_000) : send(sock, correct(B, req))));
    const o = await fetchFrom(s);
    const sum = expectSuccess(o, B.body);
    expect(ifRangeOf(s, 1)).toBe(A.etag);
    expect(ofType(o.events, 'restart')).toHaveLength(1);
    expectNothingWrittenBetween(o.events, 1); // caught at the head, not later by the digest
    expect(ofType(o.events, 'skip')).toEqual([]);
    expect(sum.etag).toBe(B.etag);
    expect(sum.restarts).toBe(1);
  });

  test('a 206 with a new ETag on resume (the server ignored If-Range): restart, the output is B', async () => {
    const s = await serve((req, sock, n) => {
      if (n === 1) return sendCut(sock, correct(A, req), 40_000);
      if (n === 2) return send(sock, correct(B, setRequestHeader(req, 'if-range', undefined))); // 206 of B from our offset
      send(sock, correct(B, req));
    });
    const o = await fetchFrom(s);
    const sum = expectSuccess(o, B.body);
    expect(rangeOf(s, 1)).toBe('bytes=40000-');
    expect(ifRangeOf(s, 1)).toBe(A.etag);
    expect(rangeOf(s, 2)).toBe('bytes=0-');
    expect(sum.restarts).toBe(1);
    expectNothingWrittenBetween(o.events, 1);
  });

  test('a 206 whose Content-Range starts elsewhere than asked: nothing written from it, restart, exact file', async () => {
    const s = await serve((req, sock, n) => {
      if (n === 1) return sendCut(sock, correct(A, req), 30_000);
      if (n === 2) return send(sock, partial(A, 29_000)); // 1000 bytes early: would duplicate them
      send(sock, correct(A, req));
    });
    const o = await fetchFrom(s);
    const sum = expectSuccess(o, A.body);
    expect(rangeOf(s, 1)).toBe('bytes=30000-');
    expect(rangeOf(s, 2)).toBe('bytes=0-');
    expect(sum.restarts).toBe(1);
    expectNothingWrittenBetween(o.events, 1);
  });
});

describe('"you have it all" (416) from a file that changed', () => {
  // No Repr-Digest here: the size and the ETag are all mobget has to notice the change.
  const C: Representation = { body: randomBytes(40_000), etag: '"c-3"', digest: false };

  test('416 bytes */<our offset> although the file we were fetching was larger: restart, the output is the new file', async () => {
    const noTag: Representation = { body: A.body, digest: false };
    const shrunk: Representation = { body: C.body, digest: false };
    const s = await serve((req, sock, n) => (n === 1 ? sendCut(sock, correct(noTag, req), 40_000) : send(sock, correct(shrunk, req))));
    const o = await fetchFrom(s);
    expect(o.error).toBeUndefined();
    expect(s.requests[1]?.headers.get('range')).toBe('bytes=40000-');
    expect(s.requests[2]?.headers.get('range')).toBe('bytes=0-');
    expectSuccess(o, C.body); // not the first 40000 bytes of A
    expect(o.summary!.restarts).toBe(1);
  });

  test('416 bytes */<our offset> with another ETag (If-Range ignored): restart, the output is the new file', async () => {
    const ignoresIfRange: Handler = (req, sock, n) => (n === 1 ? sendCut(sock, correct({ ...A, digest: false }, req), 40_000) : send(sock, correct(C, setRequestHeader(req, 'if-range', undefined))));
    const s = await serve(ignoresIfRange);
    const o = await fetchFrom(s);
    expect(ifRangeOf(s, 1)).toBe(A.etag);
    const sum = expectSuccess(o, C.body);
    expect(sum.etag).toBe(C.etag);
    expect(sum.restarts).toBe(1);
  });
});

/** The `index`-th (0-based) response event is followed directly by a restart, no byte written in between. */
function expectNothingWrittenBetween(events: DownloadEvent[], index: number): void {
  const at = events.indexOf(ofType(events, 'response')[index]!);
  expect(events[at + 1]?.type).toBe('restart');
}

function setRequestHeader(req: Parameters<Handler>[0], name: string, value: string | undefined): Parameters<Handler>[0] {
  const headers = new Map(req.headers);
  if (value === undefined) headers.delete(name);
  else headers.set(name, value);
  return { ...req, headers };
}

describe('wrong bytes', () => {
  const flipped = (r: ReturnType<typeof correct>): ReturnType<typeof correct> => {
    const body = Buffer.from(r.body);
    body[Math.floor(body.length / 2)]! ^= 0x01;
    return { ...r, body };
  };

  test('one byte flipped every time, Repr-Digest correct: MOBGET_INTEGRITY (exit 4) after one repair attempt', async () => {
    const s = await serve((req, sock) => send(sock, flipped(correct(A, req))));
    const o = await fetchFrom(s);
    expectFailure(o, 'MOBGET_INTEGRITY');
    expect(o.error!.exitCode).toBe(4);
    expect(s.requests).toHaveLength(2); // the download, then one fresh repair
    expect(ofType(o.events, 'restart')).toHaveLength(1);
    expect(fs.existsSync(`${o.output}.mobget.json`)).toBe(true); // still unfinished, not claimed done
  });

  test('the same through the CLI: exit code 4 and a --json error object', async () => {
    const s = await serve((req, sock) => send(sock, flipped(correct(A, req))));
    const r = await mobget(['fetch', s.url(), '-o', 'out.bin', '--json', '--retries', '2', '--timeout', '5s'], { cwd: tmp.dir, timeoutMs: 20_000 });
    expect(r.code).toBe(4);
    expect(r.json.error).toMatchObject({ code: 'MOBGET_INTEGRITY', exitCode: 4 });
  });

  test('one byte flipped on the first try only: repaired by one fresh download', async () => {
    const s = await serve((req, sock, n) => send(sock, n === 1 ? flipped(correct(A, req)) : correct(A, req)));
    const o = await fetchFrom(s);
    const sum = expectSuccess(o, A.body);
    expect(sum.restarts).toBe(1);
    expect(sum.digestChecked).toBe(true);
    expect(rangeOf(s, 1)).toBe('bytes=0-');
  });

  test('too many bytes (Content-Length above the Content-Range span): MOBGET_PROTOCOL, no file claimed valid', async () => {
    const s = await serve((req, sock) => {
      const r = correct(A, req);
      send(sock, setHeader({ ...r, body: Buffer.concat([r.body, randomBytes(100)]) }, 'Content-Length', String(r.body.length + 100)));
    });
    const o = await fetchFrom(s);
    expectFailure(o, 'MOBGET_PROTOCOL');
    expect(o.error!.exitCode).toBe(3);
    expect(fs.statSync(o.output).size).toBe(0);
  });
});

describe('redirects and statuses', () => {
  test('302 to another path on the same server is followed', async () => {
    const s = await serve((req, sock) => {
      if (req.target === '/file.bin') return send(sock, { status: 302, reason: 'Found', headers: [['Location', '/real/file.bin'], ['Content-Length', '0']], body: Buffer.alloc(0) });
      send(sock, correct(A, req));
    });
    const o = await fetchFrom(s);
    const sum = expectSuccess(o, A.body);
    expect(s.requests.map((r) => r.target)).toEqual(['/file.bin', '/real/file.bin']);
    expect(sum.url).toBe(s.url('/real/file.bin'));
  });

  test('a redirect loop ends with MOBGET_HTTP_STATUS', async () => {
    const s = await serve((req, sock) => send(sock, { status: 302, reason: 'Found', headers: [['Location', req.target], ['Content-Length', '0']], body: Buffer.alloc(0) }));
    const o = await fetchFrom(s);
    expectFailure(o, 'MOBGET_HTTP_STATUS');
    expect(s.requests.length).toBeLessThanOrEqual(10);
  });

  test('503 with Retry-After: 0 twice, then the file', async () => {
    const s = await serve((req, sock, n) =>
      n <= 2 ? send(sock, { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '0'], ['Content-Length', '0']], body: Buffer.alloc(0) }) : send(sock, correct(A, req)),
    );
    const o = await fetchFrom(s);
    expectSuccess(o, A.body);
    expect(s.requests).toHaveLength(3);
    expect(ofType(o.events, 'retry')).toHaveLength(2);
  });

  test('404 through the CLI: exit code 3, --json error code MOBGET_HTTP_STATUS', async () => {
    const s = await serve((_req, sock) => send(sock, { status: 404, reason: 'Not Found', headers: [['Content-Length', '9']], body: Buffer.from('not found') }));
    const r = await mobget(['fetch', s.url(), '-o', 'out.bin', '--json', '--retries', '2', '--timeout', '5s'], { cwd: tmp.dir, timeoutMs: 20_000 });
    expect(r.code).toBe(3);
    expect(r.json.error).toMatchObject({ code: 'MOBGET_HTTP_STATUS', exitCode: 3 });
    expect(s.requests).toHaveLength(1); // a 404 is an answer, not a failure to retry
  });

  test('connection refused with --retries 2: MOBGET_NETWORK quickly, exit code 3', async () => {
    const port = await closedPort();
    const started = Date.now();
    const r = await mobget(['fetch', `http://127.0.0.1:${port}/file.bin`, '-o', 'out.bin', '--json', '--retries', '2', '--timeout', '5s'], { cwd: tmp.dir, timeoutMs: 20_000 });
    expect(r.code).toBe(3);
    expect(r.json.error).toMatchObject({ code: 'MOBGET_NETWORK', exitCode: 3 });
    expect(Date.now() - started).toBeLessThan(5_000); // backoff 100 + 200 ms, plus node start-up
  });
});

describe('the output file', () => {
  const args = (s: FakeServer, ...more: string[]) => ['fetch', s.url(), '--json', '--retries', '2', '--timeout', '5s', ...more];

  test('not writable (its parent is a regular file): exit code 5, MOBGET_OUTPUT, nothing fetched', async () => {
    const s = await serve((req, sock) => send(sock, correct(A, req)));
    fs.writeFileSync(path.join(tmp.dir, 'blocker'), 'a file, not a directory');
    const r = await mobget(args(s, '-o', path.join('blocker', 'out.bin')), { cwd: tmp.dir, timeoutMs: 20_000 });
    expect(r.code).toBe(5);
    expect(r.json.error).toMatchObject({ code: 'MOBGET_OUTPUT', exitCode: 5 });
    expect(s.requests).toHaveLength(0);
  });

  test('its state file cannot be written: exit code 5, MOBGET_OUTPUT, no temporary file left', async () => {
    const s = await serve((req, sock) => send(sock, correct(A, req)));
    fs.mkdirSync(path.join(tmp.dir, 'out.bin.mobget.json')); // rename onto a directory fails
    const r = await mobget(args(s, '-o', 'out.bin'), { cwd: tmp.dir, timeoutMs: 20_000 });
    expect(r.code).toBe(5);
    expect(r.json.error).toMatchObject({ code: 'MOBGET_OUTPUT', exitCode: 5 });
    expect(fs.readdirSync(tmp.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('exists without a state file: exit code 2, MOBGET_OUTPUT_EXISTS, untouched; with --force it is replaced', async () => {
    const s = await serve((req, sock) => send(sock, correct(A, req)));
    const out = path.join(tmp.dir, 'out.bin');
    const mine = Buffer.from('somebody else’s file, keep it\n');
    fs.writeFileSync(out, mine);

    const refused = await mobget(args(s, '-o', 'out.bin'), { cwd: tmp.dir, timeoutMs: 20_000 });
    expect(refused.code).toBe(2);
    expect(refused.json.error).toMatchObject({ code: 'MOBGET_OUTPUT_EXISTS', exitCode: 2 });
    expectFile(out, mine);
    expect(fs.existsSync(`${out}.mobget.json`)).toBe(false);
    expect(s.requests).toHaveLength(0);

    const forced = await mobget(args(s, '-o', 'out.bin', '--force'), { cwd: tmp.dir, timeoutMs: 20_000 });
    expect(forced.code).toBe(0);
    expect(forced.json.resumedFrom).toBe(0);
    expectFile(out, A.body);
  });

  test('mobget SIGKILLed mid-download resumes on the re-run from the size on disk, byte-exact', async () => {
    let paced = true;
    const s = await serve((req, sock) => (paced ? sendPaced(sock, correct(A, req), { chunk: 4096, everyMs: 20 }) : send(sock, correct(A, req))));
    const out = path.join(tmp.dir, 'out.bin');
    const proc = startProcess(process.execPath, [MOBGET, ...args(s, '-o', 'out.bin')], { cwd: tmp.dir });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.once('exit', (_code: number | null, signal: NodeJS.Signals | null) => resolve(signal)));
    await waitUntil(() => fs.existsSync(out) && fs.statSync(out).size >= 40_000, 10_000, 'mobget to write 40 KB');
    proc.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const onDisk = fs.statSync(out).size;
    expect(onDisk).toBeGreaterThan(0);
    expect(onDisk).toBeLessThan(SIZE);
    const state = JSON.parse(fs.readFileSync(`${out}.mobget.json`, 'utf8'));
    expect(state).toMatchObject({ target: s.url(), etag: A.etag, size: SIZE });
    expectFile(out, A.body.subarray(0, onDisk)); // a correct prefix

    paced = false;
    const before = s.requests.length;
    const r = await mobget(args(s, '-o', 'out.bin'), { cwd: tmp.dir, timeoutMs: 20_000 });
    expect(r.code).toBe(0);
    expect(r.json.resumedFrom).toBe(onDisk);
    expect(r.json.restarts).toBe(0);
    expect(rangeOf(s, before)).toBe(`bytes=${onDisk}-`);
    expect(ifRangeOf(s, before)).toBe(A.etag);
    expectFile(out, A.body);
    expect(fs.existsSync(`${out}.mobget.json`)).toBe(false);
  });
});

