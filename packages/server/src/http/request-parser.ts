/**
 * Incremental HTTP/1.1 request parser (RFC 9112). Pure: bytes in, requests or
 * one error out. It never throws on client input.
 *
 * Strictness is deliberate (request smuggling lives in leniency):
 * - lines end in CRLF; a bare LF or bare CR is an error (§2.2 allows
 *   accepting bare LF, we do not),
 * - obs-fold is rejected (§5.2),
 * - whitespace between field name and colon is rejected (§5.1),
 * - Transfer-Encoding in a request is rejected, as is a non-zero or
 *   conflicting Content-Length: this server takes no request bodies (§6).
 *
 * The outcome does not depend on how the bytes are cut: every push is judged
 * as if its bytes had come one at a time, so the earliest offending byte
 * decides which error is reported (test/request-parser.fuzz.test.ts).
 */
import { ERRORS, type HttpErrorSpec } from './errors.js';

export interface ParserLimits {
  /** Longest request line, CRLF excluded (RFC 9112 §3: 414 beyond). */
  maxRequestLine: number;
  /** Largest header section including the request line (RFC 6585 §5: 431). */
  maxHeaderBytes: number;
  /** Most header fields. */
  maxHeaderCount: number;
}

export const DEFAULT_LIMITS: ParserLimits = Object.freeze({
  maxRequestLine: 8192,
  maxHeaderBytes: 16384,
  maxHeaderCount: 100,
});

export interface ParsedRequest {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  /** Field lines in order, names lower-cased. */
  headers: Array<[string, string]>;
  host: string | undefined;
  range: string | undefined;
  ifRange: string | undefined;
  /** Persistent connection wanted after this request (RFC 9112 §9.3). */
  keepAlive: boolean;
  /** The request announced a body (Content-Length > 0). */
  hasBody: boolean;
}

export type ParseEvent =
  | { kind: 'request'; request: ParsedRequest }
  | { kind: 'error'; error: HttpErrorSpec; partial?: Partial<ParsedRequest> };

const CR = 0x0d;
const LF = 0x0a;

// RFC 9110 §5.6.2 tchar
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[c.charCodeAt(0)] = 1;
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!TCHAR[s.charCodeAt(i)]) return false;
  return true;
}

/** RFC 9110 §5.5 field-value: VCHAR / obs-text / SP / HTAB, no CTLs. */
function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x09) continue;
    if (c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

/** RFC 9112 §3.2 request-target: visible ASCII, no spaces. */
function isTarget(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/** RFC 9110 §5.5: a field value without the optional whitespace (SP, HTAB) around it. */
function trimOws(line: string, from: number): string {
  let a = from;
  let b = line.length;
  while (a < b && (line.charCodeAt(a) === 0x20 || line.charCodeAt(a) === 0x09)) a++;
  while (b > a && (line.charCodeAt(b - 1) === 0x20 || line.charCodeAt(b - 1) === 0x09)) b--;
  return line.slice(a, b);
}

const SINGLETONS = new Set(['host', 'range', 'if-range', 'content-length']);

export class RequestParser {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of buf already checked: no terminator, no error in any prefix this long. */
  private scanned = 0;
  /** Empty lines skipped before the request line still to come. */
  private skipped = 0;
  private dead = false;

  constructor(private readonly limits: ParserLimits = DEFAULT_LIMITS) {}

  /**
   * Bytes received that do not yet form a whole request, counting the empty
   * lines skipped before it: a peer dripping CRLFs is still sending a head,
   * so the header timeout and the header size limit apply to it. Never more
   * than maxHeaderBytes.
   */
  get pending(): number {
    return this.buf.length + this.skipped;
  }

  /**
   * Feed bytes; returns every complete request they finish, in order. After
   * an error event the parser is dead and returns nothing more.
   */
  push(chunk: Buffer): ParseEvent[] {
    if (this.dead) return [];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const events: ParseEvent[] = [];
    for (;;) {
      const ev = this.next();
      if (ev === undefined) break;
      events.push(ev);
      if (ev.kind === 'error') {
        this.dead = true;
        this.buf = Buffer.alloc(0);
        this.skipped = 0;
        break;
      }
    }
    return events;
  }

  private next(): ParseEvent | undefined {
    // RFC 9112 §2.2: ignore empty lines before the request line.
    let start = 0;
    while (start + 1 < this.buf.length && this.buf[start] === CR && this.buf[start + 1] === LF) start += 2;
    if (start > 0) {
      this.buf = this.buf.subarray(start);
      this.scanned = 0;
      this.skipped += start;
    }
    // They count toward the header section: a flood of them is a head that never ends.
    if (this.skipped > this.limits.maxHeaderBytes) return { kind: 'error', error: ERRORS.HEADERS_TOO_LARGE };
    if (this.buf.length === 0) return undefined;

    // Search only the new bytes (and the 3 before them) so a client sending
    // one byte at a time costs linear, not quadratic, work.
    const end = this.buf.indexOf('\r\n\r\n', Math.max(0, this.scanned - 3), 'latin1');
    const headEnd = end === -1 ? -1 : end + 4;
    // A line too long, a head too large, a bare CR or LF: each is fatal as
    // soon as its byte arrives, whether or not a terminator follows.
    const early = this.firstError(end === -1 ? this.buf.length : headEnd - 1);
    if (early) return { kind: 'error', error: early };
    if (end === -1) {
      this.scanned = this.buf.length;
      return undefined;
    }
    if (headEnd + this.skipped > this.limits.maxHeaderBytes) return { kind: 'error', error: this.sizeError(headEnd) };
    const head = this.buf.subarray(0, end);
    this.buf = this.buf.subarray(headEnd);
    this.scanned = 0;
    this.skipped = 0;
    return this.parseHead(head);
  }

  /**
   * The error the first `upto` bytes of buf provoke, judged as if they had
   * arrived one at a time: the earliest byte that breaks a rule decides,
   * so the outcome cannot depend on how TCP cut the stream. Prefixes up to
   * `scanned` are known clean. At equal positions a long line beats a
   * large head, which beats a bare CR or LF.
   */
  private firstError(upto: number): HttpErrorSpec | undefined {
    const { maxRequestLine, maxHeaderBytes } = this.limits;
    const buf = this.buf;
    const firstLf = buf.indexOf(LF);
    let at = Infinity;
    let error: HttpErrorSpec | undefined;
    // RFC 9112 §3: the request line, still without its LF, is longer than
    // allowed (a CR at the limit may yet be the first half of its CRLF).
    const lineAt = buf[maxRequestLine] === CR ? maxRequestLine + 2 : maxRequestLine + 1;
    if (firstLf === -1 || firstLf >= lineAt) [at, error] = [lineAt, ERRORS.URI_TOO_LONG];
    // RFC 6585 §5: the head so far, empty lines included, is larger than allowed.
    const sizeAt = maxHeaderBytes - this.skipped + 1;
    if (sizeAt < at) [at, error] = [sizeAt, this.sizeError(sizeAt)];
    // RFC 9112 §2.2: a bare CR or LF.
    for (let i = Math.max(0, this.scanned - 1); i < upto && i + 1 < at; i++) {
      const c = buf[i];
      if (c === LF && (i === 0 || buf[i - 1] !== CR)) {
        [at, error] = [i + 1, ERRORS.BARE_LF];
      } else if (c === CR && i + 1 < buf.length && buf[i + 1] !== LF) {
        if (i + 2 < at) [at, error] = [i + 2, ERRORS.BARE_CR];
      } else continue;
      break;
    }
    return at > this.scanned && at <= upto ? error : undefined;
  }

  /** 414 when the head overflows inside its request line, else 431 (over the first `n` bytes of buf). */
  private sizeError(n: number): HttpErrorSpec {
    const lf = this.buf.indexOf(LF);
    const last = lf !== -1 && lf < n ? lf : n;
    const lineLen = last - (last > 0 && this.buf[last - 1] === CR ? 1 : 0);
    return lineLen > this.limits.maxRequestLine ? ERRORS.URI_TOO_LONG : ERRORS.HEADERS_TOO_LARGE;
  }

  /**
   * The head, up to its empty line. firstError() has already seen every byte
   * of it: no bare CR or LF, and a request line within maxRequestLine.
   */
  private parseHead(head: Buffer): ParseEvent {
    const text = head.toString('latin1');
    const lines = text.split('\r\n');
    const requestLine = lines[0] ?? '';

    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
    const parts = requestLine.split(' ');
    if (parts.length !== 3) return { kind: 'error', error: ERRORS.BAD_REQUEST_LINE };
    const [method, target, version] = parts as [string, string, string];
    if (!isToken(method) || !isTarget(target)) return { kind: 'error', error: ERRORS.BAD_REQUEST_LINE };
    // RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT
    let minor: 0 | 1 = 1;
    if (version !== 'HTTP/1.1') {
      const vm = /^HTTP\/(\d)\.(\d)$/.exec(version);
      if (!vm) return { kind: 'error', error: ERRORS.BAD_REQUEST_LINE };
      if (vm[1] !== '1') return { kind: 'error', error: ERRORS.VERSION_NOT_SUPPORTED };
      minor = vm[2] === '0' ? 0 : 1;
    }

    if (lines.length - 1 > this.limits.maxHeaderCount) return { kind: 'error', error: ERRORS.HEADERS_TOO_LARGE };
    const headers: Array<[string, string]> = [];
    const seen = new Map<string, string>();
    let connection = '';
    let transferEncoding = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      // RFC 9112 §5.2: obs-fold; a server MUST reject it or unfold it. We reject.
      if (line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) return { kind: 'error', error: ERRORS.OBS_FOLD };
      const colon = line.indexOf(':');
      if (colon <= 0) return { kind: 'error', error: ERRORS.BAD_HEADER };
      const name = line.slice(0, colon);
      // RFC 9112 §5.1: no whitespace between field name and colon; MUST reject with 400.
      if (!isToken(name)) return { kind: 'error', error: ERRORS.BAD_HEADER };
      const value = trimOws(line, colon + 1);
      if (!isFieldValue(value)) return { kind: 'error', error: ERRORS.BAD_HEADER };
      const lname = name.toLowerCase();
      if (SINGLETONS.has(lname) && seen.has(lname)) {
        // RFC 9112 §3.2: more than one Host is a 400. RFC 9112 §6.3: differing
        // Content-Length values are unrecoverable; we refuse any repetition.
        if (lname === 'host') return { kind: 'error', error: ERRORS.MISSING_HOST };
        if (lname === 'content-length') return { kind: 'error', error: ERRORS.BAD_CONTENT_LENGTH };
        return { kind: 'error', error: ERRORS.DUPLICATE_HEADER };
      }
      seen.set(lname, value);
      headers.push([lname, value]);
      if (lname === 'connection') connection += (connection ? ',' : '') + value.toLowerCase();
      else if (lname === 'transfer-encoding') transferEncoding = true;
    }

    const host = seen.get('host');
    // RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host.
    if (minor === 1 && host === undefined) return { kind: 'error', error: ERRORS.MISSING_HOST };

    // RFC 9112 §6.1: a request with both Transfer-Encoding and Content-Length
    // is a smuggling shape; with Transfer-Encoding alone we would have to read
    // a chunked body we have no use for. Either way: 400 and close.
    if (transferEncoding) return { kind: 'error', error: ERRORS.TRANSFER_ENCODING };

    let hasBody = false;
    const cl = seen.get('content-length');
    if (cl !== undefined) {
      // RFC 9110 §8.6: Content-Length = 1*DIGIT
      if (!/^\d{1,15}$/.test(cl)) return { kind: 'error', error: ERRORS.BAD_CONTENT_LENGTH };
      hasBody = Number(cl) > 0;
    }

    const tokens = connection === '' ? [] : connection.split(',').map((t) => t.trim());
    // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
    const keepAlive = tokens.includes('close') ? false : minor === 1 || tokens.includes('keep-alive');

    const request: ParsedRequest = {
      method,
      target,
      minor,
      headers,
      host,
      range: seen.get('range'),
      ifRange: seen.get('if-range'),
      keepAlive,
      hasBody,
    };
    return { kind: 'request', request };
  }
}
