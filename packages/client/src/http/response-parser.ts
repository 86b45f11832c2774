/**
 * Incremental HTTP/1.1 response parser (RFC 9112). Pure: bytes in, events
 * out; body chunks are views into the input (no copies). Never throws on
 * what a server sends: a malformed response is an `error` event.
 *
 * Body length (RFC 9112 §6.3), in order: no body for HEAD, 1xx, 204 and
 * 304; chunked if it is the final transfer coding; any other
 * Transfer-Encoding reads until close; a valid Content-Length; otherwise
 * the body ends when the connection closes.
 */

export interface ResponseHead {
  status: number;
  reason: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 */
  minor: number;
  /** Lower-cased names; repeated fields joined with ", " (RFC 9110 §5.3). */
  headers: Map<string, string>;
  /** Body framing chosen for this response. */
  framing: 'none' | 'length' | 'chunked' | 'close';
  /** Body length when framing is 'length'. */
  contentLength: number | undefined;
}

export type ResponseEvent =
  | { type: 'head'; head: ResponseHead }
  | { type: 'data'; chunk: Buffer }
  | { type: 'end' }
  | { type: 'error'; code: ResponseErrorCode; message: string };

export type ResponseErrorCode = 'bad-status-line' | 'bad-header' | 'header-too-large' | 'bad-content-length' | 'bad-chunk' | 'premature-close';

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'done' | 'dead';

export interface ResponseParserOptions {
  method: string;
  maxHeaderBytes?: number;
}

export class ResponseParser {
  private state: State = 'head';
  private buf: Buffer = Buffer.alloc(0);
  private left = 0;
  private readonly maxHeaderBytes: number;

  constructor(private readonly opts: ResponseParserOptions) {
    this.maxHeaderBytes = opts.maxHeaderBytes ?? 64 * 1024;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** Body bytes still expected, for Content-Length framing. */
  get remaining(): number {
    return this.state === 'length' ? this.left : 0;
  }

  push(chunk: Buffer): ResponseEvent[] {
    const out: ResponseEvent[] = [];
    if (this.state === 'done' || this.state === 'dead') return out;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length > 0 && this.step(out));
    // What waits for the next push (part of a head or a chunk-size line) is
    // copied: a reader that reuses its memory (read-ring.ts) overwrites it.
    if (this.buf.length > 0 && this.buf.buffer === chunk.buffer) this.buf = Buffer.from(this.buf);
    return out;
  }

  /** The connection closed: ends a close-delimited body, or reports a short one. */
  finish(): ResponseEvent[] {
    if (this.state === 'close') {
      this.state = 'done';
      return [{ type: 'end' }];
    }
    if (this.state === 'done' || this.state === 'dead') return [];
    this.state = 'dead';
    return [{ type: 'error', code: 'premature-close', message: 'connection closed before the response was complete' }];
  }

  private fail(out: ResponseEvent[], code: ResponseErrorCode, message: string): false {
    this.state = 'dead';
    this.buf = Buffer.alloc(0);
    out.push({ type: 'error', code, message });
    return false;
  }

  /** Consumes what it can; returns whether to loop again. */
  private step(out: ResponseEvent[]): boolean {
    switch (this.state) {
      case 'head':
        return this.parseHead(out);
      case 'length': {
        const n = Math.min(this.left, this.buf.length);
        out.push({ type: 'data', chunk: this.buf.subarray(0, n) });
        this.buf = this.buf.subarray(n);
        this.left -= n;
        if (this.left === 0) {
          this.state = 'done';
          out.push({ type: 'end' });
          return false;
        }
        return true;
      }
      case 'close':
        out.push({ type: 'data', chunk: this.buf });
        this.buf = Buffer.alloc(0);
        return false;
      case 'chunk-size': {
        const eol = this.buf.indexOf('\r\n');
        if (eol === -1) {
          if (this.buf.length > 1024) return this.fail(out, 'bad-chunk', 'chunk size line too long');
          return false;
        }
        const line = this.buf.toString('latin1', 0, eol);
        // RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF
        const m = /^([0-9A-Fa-f]{1,13})[ \t]*(;.*)?$/.exec(line);
        if (!m) return this.fail(out, 'bad-chunk', `bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
        this.buf = this.buf.subarray(eol + 2);
        this.left = parseInt(m[1]!, 16);
        this.state = this.left === 0 ? 'trailers' : 'chunk-data';
        return true;
      }
      case 'chunk-data': {
        const n = Math.min(this.left, this.buf.length);
        out.push({ type: 'data', chunk: this.buf.subarray(0, n) });
        this.buf = this.buf.subarray(n);
        this.left -= n;
        if (this.left === 0) this.state = 'chunk-crlf';
        return true;
      }
      case 'chunk-crlf':
        if (this.buf.length < 2) return false;
        if (this.buf[0] !== 0x0d || this.buf[1] !== 0x0a) return this.fail(out, 'bad-chunk', 'chunk data not followed by CRLF');
        this.buf = this.buf.subarray(2);
        this.state = 'chunk-size';
        return true;
      case 'trailers': {
        // RFC 9112 §7.1.2: trailer section, ended by an empty line.
        const eol = this.buf.indexOf('\r\n');
        if (eol === -1) return false;
        this.buf = this.buf.subarray(eol + 2);
        if (eol === 0) {
          this.state = 'done';
          out.push({ type: 'end' });
          return false;
        }
        return true;
      }
      default:
        return false;
    }
  }

  private parseHead(out: ResponseEvent[]): boolean {
    const end = this.buf.indexOf('\r\n\r\n');
    // The limit holds however the bytes arrive: a section that came in one
    // piece is measured too, not only one still waiting for its end.
    if (end === -1 ? this.buf.length > this.maxHeaderBytes : end + 4 > this.maxHeaderBytes) {
      return this.fail(out, 'header-too-large', 'response header section too large');
    }
    if (end === -1) return false;
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    this.buf = this.buf.subarray(end + 4);
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
    const m = /^HTTP\/1\.(\d) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
    if (!m) return this.fail(out, 'bad-status-line', `bad status line ${JSON.stringify((lines[0] ?? '').slice(0, 60))}`);
    const status = Number(m[2]);
    const headers = new Map<string, string>();
    let contentLengths: string[] = [];
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0 || /[\s]/.test(line.slice(0, colon))) return this.fail(out, 'bad-header', `bad header line ${JSON.stringify(line.slice(0, 60))}`);
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') contentLengths = contentLengths.concat(value.split(',').map((v) => v.trim()));
      const prev = headers.get(name);
      headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
    }
    if (status >= 100 && status < 200) {
      // Interim response (100 Continue, 103 Early Hints): the real one follows.
      return true;
    }
    let framing: ResponseHead['framing'];
    let contentLength: number | undefined;
    const te = headers.get('transfer-encoding');
    if (this.opts.method === 'HEAD' || status === 204 || status === 304) framing = 'none';
    else if (te !== undefined) {
      const codings = te.toLowerCase().split(',').map((s) => s.trim());
      framing = codings[codings.length - 1] === 'chunked' ? 'chunked' : 'close';
    } else if (contentLengths.length > 0) {
      // RFC 9112 §6.3: differing values are unrecoverable; identical repeats are tolerated.
      const distinct = new Set(contentLengths);
      const only = [...distinct][0]!;
      if (distinct.size !== 1 || !/^\d{1,15}$/.test(only)) return this.fail(out, 'bad-content-length', `invalid Content-Length ${JSON.stringify(headers.get('content-length'))}`);
      framing = 'length';
      contentLength = Number(only);
    } else framing = 'close';

    out.push({ type: 'head', head: { status, reason: m[3] ?? '', minor: Number(m[1]), headers, framing, contentLength } });
    if (framing === 'none' || (framing === 'length' && contentLength === 0)) {
      this.state = 'done';
      out.push({ type: 'end' });
      return false;
    }
    this.state = framing === 'length' ? 'length' : framing === 'chunked' ? 'chunk-size' : 'close';
    this.left = contentLength ?? 0;
    return true;
  }
}
