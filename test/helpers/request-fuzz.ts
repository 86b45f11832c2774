/**
 * Request fuzzing, shared by the parser's in-process fuzz test
 * (packages/server/test/request-parser.fuzz.test.ts) and the live-server one
 * (test/e2e/fuzz-live.test.ts): a seeded PRNG, a generator of requests
 * (valid, broken by construction, truncated, blank) and a mutator (byte
 * flips, insertions, deletions, duplications, splices of two requests).
 *
 * Every generated case says what a server must answer, known by
 * construction, so the tests need not ask the code under test. Mutated
 * cases have no such answer ('any'); for them the live test checks that the
 * server agrees with the parser run in-process.
 *
 * A case is a pure function of (seed, index): `caseAt(seed, i)` regenerates
 * case i of a run alone, which is how a failure is replayed.
 *
 * No imports from the server's sources: both the server's and the
 * end-to-end tsconfig compile this file.
 */

// ---------------------------------------------------------------- randomness

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

// Module-level copies: under jest every global lookup (`Math`) goes through
// the test context's global proxy, which made the PRNG 80 times slower.
const imul = Math.imul;
const floor = Math.floor;
const chr = String.fromCharCode;

/**
 * mulberry32, as in packages/common/src/random.ts, kept here on purpose:
 * this copy uses the module-level `imul` above (see the note there).
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The generator of case `index` in the run `seed` (a murmur3-style mix of both). */
export function caseRng(seed: number, index: number): Rng {
  let h = imul((seed ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return mulberry32(h >>> 0);
}

/** An integer in [0, n). */
export function int(rng: Rng, n: number): number {
  return floor(rng() * n);
}

/** An integer in [lo, hi]. */
export function between(rng: Rng, lo: number, hi: number): number {
  return lo + int(rng, hi - lo + 1);
}

export function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[int(rng, xs.length)]!;
}

export function chance(rng: Rng, p: number): boolean {
  return rng() < p;
}

// ------------------------------------------------------------------ settings

export interface FuzzSettings {
  seed: number;
  cases: number;
  /** FUZZ_ONLY=i: run case i alone (replaying a failure). */
  only: number | undefined;
}

/** The CI seed. Change it only on purpose: the figures in docs/RELIABILITY.md come from it. */
export const CI_SEED = 0xc0ffee;
export const CI_CASES = 100_000;

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new Error(`${name}=${v}: expected a whole number (decimal or 0x hex)`);
  return n;
}

/** Fixed seed and 100,000 cases unless FUZZ_SEED / FUZZ_CASES / FUZZ_ONLY say otherwise. */
export function fuzzSettings(): FuzzSettings {
  return { seed: (envInt('FUZZ_SEED') ?? CI_SEED) >>> 0, cases: envInt('FUZZ_CASES') ?? CI_CASES, only: envInt('FUZZ_ONLY') };
}

/** The indexes a run covers: all of them, or the one FUZZ_ONLY names. */
export function caseIndexes(s: FuzzSettings): { first: number; count: number } {
  return s.only === undefined ? { first: 0, count: s.cases } : { first: s.only, count: 1 };
}

// --------------------------------------------------------------------- cases

export type CaseKind =
  /** A well-formed GET or HEAD. */
  | 'valid'
  /** A well-formed request whose Range is broken in one of the many ways. */
  | 'range'
  /** A request with exactly one defect, refused by the server. */
  | 'garbage'
  /** A strict prefix of a valid request: no complete head. */
  | 'truncated'
  /** Nothing, or only empty lines or blanks without a line end. */
  | 'blank'
  /** Random edits of any of the above. */
  | 'mutated';

/**
 * What the server must answer, known by construction:
 * - `{ statuses }`: a response whose status line carries one of these,
 * - `'close'`: no response, the server closes (no complete head was sent and
 *   nothing in it is wrong yet; the client's FIN ends the connection),
 * - `'any'`: a response with any 1.1 status, or a close (mutated cases).
 */
export type Expect = { statuses: readonly number[] } | 'close' | 'any';

export interface FuzzCase {
  bytes: Buffer;
  kind: CaseKind;
  /** What made it, e.g. `garbage:bare-lf-eol`, or `mutated:flip+<garbage:obs-fold>+splice<valid:file>` (edits, the cases spliced in, and the base). */
  label: string;
  expect: Expect;
}

/** The bytes as a JSON string literal: printable, and `Buffer.from(JSON.parse(s), 'latin1')` gives them back. */
export function escapeBytes(b: Buffer): string {
  return JSON.stringify(b.toString('latin1'));
}

/**
 * The bytes for a failure message: in full up to 4 KiB; beyond that, runs of
 * a repeated unit are shown once with a count (`«"\r\n"×8193»`) so a
 * flood stays readable. FUZZ_ONLY regenerates the exact bytes either way.
 */
export function showBytes(b: Buffer): string {
  if (b.length <= 4096) return escapeBytes(b);
  const s = b.toString('latin1');
  const parts: string[] = [];
  let plain = '';
  for (let i = 0; i < s.length; ) {
    let best: [number, number] | undefined;
    for (let unit = 1; unit <= 8 && i + unit <= s.length; unit++) {
      let n = 1;
      while (s.startsWith(s.slice(i, i + unit), i + n * unit)) n++;
      if (n * unit >= 64 && (!best || n * unit > best[0] * best[1])) best = [unit, n];
    }
    if (best) {
      if (plain) parts.push(JSON.stringify(plain));
      plain = '';
      parts.push(`«${JSON.stringify(s.slice(i, i + best[0]))}×${best[1]}»`);
      i += best[0] * best[1];
    } else plain += s[i++];
  }
  if (plain) parts.push(JSON.stringify(plain));
  return parts.join(' ');
}

/** A description of a case for failure messages, with everything needed to replay it. */
export function describeCase(c: FuzzCase, seed: number, index: number): string {
  return (
    `case ${index} of seed 0x${seed.toString(16)} (replay: FUZZ_SEED=0x${seed.toString(16)} FUZZ_ONLY=${index}): ` +
    `${c.kind} ${c.label}, ${c.bytes.length} bytes: ${showBytes(c.bytes)}`
  );
}

// ------------------------------------------------------------------ requests

const CRLF = '\r\n';

/** A request before it becomes bytes. Strings are latin1: one char, one byte. */
interface Req {
  method: string;
  target: string;
  version: string;
  fields: Array<[string, string]>;
  body: string;
}

function render(r: Req): string {
  let s = `${r.method} ${r.target} ${r.version}${CRLF}`;
  for (const [n, v] of r.fields) s += `${n}:${v}${CRLF}`;
  return s + CRLF + r.body;
}

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Files in fixtures/ (the live test serves that directory). */
export const FIXTURE_FILES = ['/word.doc', '/hello.txt', '/one-byte.bin', '/empty.bin'] as const;

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomFrom(rng: Rng, alphabet: string, lo: number, hi: number): string {
  let s = '';
  for (let n = between(rng, lo, hi); n > 0; n--) s += alphabet[int(rng, alphabet.length)];
  return s;
}

/** A field value: visible ASCII, inner blanks, sometimes obs-text (all legal, RFC 9110 §5.5). */
function fieldValue(rng: Rng): string {
  let s = '';
  for (let n = between(rng, 0, 24); n > 0; n--) {
    const r = rng();
    if (r < 0.8) s += chr(between(rng, 0x21, 0x7e));
    else if (r < 0.9) s += pick(rng, [' ', '\t']);
    else s += chr(between(rng, 0x80, 0xff));
  }
  return s;
}

/** Optional whitespace around a value (stripped by the parser, RFC 9112 §5.1). */
function ows(rng: Rng, v: string): string {
  const pad = () => (chance(rng, 0.7) ? ' ' : pick(rng, ['', '  ', '\t', ' \t ']));
  return `${pad()}${v}${chance(rng, 0.85) ? '' : pick(rng, [' ', '\t', ' \t'])}`;
}

function randomCase(rng: Rng, name: string): string {
  const r = rng();
  if (r < 0.6) return name;
  if (r < 0.8) return name.toLowerCase();
  if (r < 0.9) return name.toUpperCase();
  return [...name].map((c) => (chance(rng, 0.5) ? c.toUpperCase() : c.toLowerCase())).join('');
}

function uuid(rng: Rng): string {
  const hex = () => randomFrom(rng, '0123456789abcdef', 1, 1);
  const part = (n: number) => Array.from({ length: n }, hex).join('');
  const id = `${part(8)}-${part(4)}-4${part(3)}-${pick(rng, ['8', '9', 'a', 'b'])}${part(3)}-${part(12)}`;
  return chance(rng, 0.2) ? id.toUpperCase() : id;
}

function host(rng: Rng): string {
  return pick(rng, ['127.0.0.1', 'localhost', '127.0.0.1:8080', 'example.com', '[::1]:80', 'h', `${randomFrom(rng, ALNUM, 1, 12)}.test`]);
}

/** Statuses for a file that exists, by what the request asks. */
const FILE_OK = [200] as const;
const FILE_RANGE = [206, 416] as const;

interface Built {
  req: Req;
  statuses: readonly number[];
  /** Label suffix. */
  what: string;
}

/** A well-formed GET or HEAD, with the statuses the fixtures root gives it. */
function validRequest(rng: Rng): Built {
  const method = chance(rng, 0.75) ? 'GET' : 'HEAD';
  const v10 = chance(rng, 0.15);
  const fields: Array<[string, string]> = [];
  if (!v10 || chance(rng, 0.5)) fields.push([randomCase(rng, 'Host'), ows(rng, host(rng))]);

  let target: string;
  let statuses: readonly number[];
  let what: string;
  const r = rng();
  if (r < 0.5) {
    // A fixture, in any of the spellings that name it.
    const file = pick(rng, FIXTURE_FILES);
    what = 'file';
    target = pick(rng, [
      file,
      file,
      file.replace('.', '%2E'),
      file.replace('.', '%2e'),
      `${file}?${randomFrom(rng, ALNUM, 0, 8)}=${randomFrom(rng, ALNUM, 0, 8)}`,
      `http://${host(rng)}${file}`,
      `HTTP://EXAMPLE.COM:8080${file}?x`,
    ]);
    statuses = FILE_OK;
    const c = rng();
    if (c < 0.3) {
      const span = pick(rng, ['0-99', '0-0', '10-', '-5', '1-1', '0-', '99999-', '-100352', '100351-100351', `${between(rng, 0, 200000)}-`]);
      fields.push([randomCase(rng, 'Range'), ows(rng, `bytes=${span}`)]);
      statuses = FILE_RANGE;
      what += '+range';
      if (chance(rng, 0.2)) {
        // §13.1.5: an If-Range that cannot match turns the Range off.
        fields.push([randomCase(rng, 'If-Range'), ows(rng, '"never-this-tag"')]);
        statuses = FILE_OK;
        what += '+if-range';
      }
    } else if (c < 0.4) {
      fields.push([randomCase(rng, 'If-None-Match'), ows(rng, '*')]);
      statuses = [304];
      what += '+inm';
    } else if (c < 0.45) {
      fields.push([randomCase(rng, 'If-Modified-Since'), ows(rng, 'Fri, 31 Dec 9999 23:59:59 GMT')]);
      statuses = [304];
      what += '+ims';
    }
  } else if (r < 0.65) {
    what = 'missing';
    target = pick(rng, [
      `/${randomFrom(rng, ALNUM, 1, 20)}.txt`,
      `/no/such/${randomFrom(rng, ALNUM, 1, 8)}`,
      '/%C3%BCber.txt',
      '/a%20b',
      `/${randomFrom(rng, ALNUM, 1, 30)}`,
      '/word.doc.bak',
    ]);
    statuses = [404];
  } else if (r < 0.8) {
    what = 'handshake';
    target = pick(rng, ['/', '/', '/?x=1', `http://${host(rng)}`, `http://${host(rng)}/`]);
    statuses = [200];
  } else {
    // An unknown device: the client route answers 404 unknown-client.
    what = 'client';
    target = `/${uuid(rng)}${pick(rng, FIXTURE_FILES)}`;
    statuses = [404];
  }

  const extras: Array<[string, string]> = [
    ['User-Agent', `fuzz/${randomFrom(rng, ALNUM, 1, 6)}`],
    ['Accept', '*/*'],
    ['Accept-Encoding', 'gzip, deflate'],
    ['Connection', pick(rng, ['keep-alive', 'close', 'Keep-Alive', 'upgrade, close', 'TE'])],
    ['Content-Length', '0'],
    ['Cache-Control', 'no-cache'],
    [`X-${randomFrom(rng, TCHARS, 1, 16)}`, fieldValue(rng)],
    [`${randomFrom(rng, TCHARS, 1, 24)}`, fieldValue(rng)],
  ];
  for (let n = between(rng, 0, 5); n > 0; n--) {
    const [name, value] = pick(rng, extras);
    const lname = name.toLowerCase();
    // Singletons and fields that change the answer are set above, once.
    if (['host', 'range', 'if-range', 'content-length', 'transfer-encoding', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since'].includes(lname)) {
      if (lname !== 'content-length' || fields.some(([f]) => f.toLowerCase() === 'content-length')) continue;
    }
    fields.splice(int(rng, fields.length + 1), 0, [randomCase(rng, name), ows(rng, value)]);
  }
  return { req: { method, target, version: v10 ? 'HTTP/1.0' : pick(rng, ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.2', 'HTTP/1.9']), fields, body: '' }, statuses, what };
}

// -------------------------------------------------------------------- ranges

const TWO_64 = '18446744073709551616';

/**
 * A Range value on a file of WORD_SIZE bytes (word.doc) and the status it
 * must get. The table names the broken shapes; `random-list` composes them.
 */
const WORD_SIZE = 100352;

export function rangeShape(rng: Rng): { value: string; statuses: readonly number[]; shape: string } {
  const n = (hi = WORD_SIZE * 2) => between(rng, 0, hi);
  const shapes: Array<() => [string, readonly number[], string]> = [
    () => ['bytes=', [416], 'empty-set'],
    () => {
      const a = between(rng, 1, WORD_SIZE * 2);
      return [`bytes=${a}-${between(rng, 0, a - 1)}`, [416], 'last<first'];
    },
    () => ['bytes=-0', [416], 'suffix-0'],
    () => ['bytes=0-0,-0', [200], 'with-suffix-0'],
    () => {
      // Several satisfiable ranges: ignored (§14.2), the whole file.
      const k = between(rng, 2, 400);
      return [`bytes=${Array.from({ length: k }, () => `${n(WORD_SIZE - 1)}-`).join(',')}`, [200], 'many'];
    },
    () => {
      const k = between(rng, 2, 50);
      return [`bytes=${Array.from({ length: k }, () => `${between(rng, WORD_SIZE, WORD_SIZE * 3)}-`).join(',')}`, [416], 'many-beyond'];
    },
    () => [`bytes=${TWO_64}-`, [416], '2^64-'],
    () => [`bytes=0-${TWO_64}`, [206], '0-2^64'],
    () => [`bytes=-${TWO_64}`, [206], 'suffix-2^64'],
    () => [`bytes=${TWO_64}-${TWO_64}1`, [416], '2^64-2^64'],
    () => [`bytes=${TWO_64}-5`, [416], '2^64-5'],
    () => ['bytes=9007199254740993-', [416], '2^53+1-'],
    () => ['bytes=0-9007199254740993', [206], '0-2^53+1'],
    () => ['bytes=900719925474099-', [416], '15-digit-first'],
    () => ['bytes= 0-5', [206], 'ws-after-eq'],
    () => ['bytes =0-5', [206], 'ws-before-eq'],
    () => ['bytes=\t0-5', [206], 'tab-after-eq'],
    () => ['bytes=0-5 , 7-9', [200], 'ws-around-comma'],
    () => ['bytes=0 -5', [416], 'ws-inside'],
    () => ['bytes=0- 5', [416], 'ws-inside-2'],
    () => ['bites=0-5', [200], 'other-unit'],
    () => [`${randomFrom(rng, 'acdefghijklmnopqrstuvwxz', 1, 12)}=0-5`, [200], 'random-unit'],
    () => ['BYTES=0-5', [206], 'upper-unit'],
    () => ['bytes 0-5', [416], 'no-eq'],
    () => ['=0-5', [416], 'empty-unit'],
    () => ['by tes=0-5', [416], 'space-in-unit'],
    () => ['bytes;=0-5', [416], 'non-token-unit'],
    () => ['bytes==0-5', [416], 'double-eq'],
    () => ['bytes=0-5=', [416], 'trailing-eq'],
    () => ['bytes=--100', [416], 'double-dash'],
    () => ['bytes=01a-150', [416], 'letters'],
    () => ['bytes=0x10-20', [416], 'hex'],
    () => ['bytes=+1-2', [416], 'plus'],
    () => ['bytes=1.5-2', [416], 'fraction'],
    () => ['bytes=,', [416], 'only-comma'],
    () => ['bytes=,,0-1,,', [206], 'empty-elements'],
    () => ['bytes=5-2,0-1', [416], 'invalid-then-valid'],
    () => [`bytes=${WORD_SIZE}-`, [416], 'at-end'],
    () => [`bytes=${WORD_SIZE - 1}-`, [206], 'last-byte'],
    () => [`bytes=-${WORD_SIZE * 1000}`, [206], 'suffix-beyond'],
    () => ['bytes=-', [416], 'dash-only'],
    () => ['bytes=0-1-2', [416], 'two-dashes'],
    () => ['bytes=\u00e9-1', [416], 'obs-text'],
    () => [randomRangeValue(rng), [200, 206, 416], 'random-list'],
    () => [randomRangeValue(rng), [200, 206, 416], 'random-list'],
  ];
  const [value, statuses, shape] = pick(rng, shapes)();
  return { value, statuses, shape };
}

/** Random pieces of range syntax: digits of every length, dashes, commas, blanks, junk. */
export function randomRangeValue(rng: Rng): string {
  const unit = pick(rng, ['bytes', 'bytes', 'bytes', 'Bytes', 'BYTES', ' bytes ', 'none', 'items', 'byte', '', 'b\u00fftes', 'by,tes']);
  const digits = () => {
    const r = rng();
    if (r < 0.5) return String(between(rng, 0, 200));
    if (r < 0.7) return String(between(rng, 0, 1e6));
    if (r < 0.8) return randomFrom(rng, '0123456789', 0, 25);
    if (r < 0.9) return pick(rng, [TWO_64, '9007199254740991', '9007199254740992', '999999999999999', '1000000000000000', '00000000000000000001', '0']);
    return '';
  };
  const spec = () => {
    const r = rng();
    if (r < 0.7) return `${digits()}-${digits()}`;
    if (r < 0.8) return `-${digits()}`;
    if (r < 0.9) return `${digits()}-`;
    return randomFrom(rng, '0123456789-,= \tx', 0, 8);
  };
  const specs = Array.from({ length: chance(rng, 0.7) ? 1 : between(rng, 2, 12) }, spec);
  const sep = () => pick(rng, [',', ',', ', ', ' ,', ',,', ' , ', ',\t']);
  return `${unit}${chance(rng, 0.95) ? '=' : pick(rng, ['', '==', ' = '])}${specs.join(sep())}`;
}

function rangeRequest(rng: Rng): Built {
  const { value, statuses, shape } = rangeShape(rng);
  const fields: Array<[string, string]> = [['Host', host(rng)]];
  fields.push([randomCase(rng, 'Range'), ows(rng, value)]);
  if (chance(rng, 0.3)) fields.push(['Accept', '*/*']);
  if (chance(rng, 0.3)) fields.reverse();
  return { req: { method: chance(rng, 0.8) ? 'GET' : 'HEAD', target: '/word.doc', version: 'HTTP/1.1', fields, body: '' }, statuses, what: shape };
}

// ------------------------------------------------------------------- garbage

/** A base for one defect: a valid request to a fixture, HTTP/1.1, a few fields. */
function garbageBase(rng: Rng): Req {
  const fields: Array<[string, string]> = [['Host', ` ${host(rng)}`]];
  if (chance(rng, 0.5)) fields.push(['User-Agent', ' fuzz']);
  if (chance(rng, 0.5)) fields.push(['Accept', ' */*']);
  if (chance(rng, 0.3)) fields.push([`X-${randomFrom(rng, ALNUM, 1, 8)}`, ` ${fieldValue(rng)}`]);
  if (chance(rng, 0.3)) fields.reverse();
  return { method: chance(rng, 0.8) ? 'GET' : 'HEAD', target: pick(rng, FIXTURE_FILES), version: 'HTTP/1.1', fields, body: '' };
}

/** Control bytes that are neither CR, LF nor HTAB (each of those has its own rule). */
function ctl(rng: Rng): string {
  const c = pick(rng, [0x00, 0x00, 0x01, 0x07, 0x08, 0x0b, 0x0c, 0x1b, 0x1f, 0x7f]);
  return chr(c);
}

function insertAt(s: string, at: number, what: string): string {
  return s.slice(0, at) + what + s.slice(at);
}

/** Each row: one defect on a valid base, and the exact status it must get (docs/PROTOCOL.md's table). */
const GARBAGE: Array<[string, (rng: Rng, r: Req) => [string, number]]> = [
  // RFC 9112 §2.2: lines end in CRLF.
  [
    'bare-lf-eol',
    (rng, r) => {
      const s = render(r);
      const ends = crlfPositions(s);
      const at = pick(rng, ends);
      return [s.slice(0, at) + '\n' + s.slice(at + 2), 400];
    },
  ],
  ['bare-lf-inside', (rng, r) => [lineInsert(rng, render(r), '\n'), 400]],
  [
    'bare-cr-eol',
    (rng, r) => {
      const s = render(r);
      // Not the last CRLF: a head ending "\r" may still become "\r\n".
      const ends = crlfPositions(s).slice(0, -1);
      const at = pick(rng, ends);
      return [s.slice(0, at) + '\r' + s.slice(at + 2), 400];
    },
  ],
  ['bare-cr-inside', (rng, r) => [lineInsert(rng, render(r), '\r'), 400]],
  ['lf-lf', (_rng, r) => [render(r).replaceAll('\r\n', '\n'), 400]],
  // RFC 9112 §3 and RFC 6585 §5: limits.
  ['long-target', (rng, r) => [render({ ...r, target: `/${'a'.repeat(between(rng, 8192, 40000))}` }), 414]],
  ['long-method', (rng, r) => [render({ ...r, method: 'G'.repeat(between(rng, 8200, 20000)) }), 414]],
  [
    'long-field',
    (rng, r) => {
      r.fields.splice(int(rng, r.fields.length + 1), 0, ['X-Big', ` ${'v'.repeat(between(rng, 16400, 40000))}`]);
      return [render(r), 431];
    },
  ],
  [
    'many-fields',
    (rng, r) => {
      for (let i = between(rng, 100, 400); i > 0; i--) r.fields.push([`X-${i}`, ' v']);
      return [render(r), 431];
    },
  ],
  [
    'crlf-flood',
    (rng, r) => [CRLF.repeat(between(rng, 8193, 12000)) + render(r), 431],
  ],
  // RFC 9112 §5.2: obs-fold.
  [
    'obs-fold',
    (rng, r) => {
      const at = int(rng, r.fields.length);
      r.fields[at]![1] += `${CRLF}${pick(rng, [' ', '\t', '  '])}${randomFrom(rng, ALNUM, 0, 10)}`;
      return [render(r), 400];
    },
  ],
  ['fold-first-line', (rng, r) => [render(r).replace(CRLF, `${CRLF}${pick(rng, [' ', '\t'])}`), 400]],
  // NUL and control bytes.
  ['ctl-in-target', (rng, r) => [render({ ...r, target: insertAt(r.target, between(rng, 1, r.target.length), pick(rng, [ctl(rng), '\t', '\u00ff', '\u0080'])) }), 400]],
  ['ctl-in-method', (rng, r) => [render({ ...r, method: insertAt(r.method, int(rng, r.method.length + 1), pick(rng, [ctl(rng), '\u00e9', '(', '@', '"'])) }), 400]],
  [
    'ctl-in-value',
    (rng, r) => {
      const f = pick(rng, r.fields);
      f[1] = insertAt(f[1], between(rng, 1, f[1].length), ctl(rng));
      return [render(r), 400];
    },
  ],
  [
    'ctl-in-name',
    (rng, r) => {
      const f = pick(rng, r.fields);
      f[0] = insertAt(f[0], int(rng, f[0].length + 1), pick(rng, [ctl(rng), ' ', '\t', '(', '\u00e9']));
      return [render(r), 400];
    },
  ],
  // Content-Length: RFC 9110 §8.6, RFC 9112 §6.3; this server takes no body.
  ['cl-huge', (rng, r) => [render(withField(rng, r, 'Content-Length', ` ${pick(rng, ['9'.repeat(between(rng, 16, 40)), TWO_64, '1000000000000000'])}`)), 400]],
  ['cl-negative', (rng, r) => [render(withField(rng, r, 'Content-Length', ` -${between(rng, 0, 1000)}`)), 400]],
  ['cl-junk', (rng, r) => [render(withField(rng, r, 'Content-Length', ` ${pick(rng, ['+5', '0x10', '1, 1', '5 5', '', 'abc', '1e3', '0.0', '5x', '05 '])}`)), 400]],
  [
    'cl-duplicate',
    (rng, r) => {
      withField(rng, r, 'Content-Length', ' 0');
      return [render(withField(rng, r, pick(rng, ['Content-Length', 'content-length', 'CONTENT-LENGTH']), ` ${pick(rng, ['0', '0', '5'])}`)), 400];
    },
  ],
  [
    'cl-body-on-get',
    (rng, r) => {
      const len = between(rng, 1, 2000);
      withField(rng, r, 'Content-Length', ` ${len}`);
      return [render({ ...r, body: randomFrom(rng, ALNUM, len, len) }), 400];
    },
  ],
  // Transfer-Encoding: RFC 9112 §6.1.
  [
    'te-on-get',
    (rng, r) => {
      withField(rng, r, randomCase(rng, 'Transfer-Encoding'), ` ${pick(rng, ['chunked', 'identity', 'gzip, chunked', 'chunked, chunked', 'x'])}`);
      return [render({ ...r, body: chance(rng, 0.5) ? `0${CRLF}${CRLF}` : `5${CRLF}hello${CRLF}0${CRLF}${CRLF}` }), 400];
    },
  ],
  [
    'te-and-cl',
    (rng, r) => {
      withField(rng, r, 'Transfer-Encoding', ' chunked');
      withField(rng, r, 'Content-Length', ` ${between(rng, 0, 10)}`);
      return [render({ ...r, method: pick(rng, ['GET', 'POST']), body: `0${CRLF}${CRLF}GET /hello.txt HTTP/1.1${CRLF}Host: h${CRLF}${CRLF}` }), 400];
    },
  ],
  // Host: RFC 9112 §3.2, exactly one on 1.1.
  ['two-hosts', (rng, r) => [render(withField(rng, r, randomCase(rng, 'Host'), pick(rng, [' other', ' 127.0.0.1', r.fields.find(([n]) => n === 'Host')![1]]))), 400]],
  ['no-host', (_rng, r) => [render({ ...r, fields: r.fields.filter(([n]) => n !== 'Host') }), 400]],
  // Other singletons.
  [
    'two-ranges',
    (rng, r) => {
      withField(rng, r, 'Range', ' bytes=0-1');
      return [render(withField(rng, r, randomCase(rng, 'Range'), ' bytes=5-6')), 400];
    },
  ],
  [
    'two-if-ranges',
    (rng, r) => {
      withField(rng, r, 'If-Range', ' "a"');
      return [render(withField(rng, r, 'if-range', ' "a"')), 400];
    },
  ],
  // Target forms: RFC 9112 §3.2.
  ['authority-form', (rng, r) => [render({ ...r, target: pick(rng, ['example.com:443', '127.0.0.1:8080', 'h:80', '[::1]:443']) }), 400]],
  ['asterisk-form', (_rng, r) => [render({ ...r, target: '*' }), 400]],
  ['bad-absolute', (rng, r) => [render({ ...r, target: pick(rng, ['http://', 'http:/word.doc', 'ftp://h/word.doc', 'http//h/word.doc', 'word.doc', 'https:word.doc', 'mailto:x@y']) }), 400]],
  ['connect', (rng, r) => [render({ ...r, method: 'CONNECT', target: pick(rng, ['example.com:443', '127.0.0.1:1']) }), 405]],
  // Percent-encoding and segments: RFC 3986 §2.1, §3.3.
  [
    'bad-percent',
    (rng, r) => [
      render({
        ...r,
        target: pick(rng, [
          '/%',
          '/%g1',
          '/%2',
          '/a%zzb',
          '/%%41',
          '/%00x',
          '/%2f',
          '/a%2Fb',
          '/%5c',
          '/%5Cetc',
          '/%c0%ae',
          '/%ff',
          '/%e2%82',
          '/%ed%a0%80',
          '/%2e',
          '/%2e%2e',
          '/..',
          '/.',
          '/a//b',
          '/x/',
          '/a/../b',
          '/a/./b',
          '/..%2f..%2fetc%2fpasswd',
          '/%0d%0aX:y',
          '//',
        ]),
      }),
      400,
    ],
  ],
  ['hidden', (rng, r) => [render({ ...r, target: pick(rng, ['/.hidden', '/%2ehidden', '/a/.b', '/.mobserve/x']) }), 404]],
  // The request line: RFC 9112 §3, §2.3.
  [
    'bad-request-line',
    (rng, r) => {
      const line = pick(rng, [
        `${r.method}  ${r.target} HTTP/1.1`,
        ` ${r.method} ${r.target} HTTP/1.1`,
        `${r.method} ${r.target} HTTP/1.1 `,
        `${r.method}\t${r.target}\tHTTP/1.1`,
        `${r.method} ${r.target}`,
        `${r.method} ${r.target} http/1.1`,
        `${r.method} ${r.target} HTTP/1`,
        `${r.method} ${r.target} HTTP/1.1.1`,
        `${r.method} ${r.target} HTTP/11.1`,
        `${r.method} ${r.target} HTTP/1.10`,
        `${r.method} ${r.target} HTTPS/1.1`,
        `${r.method} ${r.target} ${r.target} HTTP/1.1`,
        `${r.method} HTTP/1.1`,
        `${r.method}`,
        `${r.target} HTTP/1.1`,
        `${randomFrom(rng, ALNUM, 1, 30)}`,
      ]);
      const s = render(r);
      return [line + s.slice(s.indexOf(CRLF)), 400];
    },
  ],
  ['version', (rng, r) => [render({ ...r, version: pick(rng, ['HTTP/2.0', 'HTTP/0.9', 'HTTP/3.0', 'HTTP/9.9', 'HTTP/2.1']) }), 505]],
  ['method-not-allowed', (rng, r) => [render({ ...r, method: pick(rng, ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'get', 'Get', 'BREW', 'M-SEARCH', 'PRI']) }), 405]],
  // Field syntax: RFC 9112 §5.1.
  [
    'bad-field',
    (rng, r) => {
      const line = pick(rng, ['Host : h', 'Host\t: h', 'no colon here', ': empty name', 'X(A): v', 'X-A\u00e9: v', '@: v', '\x7fname: v']);
      r.fields.splice(int(rng, r.fields.length + 1), 0, [line, '']);
      const s = render(r).replace(`${line}:${CRLF}`, `${line}${CRLF}`);
      return [s, 400];
    },
  ],
];

/** Index of every CRLF in s. */
function crlfPositions(s: string): number[] {
  const out: number[] = [];
  for (let i = s.indexOf(CRLF); i !== -1; i = s.indexOf(CRLF, i + 2)) out.push(i);
  return out;
}

/** Inserts `what` inside the content of a random line (never next to its CRLF's LF). */
function lineInsert(rng: Rng, s: string, what: string): string {
  const ends = crlfPositions(s).slice(0, -1);
  const line = int(rng, ends.length);
  const start = line === 0 ? 0 : ends[line - 1]! + 2;
  const at = between(rng, start + 1, ends[line]!);
  return insertAt(s, at, what);
}

function withField(rng: Rng, r: Req, name: string, value: string): Req {
  r.fields.splice(between(rng, 0, r.fields.length), 0, [name, value]);
  return r;
}

// ------------------------------------------------------------------ mutation

/** Bytes worth inserting: the ones parsers trip on. */
const INTERESTING = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x3a, 0x25, 0x2f, 0x2e, 0x2c, 0x2d, 0x3d, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x3f];
const TOKENS = ['\r\n', '\r\n\r\n', '\n', '\r', ' ', ':', '%', '%2e', '%00', '..', '/', 'HTTP/1.1', 'Host: h\r\n', 'Content-Length: 5\r\n', 'Transfer-Encoding: chunked\r\n', 'Range: bytes=0-1\r\n', '\r\n '];

function mutateOnce(rng: Rng, b: Buffer, other: () => Buffer): [Buffer, string] {
  const at = (extra = 0) => int(rng, b.length + extra);
  const r = rng();
  if (b.length === 0 || r < 0.12) {
    const i = at(1);
    const ins = chance(rng, 0.5) ? Buffer.from([pick(rng, INTERESTING)]) : chance(rng, 0.5) ? bytes(pick(rng, TOKENS)) : Buffer.from([int(rng, 256)]);
    return [Buffer.concat([b.subarray(0, i), ins, b.subarray(i)]), 'insert'];
  }
  if (r < 0.27) {
    const out = Buffer.from(b);
    const i = at();
    out[i] = chance(rng, 0.5) ? out[i]! ^ (1 << int(rng, 8)) : chance(rng, 0.5) ? pick(rng, INTERESTING) : int(rng, 256);
    return [out, 'flip'];
  }
  if (r < 0.42) {
    const i = at();
    const n = Math.min(b.length - i, between(rng, 1, chance(rng, 0.8) ? 4 : 64));
    return [Buffer.concat([b.subarray(0, i), b.subarray(i + n)]), 'delete'];
  }
  if (r < 0.55) {
    const i = at();
    const n = Math.min(b.length - i, between(rng, 1, chance(rng, 0.8) ? 16 : 512));
    const span = b.subarray(i, i + n);
    const times = chance(rng, 0.9) ? 1 : between(rng, 2, 200);
    const j = chance(rng, 0.7) ? i + n : at(1);
    return [Buffer.concat([b.subarray(0, j), ...Array<Buffer>(times).fill(span), b.subarray(j)]), 'duplicate'];
  }
  if (r < 0.65) {
    // Splice: the head of this one, the tail of another, or both whole (a pipeline).
    const o = other();
    if (chance(rng, 0.4)) return [Buffer.concat([b, o]), 'pipeline'];
    return [Buffer.concat([b.subarray(0, at(1)), o.subarray(int(rng, o.length + 1))]), 'splice'];
  }
  if (r < 0.72) return [b.subarray(0, at(1)), 'truncate'];
  if (r < 0.82) {
    // Whole lines: repeat, drop or swap one (duplicated headers, lost Host).
    const s = b.toString('latin1');
    const lines = s.split(CRLF);
    const i = int(rng, lines.length);
    const j = int(rng, lines.length);
    const op = int(rng, 3);
    if (op === 0) lines.splice(j, 0, lines[i]!);
    else if (op === 1) lines.splice(i, 1);
    else [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    return [bytes(lines.join(CRLF)), ['line-dup', 'line-drop', 'line-swap'][op]!];
  }
  if (r < 0.9) {
    const i = at(1);
    return [Buffer.concat([b.subarray(0, i), bytes(pick(rng, TOKENS)), b.subarray(i)]), 'token'];
  }
  // Case and whitespace games on one byte.
  const out = Buffer.from(b);
  const i = at();
  const c = out[i]!;
  out[i] = c >= 0x61 && c <= 0x7a ? c - 32 : c >= 0x41 && c <= 0x5a ? c + 32 : pick(rng, [0x20, 0x09, 0x0d, 0x0a]);
  return [out, 'case'];
}

// ---------------------------------------------------------------- generation

function built(kind: 'valid' | 'range', b: Built): FuzzCase {
  return { bytes: bytes(render(b.req)), kind, label: `${kind}:${b.what}`, expect: { statuses: b.statuses } };
}

function garbageCase(rng: Rng): FuzzCase {
  const [name, make] = pick(rng, GARBAGE);
  const [s, status] = make(rng, garbageBase(rng));
  return { bytes: bytes(s), kind: 'garbage', label: `garbage:${name}`, expect: { statuses: [status] } };
}

/** A case that is not mutated: valid, range, garbage, truncated or blank. */
function plainCase(rng: Rng): FuzzCase {
  const r = rng();
  if (r < 0.3) {
    const c = built('valid', validRequest(rng));
    // RFC 9112 §2.2: a few empty lines before a request are ignored.
    if (chance(rng, 0.05)) return { ...c, bytes: Buffer.concat([bytes(CRLF.repeat(between(rng, 1, 50))), c.bytes]), label: `${c.label}+leading-crlf` };
    return c;
  }
  if (r < 0.45) return built('range', rangeRequest(rng));
  if (r < 0.9) return garbageCase(rng);
  if (r < 0.97) {
    const whole = chance(rng, 0.7) ? validRequest(rng) : rangeRequest(rng);
    const b = bytes(render(whole.req));
    return { bytes: b.subarray(0, between(rng, 1, b.length - 1)), kind: 'truncated', label: `truncated:${whole.what}`, expect: 'close' };
  }
  const blank = pick(rng, ['', CRLF, CRLF.repeat(between(rng, 2, 4000)), ' '.repeat(between(rng, 1, 100)), '\t \t', `${CRLF}${CRLF} `]);
  return { bytes: bytes(blank), kind: 'blank', label: 'blank', expect: 'close' };
}

/** One case: 65 % plain (valid, range, garbage, truncated, blank), 35 % mutated. */
export function generateCase(rng: Rng): FuzzCase {
  if (chance(rng, 0.65)) return plainCase(rng);
  const base = plainCase(rng);
  let b = base.bytes;
  const ops: string[] = [];
  for (let n = chance(rng, 0.6) ? 1 : between(rng, 2, 6); n > 0; n--) {
    const [next, op] = mutateOnce(rng, b, () => {
      const o = plainCase(rng);
      ops.push(`<${o.label}>`);
      return o.bytes;
    });
    b = next;
    ops.push(op);
  }
  return { bytes: b, kind: 'mutated', label: `mutated:${ops.join('+')}<${base.label}>`, expect: 'any' };
}

export function caseAt(seed: number, index: number): FuzzCase {
  return generateCase(caseRng(seed, index));
}

/**
 * Random cut points for `length` bytes: 1 to `most` distinct offsets in
 * (0, length), sorted. Biased to the places that matter (around CR and LF
 * would need the bytes; near the ends is the next best thing).
 */
export function splitPoints(rng: Rng, length: number, most = 6): number[] {
  if (length < 2) return [];
  const set = new Set<number>();
  for (let n = between(rng, 1, most); n > 0; n--) {
    const r = rng();
    set.add(r < 0.15 ? between(rng, 1, Math.min(3, length - 1)) : r < 0.3 ? between(rng, Math.max(1, length - 3), length - 1) : between(rng, 1, length - 1));
  }
  return [...set].sort((a, b) => a - b);
}

/** Cuts b at the given offsets. */
export function splitAt(b: Buffer, points: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(b.subarray(from, p));
    from = p;
  }
  out.push(b.subarray(from));
  return out;
}

// ------------------------------------------------------- targets and ranges

/** A request-target for routeTarget: traversal, encodings, ids, odd forms. */
export function generateTarget(rng: Rng): string {
  const seg = (): string => {
    const r = rng();
    if (r < 0.25) return randomFrom(rng, ALNUM + '-_~', 1, 12);
    if (r < 0.45) return pick(rng, ['.', '..', '...', '.x', '%2e', '%2E%2e', '%2e%2e', '.%2e', '%2ex', '', 'word.doc', 'a.b', '%20', '~']);
    if (r < 0.6) return pick(rng, ['%2f', '%2F', '%5c', '%5C', '\\', '%00', '%0a', '%0d', '%7f', '%c0%ae', '%c0%af', '%e0%80%ae', '%ff', '%fe', '%c3%a9', '%e2%82%ac', '%f0%9f%98%80', '%ed%a0%80']);
    if (r < 0.7) return uuid(rng);
    if (r < 0.8) return pick(rng, ['%', '%g', '%2', '%%', '%zz', '%-1', '%+f', '%0', '%%2e']);
    let s = '';
    for (let n = between(rng, 1, 10); n > 0; n--) {
      const c = rng();
      s += c < 0.5 ? chr(between(rng, 0x21, 0x7e)) : c < 0.8 ? `%${int(rng, 256).toString(16).padStart(2, '0')}` : chr(int(rng, 256));
    }
    return s;
  };
  let path = '';
  for (let n = between(rng, 0, 6); n > 0; n--) path += `/${seg()}`;
  if (path === '' || chance(rng, 0.05)) path += '/';
  const r = rng();
  if (r < 0.1) path = `${pick(rng, ['http', 'https', 'HTTP', 'ftp', 'http:'])}://${host(rng)}${path}`;
  else if (r < 0.15) path = path.slice(1);
  if (chance(rng, 0.1)) path += `${pick(rng, ['?', '#', '?a=/../', '?%00'])}${seg()}`;
  return path;
}

/** A Range value: the shapes of the live test, random lists, and raw junk. */
export function generateRangeValue(rng: Rng): string {
  const r = rng();
  if (r < 0.4) return rangeShape(rng).value;
  if (r < 0.9) return randomRangeValue(rng);
  let s = '';
  for (let n = between(rng, 0, 30); n > 0; n--) s += chr(int(rng, 256));
  return s;
}

/** Representation sizes for parseRange: empty, tiny, fixtures, near 2^53. */
export function generateSize(rng: Rng): number {
  const r = rng();
  if (r < 0.2) return pick(rng, [0, 1, 2, 5, 6, 100]);
  if (r < 0.5) return WORD_SIZE;
  if (r < 0.9) return between(rng, 0, 1e7);
  return pick(rng, [Number.MAX_SAFE_INTEGER, 2 ** 53 - 2, 1e15, 999999999999999, 1e15 + 1]);
}
