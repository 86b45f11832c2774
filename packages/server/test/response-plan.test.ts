/**
 * planFileResponse: status, span and headers for one file request.
 * Client routes resume from the ledger when no Range is sent; Range,
 * If-Range and the other preconditions follow RFC 9110 §13 and §14.
 */
import { ERRORS } from '../src/http/errors.js';
import type { HeaderList } from '../src/http/response-head.js';
import { planFileResponse, RESUME_HEADER, versionFields, type FilePlan, type FileRequest, type RepresentationMeta } from '../src/http/response-plan.js';

const LM = new Date(Date.UTC(2024, 0, 15, 12, 0, 0));
const LM_TEXT = 'Mon, 15 Jan 2024 12:00:00 GMT';
const NOW = LM.getTime() + 3_600_000;

const rep: RepresentationMeta = {
  size: 100,
  etag: '"v1"',
  lastModified: LM,
  reprDigest: 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:',
  contentType: 'application/octet-stream',
};

function req(over: Partial<FileRequest> & { h?: Record<string, string> } = {}): FileRequest {
  const { h = {}, ...rest } = over;
  const headers = Object.entries(h).map(([n, v]) => [n.toLowerCase(), v] as [string, string]);
  return { route: 'client', headers, range: h['range'], ifRange: h['if-range'], ...rest };
}

function hdr(headers: HeaderList, name: string): string | number | undefined {
  const found = headers.filter(([n]) => n.toLowerCase() === name.toLowerCase());
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.[1];
}

type Ok = Extract<FilePlan, { ok: true }>;

/** Every header of a plan: the varying ones and the version's serialized fields. */
function all(p: Ok): HeaderList {
  const fixed = p.fields
    .split('\r\n')
    .filter((l) => l !== '')
    .map((l): [string, string] => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]);
  return [...p.headers, ...fixed];
}
type Refused = Extract<FilePlan, { ok: false }>;

function ok(plan: FilePlan): Ok {
  if (!plan.ok) throw new Error(`expected a plan, got ${plan.error.code}`);
  return plan;
}

function refused(plan: FilePlan): Refused {
  if (plan.ok) throw new Error(`expected a refusal, got ${plan.status}`);
  return plan;
}

interface Expect {
  status: 200 | 206 | 304;
  start: number;
  length: number;
  via: string;
  contentRange?: string;
  /** undefined: the header must be absent. */
  resumeFrom: number | undefined;
}

function check(plan: FilePlan, e: Expect): void {
  const p = ok(plan);
  expect({ status: p.status, start: p.start, length: p.length, via: p.via }).toEqual({ status: e.status, start: e.start, length: e.length, via: e.via });
  if (e.status !== 304) expect(hdr(all(p), 'Content-Length')).toBe(e.length);
  expect(hdr(all(p), 'Content-Range')).toBe(e.contentRange);
  expect(hdr(all(p), RESUME_HEADER)).toBe(e.resumeFrom);
}

describe('planFileResponse: client route without Range (the ledger)', () => {
  it.each<[string, FileRequest['ledger'], Expect]>([
    ['no ledger entry: from 0', undefined, { status: 200, start: 0, length: 100, via: 'ledger', resumeFrom: 0 }],
    ['ledger offset into this version', { offset: 40, etag: '"v1"' }, { status: 200, start: 40, length: 60, via: 'ledger', resumeFrom: 40 }],
    ['ledger at 0', { offset: 0, etag: '"v1"' }, { status: 200, start: 0, length: 100, via: 'ledger', resumeFrom: 0 }],
    ['ledger offset into another version: from 0', { offset: 40, etag: '"v0"' }, { status: 200, start: 0, length: 100, via: 'ledger', resumeFrom: 0 }],
    ['ledger with a weak form of the same tag: from 0', { offset: 40, etag: 'W/"v1"' }, { status: 200, start: 0, length: 100, via: 'ledger', resumeFrom: 0 }],
    ['ledger complete (offset == size): 200 with nothing left', { offset: 100, etag: '"v1"' }, { status: 200, start: 100, length: 0, via: 'ledger', resumeFrom: 100 }],
    ['ledger past the end (impossible for this version): from 0', { offset: 150, etag: '"v1"' }, { status: 200, start: 0, length: 100, via: 'ledger', resumeFrom: 0 }],
  ])('%s', (_name, ledger, e) => {
    check(planFileResponse(req({ ledger }), rep, NOW), e);
  });

  it('If-Range without Range is ignored (§13.1.5): the ledger still applies', () => {
    check(planFileResponse(req({ ledger: { offset: 40, etag: '"v1"' }, ifRange: '"other"' }), rep, NOW), {
      status: 200,
      start: 40,
      length: 60,
      via: 'ledger',
      resumeFrom: 40,
    });
  });
});

describe('planFileResponse: Range (§14) and If-Range (§13.1.5)', () => {
  const ledger = { offset: 40, etag: '"v1"' };
  it.each<[string, FileRequest['route'], Record<string, string>, Expect]>([
    ['client: Range wins over the ledger', 'client', { range: 'bytes=10-19' }, { status: 206, start: 10, length: 10, via: 'range', contentRange: 'bytes 10-19/100', resumeFrom: undefined }],
    ['client: open-ended Range', 'client', { range: 'bytes=90-' }, { status: 206, start: 90, length: 10, via: 'range', contentRange: 'bytes 90-99/100', resumeFrom: undefined }],
    ['client: suffix Range', 'client', { range: 'bytes=-1' }, { status: 206, start: 99, length: 1, via: 'range', contentRange: 'bytes 99-99/100', resumeFrom: undefined }],
    ['plain: Range', 'plain', { range: 'bytes=0-0' }, { status: 206, start: 0, length: 1, via: 'range', contentRange: 'bytes 0-0/100', resumeFrom: undefined }],
    ['If-Range strong match → 206', 'client', { range: 'bytes=50-', 'if-range': '"v1"' }, { status: 206, start: 50, length: 50, via: 'range', contentRange: 'bytes 50-99/100', resumeFrom: undefined }],
    ['If-Range date = Last-Modified (strong) → 206', 'plain', { range: 'bytes=50-', 'if-range': LM_TEXT }, { status: 206, start: 50, length: 50, via: 'range', contentRange: 'bytes 50-99/100', resumeFrom: undefined }],
    ['If-Range other tag → 200 from 0', 'client', { range: 'bytes=50-', 'if-range': '"v0"' }, { status: 200, start: 0, length: 100, via: 'full', resumeFrom: 0 }],
    ['If-Range weak tag → 200 from 0', 'client', { range: 'bytes=50-', 'if-range': 'W/"v1"' }, { status: 200, start: 0, length: 100, via: 'full', resumeFrom: 0 }],
    ['plain: If-Range other tag → 200 from 0', 'plain', { range: 'bytes=50-', 'if-range': '"v0"' }, { status: 200, start: 0, length: 100, via: 'full', resumeFrom: undefined }],
    ['If-Range mismatch wins over an unsatisfiable Range → 200', 'client', { range: 'bytes=500-', 'if-range': '"v0"' }, { status: 200, start: 0, length: 100, via: 'full', resumeFrom: 0 }],
    ['several ranges are ignored → 200 from 0', 'client', { range: 'bytes=0-1,5-6' }, { status: 200, start: 0, length: 100, via: 'full', resumeFrom: 0 }],
    ['plain: several ranges → 200', 'plain', { range: 'bytes=0-1,5-6' }, { status: 200, start: 0, length: 100, via: 'full', resumeFrom: undefined }],
    ['plain: other range unit is ignored → 200', 'plain', { range: 'items=0-5' }, { status: 200, start: 0, length: 100, via: 'full', resumeFrom: undefined }],
  ])('%s', (_name, route, h, e) => {
    check(planFileResponse(req({ route, h, ledger: route === 'client' ? ledger : undefined }), rep, NOW), e);
  });

  // §15.5.17: 416 carries Content-Range: bytes */complete-length.
  it.each(['bytes=100-', 'bytes=-0', 'bytes=5-2', 'bytes=abc'])('%p → 416 with Content-Range bytes */100', (range) => {
    const p = refused(planFileResponse(req({ h: { range } }), rep, NOW));
    expect(p.error).toBe(ERRORS.RANGE_NOT_SATISFIABLE);
    expect(hdr(p.extra, 'Content-Range')).toBe('bytes */100');
  });

  it('416 on an empty file says */0', () => {
    const p = refused(planFileResponse(req({ route: 'plain', h: { range: 'bytes=0-' } }), { ...rep, size: 0 }, NOW));
    expect(hdr(p.extra, 'Content-Range')).toBe('bytes */0');
  });
});

describe('planFileResponse: plain route', () => {
  it('ignores any ledger entry: the whole file', () => {
    check(planFileResponse(req({ route: 'plain', ledger: { offset: 40, etag: '"v1"' } }), rep, NOW), {
      status: 200,
      start: 0,
      length: 100,
      via: 'full',
      resumeFrom: undefined,
    });
  });
});

describe('planFileResponse: preconditions (§13.2.2 order)', () => {
  it.each<[string, Record<string, string>, 200 | 304 | 412]>([
    // §13.1.2: If-None-Match uses weak comparison; GET/HEAD match → 304
    ['If-None-Match same tag', { 'if-none-match': '"v1"' }, 304],
    ['If-None-Match weak form of the tag', { 'if-none-match': 'W/"v1"' }, 304],
    ['If-None-Match list containing the tag', { 'if-none-match': '"a", "v1"' }, 304],
    ['If-None-Match *', { 'if-none-match': '*' }, 304],
    ['If-None-Match other tag', { 'if-none-match': '"v0"' }, 200],
    // §13.1.3: If-Modified-Since, only without If-None-Match
    ['If-Modified-Since = Last-Modified', { 'if-modified-since': LM_TEXT }, 304],
    ['If-Modified-Since before Last-Modified', { 'if-modified-since': 'Mon, 15 Jan 2024 11:59:59 GMT' }, 200],
    ['If-None-Match other tag overrides If-Modified-Since', { 'if-none-match': '"v0"', 'if-modified-since': LM_TEXT }, 200],
    ['garbage If-Modified-Since is ignored', { 'if-modified-since': 'soon' }, 200],
    // §13.1.1: If-Match uses strong comparison; mismatch → 412
    ['If-Match same tag', { 'if-match': '"v1"' }, 200],
    ['If-Match *', { 'if-match': '*' }, 200],
    ['If-Match list containing the tag', { 'if-match': '"v0", "v1"' }, 200],
    ['If-Match other tag', { 'if-match': '"v0"' }, 412],
    ['If-Match weak form of the tag', { 'if-match': 'W/"v1"' }, 412],
    ['If-Match failure comes before If-None-Match', { 'if-match': '"v0"', 'if-none-match': '"v1"' }, 412],
    // §13.1.4: If-Unmodified-Since, only without If-Match
    ['If-Unmodified-Since before Last-Modified', { 'if-unmodified-since': 'Mon, 15 Jan 2024 11:59:59 GMT' }, 412],
    ['If-Unmodified-Since = Last-Modified', { 'if-unmodified-since': LM_TEXT }, 200],
    ['If-Match ok overrides If-Unmodified-Since', { 'if-match': '"v1"', 'if-unmodified-since': 'Mon, 15 Jan 2024 11:59:59 GMT' }, 200],
  ])('%s → %i', (_name, h, status) => {
    for (const route of ['client', 'plain'] as const) {
      const plan = planFileResponse(req({ route, h }), rep, NOW);
      if (status === 412) {
        const p = refused(plan);
        expect(p.error).toBe(ERRORS.PRECONDITION_FAILED);
        expect(hdr(p.extra, 'ETag')).toBe('"v1"');
      } else {
        const p = ok(plan);
        expect(p.status).toBe(status);
      }
    }
  });

  it('304 has no body and no Content-Length, but the validators', () => {
    const p = ok(planFileResponse(req({ h: { 'if-none-match': '"v1"', range: 'bytes=0-9' } }), rep, NOW));
    expect(p).toMatchObject({ status: 304, start: 0, length: 0, via: 'not-modified' });
    expect(hdr(all(p), 'Content-Length')).toBeUndefined();
    expect(hdr(all(p), 'ETag')).toBe('"v1"');
    expect(hdr(all(p), 'Last-Modified')).toBe(LM_TEXT);
  });
});

describe('planFileResponse: headers', () => {
  it('fields serialized once per version (versionFields) are the ones made per request', () => {
    const made = all(ok(planFileResponse(req({ h: { range: 'bytes=1-2' } }), rep, NOW)));
    const given = all(ok(planFileResponse(req({ h: { range: 'bytes=1-2' } }), { ...rep, fields: versionFields(rep) }, NOW)));
    expect(given).toEqual(made);
    // 304 too: the validators and Cache-Control, no content fields.
    const nm = all(ok(planFileResponse(req({ route: 'plain', h: { 'if-none-match': '"v1"' } }), { ...rep, fields: versionFields(rep) }, NOW)));
    expect(nm.map(([n]) => n).sort()).toEqual(['Accept-Ranges', 'Cache-Control', 'Date', 'ETag', 'Last-Modified', 'Server']);
  });

  it.each<[FileRequest['route'], string]>([
    // per-device resume positions are private; plain files are revalidated
    ['client', 'no-store, no-transform'],
    ['plain', 'no-cache, no-transform'],
  ])('%s route: Cache-Control %p', (route, value) => {
    expect(hdr(all(ok(planFileResponse(req({ route }), rep, NOW))), 'Cache-Control')).toBe(value);
    expect(hdr(all(ok(planFileResponse(req({ route, h: { range: 'bytes=1-2' } }), rep, NOW))), 'Cache-Control')).toBe(value);
  });

  // RFC 9530 §3: Repr-Digest describes the whole representation, also on 206.
  it.each<[string, Partial<FileRequest> & { h?: Record<string, string> }]>([
    ['200 ledger', { ledger: { offset: 40, etag: '"v1"' } }],
    ['200 full', { route: 'plain' }],
    ['206', { h: { range: 'bytes=10-19' } }],
  ])('%s carries Repr-Digest of the whole file and the common headers', (_name, over) => {
    const p = ok(planFileResponse(req(over), rep, NOW));
    expect(hdr(all(p), 'Repr-Digest')).toBe(rep.reprDigest);
    expect(hdr(all(p), 'ETag')).toBe('"v1"');
    expect(hdr(all(p), 'Last-Modified')).toBe(LM_TEXT);
    expect(hdr(all(p), 'Accept-Ranges')).toBe('bytes');
    expect(hdr(all(p), 'Content-Type')).toBe('application/octet-stream');
    expect(hdr(all(p), 'Date')).toBe(new Date(NOW).toUTCString());
  });
});
