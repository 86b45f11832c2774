/**
 * Fuzzing the pure protocol core in-process: RequestParser, parseRange and
 * routeTarget, each with 100,000 generated or mutated inputs from a fixed
 * seed (test/helpers/request-fuzz.ts). FUZZ_CASES=N and FUZZ_SEED=S run
 * longer or elsewhere (`pnpm run fuzz`); FUZZ_ONLY=i replays one case.
 *
 * The strongest property is split invariance: the parser must give the same
 * events whether the bytes come in one push, cut at random points, or one
 * byte at a time. TCP decides the cuts, so any difference is a bug that a
 * client can provoke at will.
 */
import { ERRORS, type HttpErrorSpec } from '../src/http/errors.js';
import { DEFAULT_LIMITS, RequestParser, type ParseEvent, type ParserLimits } from '../src/http/request-parser.js';
import { parseRange, type RangeResult } from '../src/http/byte-range.js';
import { routeTarget, type Route } from '../src/http/request-target.js';
import {
  caseAt,
  caseIndexes,
  caseRng,
  describeCase,
  escapeBytes,
  fuzzSettings,
  generateRangeValue,
  generateSize,
  generateTarget,
  splitAt,
  splitPoints,
  type FuzzCase,
} from '../../../test/helpers/request-fuzz.js';

const settings = fuzzSettings();
const { first, count } = caseIndexes(settings);
const SEED = `0x${settings.seed.toString(16)}`;
/** Room for a long run on a busy 2-core machine: about 250 µs per case and property are needed there, 1 ms is allowed. */
const TIMEOUT_MS = Math.max(120_000, count);
/** Failures reported in full; the rest are only counted. */
const SHOWN = 2;

/** Small limits put the 414 and 431 edges within reach of short inputs. */
const SMALL: ParserLimits = { maxRequestLine: 48, maxHeaderBytes: 160, maxHeaderCount: 5 };

const KNOWN_ERRORS = new Set<HttpErrorSpec>(Object.values(ERRORS));
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// eslint-disable-next-line no-control-regex
const TARGET_FORBIDDEN = /[\u0000-\u0020\u007f-\u00ff]/;

/** An event reduced to what must not depend on the cuts. */
function summary(e: ParseEvent): string {
  if (e.kind === 'error') return `error ${e.error.code}`;
  const r = e.request;
  return JSON.stringify([r.method, r.target, r.minor, r.headers, r.host, r.range, r.ifRange, r.keepAlive, r.hasBody]);
}

interface Fed {
  events: ParseEvent[];
  /** A property broken while feeding (thrown, pending over the limit, life after death). */
  broken?: string;
}

const AFTER_DEATH = Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n', 'latin1');

function feed(pieces: readonly Buffer[], limits: ParserLimits): Fed {
  const parser = new RequestParser(limits);
  const events: ParseEvent[] = [];
  try {
    for (const p of pieces) {
      events.push(...parser.push(p));
      if (parser.pending > limits.maxHeaderBytes) return { events, broken: `pending ${parser.pending} > maxHeaderBytes ${limits.maxHeaderBytes}` };
    }
    if (events.at(-1)?.kind === 'error') {
      const more = parser.push(AFTER_DEATH);
      if (more.length > 0 || parser.pending !== 0) return { events, broken: `after an error the parser still answered: ${more.map(summary).join(', ')}` };
    }
  } catch (e) {
    return { events, broken: `threw ${(e as Error).stack ?? String(e)}` };
  }
  return { events };
}

/** The shape every event list must have: requests, then at most one error, which is ours and 4xx/5xx. */
function checkEvents(events: readonly ParseEvent[]): string | undefined {
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.kind === 'error') {
      if (i !== events.length - 1) return `an event after the error at ${i}`;
      if (!KNOWN_ERRORS.has(e.error)) return `error ${JSON.stringify(e.error)} is not one of ERRORS`;
      if (e.error.status < 400 || e.error.status > 599) return `error status ${e.error.status}`;
      continue;
    }
    const r = e.request;
    if (!TCHAR.test(r.method)) return `method ${JSON.stringify(r.method)} is not a token`;
    if (r.target.length === 0 || TARGET_FORBIDDEN.test(r.target)) return `target ${JSON.stringify(r.target)} has a space, CTL or non-ASCII byte`;
    const hosts = r.headers.filter(([n]) => n === 'host');
    if (r.minor === 1 && (hosts.length !== 1 || r.host !== hosts[0]![1])) return `HTTP/1.1 request with ${hosts.length} Host fields`;
    if (r.minor === 0 && hosts.length > 1) return `HTTP/1.0 request with ${hosts.length} Host fields`;
    for (const [n, v] of r.headers) {
      if (!TCHAR.test(n) || n !== n.toLowerCase()) return `field name ${JSON.stringify(n)}`;
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(v) || /^[ \t]|[ \t]$/.test(v)) return `field value ${JSON.stringify(v)}`;
    }
  }
  return undefined;
}

/** What the generator promised, for the cases where the parser alone decides it (default limits). */
function checkConstruction(c: FuzzCase, events: readonly ParseEvent[]): string | undefined {
  const kinds = events.map((e) => e.kind).join(',');
  switch (c.kind) {
    case 'valid':
    case 'range':
      return kinds === 'request' ? undefined : `a ${c.kind} case gave [${events.map(summary).join(', ')}]`;
    case 'truncated':
    case 'blank':
      return kinds === '' ? undefined : `a ${c.kind} case gave [${events.map(summary).join(', ')}]`;
    case 'garbage': {
      // Refused by the parser with the promised status, or parsed and left to the router.
      const e = events[0];
      if (e?.kind === 'error' && typeof c.expect === 'object' && !c.expect.statuses.includes(e.error.status)) return `garbage refused with ${e.error.status}, promised ${c.expect.statuses.join('/')}`;
      return e === undefined ? 'garbage gave no event at all' : undefined;
    }
    case 'mutated':
      return undefined;
  }
}

/** A broken property: what kind (to group by), and the case with the details. */
type Failure = [kind: string, detail: string];

/** Runs `check(i)` for every index; reports failures grouped by kind, the first two of each in full. */
function sweep(name: string, check: (index: number) => Failure | undefined): void {
  const byKind = new Map<string, { n: number; shown: string[] }>();
  let failed = 0;
  for (let i = first; i < first + count; i++) {
    const f = check(i);
    if (f === undefined) continue;
    failed++;
    const k = byKind.get(f[0]) ?? { n: 0, shown: [] };
    byKind.set(f[0], k);
    k.n++;
    if (k.shown.length < SHOWN) k.shown.push(f[1]);
  }
  if (failed > 0) {
    const report = [...byKind].map(([kind, k]) => `── ${kind}: ${k.n} cases; the first ${k.shown.length}:\n\n${k.shown.join('\n\n')}`);
    throw new Error(`${name}: ${failed} of ${count} cases failed (seed ${SEED})\n\n${report.join('\n\n')}`);
  }
}

describe(`RequestParser fuzz (${count} cases, seed ${SEED})`, () => {
  test(
    'never throws; only requests and at most one known 4xx/5xx error; pending within the limit; same events in one push, at random cuts and byte by byte',
    () => {
      let bytewise = 0;
      sweep('RequestParser', (i) => {
        const c = caseAt(settings.seed, i);
        const limits = i % 4 === 3 ? SMALL : DEFAULT_LIMITS;
        const rng = caseRng(settings.seed ^ 0x5711, i);
        const points = splitPoints(rng, c.bytes.length);
        const runs: Array<[string, Fed]> = [
          ['one push', feed([c.bytes], limits)],
          [`cut at ${JSON.stringify(points)}`, feed(splitAt(c.bytes, points), limits)],
        ];
        // Byte by byte is the finest cut; it costs a push per byte, so not for every case.
        if (c.bytes.length <= 4096 && i % 4 === 0) {
          bytewise++;
          runs.push(['byte by byte', feed([...c.bytes].map((b) => Buffer.from([b])), limits)]);
        }
        const where = () => `${describeCase(c, settings.seed, i)}\n  limits ${JSON.stringify(limits)}`;
        for (const [mode, fed] of runs) {
          const problem = fed.broken ?? checkEvents(fed.events);
          if (problem) return [problem.replace(/[\s\d].*$/s, ''), `${where()}\n  ${mode}: ${problem}`];
        }
        const [, whole] = runs[0]!;
        const want = whole.events.map(summary);
        for (const [mode, fed] of runs.slice(1)) {
          const got = fed.events.map(summary);
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            return ['split invariance', `${where()}\n  split invariance: one push gave\n    ${want.join('\n    ') || '(nothing)'}\n  ${mode} gave\n    ${got.join('\n    ') || '(nothing)'}`];
          }
        }
        if (limits === DEFAULT_LIMITS) {
          const problem = checkConstruction(c, whole.events);
          if (problem) return [`construction: ${c.kind}`, `${where()}\n  ${problem}`];
        }
        return undefined;
      });
      if (settings.only === undefined && count >= 1000) expect(bytewise).toBeGreaterThan(count / 8);
    },
    TIMEOUT_MS,
  );
});

const NONE_REASONS = new Set(['absent', 'other-unit', 'multiple']);
const UNSAT_REASONS = new Set(['malformed', 'invalid', 'beyond-end']);

function checkRange(size: number, header: string | undefined, r: RangeResult): string | undefined {
  switch (r.kind) {
    case 'single':
      if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end)) return `non-integer bounds ${r.start}-${r.end}`;
      if (!(r.start >= 0 && r.start <= r.end && r.end < size)) return `bounds ${r.start}-${r.end} outside 0..${size - 1}`;
      return undefined;
    case 'none':
      if (!NONE_REASONS.has(r.reason)) return `reason ${r.reason}`;
      return header === undefined || r.reason !== 'absent' ? undefined : 'absent with a header';
    case 'unsatisfiable':
      return UNSAT_REASONS.has(r.reason) ? undefined : `reason ${r.reason}`;
    default:
      return `kind ${(r as { kind: string }).kind}`;
  }
}

describe(`parseRange fuzz (${count} cases, seed ${SEED})`, () => {
  test(
    "never throws; 'single' always within 0 <= start <= end < size; blanks around commas change nothing",
    () => {
      sweep('parseRange', (i) => {
        const rng = caseRng(settings.seed ^ 0x4a46, i);
        const size = generateSize(rng);
        const header = rng() < 0.02 ? undefined : generateRangeValue(rng);
        const where = `parseRange(${size}, ${header === undefined ? 'undefined' : escapeBytes(Buffer.from(header, 'latin1'))}) (case ${i}, seed ${SEED})`;
        let r: RangeResult;
        try {
          r = parseRange(size, header);
        } catch (e) {
          return ['threw', `${where} threw ${(e as Error).stack}`];
        }
        const problem = checkRange(size, header, r);
        if (problem) return ['property', `${where}: ${problem} in ${JSON.stringify(r)}`];
        // RFC 9110 §5.6.1: OWS around list commas; the answer must not move.
        const eq = header?.indexOf('=') ?? -1;
        if (header !== undefined && eq !== -1) {
          const spaced = header.slice(0, eq + 1) + header.slice(eq + 1).replaceAll(',', ' , ');
          const again = parseRange(size, spaced);
          if (JSON.stringify(again) !== JSON.stringify(r)) return ['blanks around commas', `${where}: ${JSON.stringify(r)}, but with blanks around commas ${JSON.stringify(again)}`];
        }
        return undefined;
      });
    },
    TIMEOUT_MS,
  );
});

const UUID_LOWER = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checkRoute(r: Route): string | undefined {
  if (r.kind === 'handshake') return undefined;
  if (r.kind === 'error') return KNOWN_ERRORS.has(r.error) && r.error.status >= 400 ? undefined : `error ${JSON.stringify(r.error)}`;
  if (r.kind === 'client' && !UUID_LOWER.test(r.clientId)) return `client id ${JSON.stringify(r.clientId)}`;
  if (r.path.length === 0) return 'an empty path';
  for (const s of r.path) {
    if (typeof s !== 'string' || s === '') return `segment ${JSON.stringify(s)}`;
    if (s.includes('/') || s.includes('\\') || s.includes('\0')) return `segment ${JSON.stringify(s)} holds a separator or NUL`;
    if (s === '.' || s === '..' || s.startsWith('.')) return `segment ${JSON.stringify(s)} is a dot segment or hidden`;
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(s)) return `segment ${JSON.stringify(s)} holds a control character`;
  }
  return undefined;
}

function routeSummary(r: Route): string {
  return JSON.stringify(r.kind === 'error' ? { kind: 'error', code: r.error.code } : r);
}

describe(`routeTarget fuzz (${count} cases, seed ${SEED})`, () => {
  test(
    "never throws; 'client' and 'plain' segments never hold '/', '\\\\' or NUL, never are '.' or '..', never start with '.'; absolute-form routes like origin-form",
    () => {
      sweep('routeTarget', (i) => {
        const rng = caseRng(settings.seed ^ 0x7a67, i);
        const target = generateTarget(rng);
        const where = `routeTarget(${escapeBytes(Buffer.from(target, 'latin1'))}) (case ${i}, seed ${SEED})`;
        let r: Route;
        try {
          r = routeTarget(target);
        } catch (e) {
          return ['threw', `${where} threw ${(e as Error).stack}`];
        }
        const problem = checkRoute(r);
        if (problem) return ['property', `${where}: ${problem} in ${JSON.stringify(r)}`];
        // RFC 9112 §3.2.2: absolute-form names the same resource as its path
        // (for targets the parser lets through: visible ASCII only).
        if (target.startsWith('/') && !target.includes('#') && !TARGET_FORBIDDEN.test(target)) {
          const abs = routeTarget(`http://example.com${target}`);
          if (routeSummary(abs) !== routeSummary(r)) return ['absolute-form', `${where}: ${routeSummary(r)}, but in absolute-form ${routeSummary(abs)}`];
        }
        return undefined;
      });
    },
    TIMEOUT_MS,
  );
});
