/**
 * What to answer for a file request: status, byte span and headers. Pure:
 * the representation's metadata and the ledger entry come in, a plan comes
 * out; the connection does the I/O.
 */
import { contentRange, parseRange, unsatisfiedRange } from './byte-range.js';
import { isRangeFresh, parseEntityTag, parseHttpDate } from './entity-tag.js';
import { ERRORS, type HttpErrorSpec } from './errors.js';
import { httpDateNow, SERVER_NAME, type HeaderList } from './response-head.js';

export interface RepresentationMeta {
  size: number;
  etag: string;
  lastModified: Date;
  reprDigest: string;
  contentType: string;
  /** This version's fixed fields, serialized once (versionFields); made here when absent. */
  fields?: VersionFields | undefined;
}

/**
 * The header fields of a response that depend only on the file version and
 * the route, serialized once per version: a response then formats only
 * Date, Content-Length and Content-Range or Mob-Resume-From. Each string is
 * whole field lines, CRLF included. (Order among fields of different names
 * carries no meaning, RFC 9110 §5.3.)
 */
export interface VersionFields {
  /** Server, ETag, Last-Modified, Accept-Ranges, Cache-Control: 200, 206 and 304. */
  client: string;
  plain: string;
  /** Content-Type and Repr-Digest: responses that carry the content. */
  content: string;
}

export function versionFields(rep: Omit<RepresentationMeta, 'fields'>): VersionFields {
  const common = (cacheControl: string): string =>
    `Server: ${SERVER_NAME}\r\nETag: ${rep.etag}\r\nLast-Modified: ${rep.lastModified.toUTCString()}\r\nAccept-Ranges: bytes\r\nCache-Control: ${cacheControl}\r\n`;
  return {
    // Per-device responses are that device's business only; plain files may
    // be stored by caches but are revalidated (we answer 304 to validators).
    client: common('no-store, no-transform'),
    plain: common('no-cache, no-transform'),
    // RFC 9530 §3: the digest of the selected representation, the whole file.
    content: `Content-Type: ${rep.contentType}\r\nRepr-Digest: ${rep.reprDigest}\r\n`,
  };
}

export interface FileRequest {
  /** 'client': GET /<id>/<path>, ledger-driven without Range; 'plain': a static file. */
  route: 'client' | 'plain';
  headers: ReadonlyArray<[string, string]>;
  range: string | undefined;
  ifRange: string | undefined;
  /** Ledger entry for (client, path), client route only. */
  ledger?: { offset: number; etag: string } | undefined;
}

export type Via = 'range' | 'ledger' | 'full' | 'not-modified';

export type FilePlan =
  | {
      ok: true;
      status: 200 | 206 | 304;
      /** First byte to send and how many. */
      start: number;
      length: number;
      via: Via;
      /** The fields that vary per response (Date, Content-Length, …). */
      headers: HeaderList;
      /** The version's fixed fields, serialized (see VersionFields). */
      fields: string;
    }
  | { ok: false; error: HttpErrorSpec; extra: HeaderList };

/** Header names a ledger response adds: where in the file its body begins. */
export const RESUME_HEADER = 'Mob-Resume-From';

function header(headers: ReadonlyArray<[string, string]>, name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}

/** RFC 9110 §13.1.1 / §13.1.2: a list of entity-tags or "*". */
function tagListMatches(value: string, etag: string, weakCompare: boolean): boolean {
  if (value.trim() === '*') return true;
  const mine = parseEntityTag(etag);
  if (!mine) return false;
  for (const part of value.split(',')) {
    const t = parseEntityTag(part);
    if (!t) continue;
    if (weakCompare ? t.opaque === mine.opaque : !t.weak && !mine.weak && t.opaque === mine.opaque) return true;
  }
  return false;
}

/**
 * RFC 9110 §13.2.2 order of evaluation: If-Match, If-Unmodified-Since,
 * If-None-Match, If-Modified-Since; then If-Range (§13.1.5) inside Range.
 */
function preconditions(req: FileRequest, rep: RepresentationMeta): 'ok' | 'failed' | 'not-modified' {
  const h = req.headers;
  const lmSeconds = Math.floor(rep.lastModified.getTime() / 1000);
  const ifMatch = header(h, 'if-match');
  if (ifMatch !== undefined) {
    if (!tagListMatches(ifMatch, rep.etag, false)) return 'failed';
  } else {
    const ius = header(h, 'if-unmodified-since');
    const d = ius === undefined ? undefined : parseHttpDate(ius);
    if (d && lmSeconds > d.getTime() / 1000) return 'failed';
  }
  const inm = header(h, 'if-none-match');
  if (inm !== undefined) {
    // §13.1.2: weak comparison; for GET/HEAD a match means 304.
    if (tagListMatches(inm, rep.etag, true)) return 'not-modified';
  } else {
    const ims = header(h, 'if-modified-since');
    const d = ims === undefined ? undefined : parseHttpDate(ims);
    if (d && lmSeconds <= d.getTime() / 1000) return 'not-modified';
  }
  return 'ok';
}

export function planFileResponse(req: FileRequest, rep: RepresentationMeta, now = Date.now()): FilePlan {
  const fields = rep.fields ?? versionFields(rep);
  const common = req.route === 'client' ? fields.client : fields.plain;
  const date = httpDateNow(now);

  const pre = preconditions(req, rep);
  if (pre === 'failed') return { ok: false, error: ERRORS.PRECONDITION_FAILED, extra: [['ETag', rep.etag]] };
  if (pre === 'not-modified') return { ok: true, status: 304, start: 0, length: 0, via: 'not-modified', headers: [['Date', date]], fields: common };

  const withBody = (status: 200 | 206, start: number, length: number, via: Via, extra: [string, string | number] | undefined): FilePlan => ({
    ok: true,
    status,
    start,
    length,
    via,
    headers: extra ? [['Date', date], ['Content-Length', length], extra] : [['Date', date], ['Content-Length', length]],
    fields: common + fields.content,
  });

  // RFC 9110 §13.1.5: If-Range only counts together with Range; if it does
  // not match (or is weak, or a weak date), the Range is ignored: 200, byte 0.
  const fresh = req.ifRange === undefined || isRangeFresh(req.ifRange, { etag: rep.etag, lastModified: rep.lastModified, date: new Date(now) });
  if (req.range !== undefined && !fresh) return withBody(200, 0, rep.size, 'full', req.route === 'client' ? [RESUME_HEADER, 0] : undefined);

  const range = parseRange(rep.size, req.range);
  if (range.kind === 'unsatisfiable') {
    // §15.5.17: 416 with Content-Range: bytes */size
    return { ok: false, error: ERRORS.RANGE_NOT_SATISFIABLE, extra: [['Content-Range', unsatisfiedRange(rep.size)], ['ETag', rep.etag]] };
  }
  if (range.kind === 'single') {
    const length = range.end - range.start + 1;
    return withBody(206, range.start, length, 'range', ['Content-Range', contentRange(range.start, range.end, rep.size)]);
  }
  if (req.route === 'client' && range.reason === 'absent') {
    // The seed's contract: without Range, the rest of the file from where the
    // ledger says this device is; an offset into another version counts as 0.
    const l = req.ledger;
    const start = l && l.etag === rep.etag && l.offset <= rep.size ? l.offset : 0;
    return withBody(200, start, rep.size - start, 'ledger', [RESUME_HEADER, start]);
  }
  return withBody(200, 0, rep.size, 'full', req.route === 'client' ? [RESUME_HEADER, 0] : undefined);
}
