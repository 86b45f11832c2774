/**
 * RequestParser (RFC 9112): bytes in, requests or exactly one error out.
 * Every table row runs twice: the whole input in one push, and one byte per
 * push. Framing must not depend on how TCP happened to cut the stream.
 */
import { ERRORS } from '../src/http/errors.js';
import { DEFAULT_LIMITS, RequestParser, type ParseEvent, type ParsedRequest, type ParserLimits } from '../src/http/request-parser.js';

const CRLF = '\r\n';

/** A request head: request line, field lines, blank line. */
function head(requestLine: string, ...fields: string[]): string {
  return [requestLine, ...fields].join(CRLF) + CRLF + CRLF;
}

function pushWhole(input: string | Buffer, limits?: ParserLimits): ParseEvent[] {
  return new RequestParser(limits).push(Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1'));
}

function pushBytes(input: string | Buffer, limits?: ParserLimits): ParseEvent[] {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  const parser = new RequestParser(limits);
  const events: ParseEvent[] = [];
  for (let i = 0; i < buf.length; i++) events.push(...parser.push(buf.subarray(i, i + 1)));
  return events;
}

const modes = [
  ['one push', pushWhole],
  ['byte by byte', pushBytes],
] as const;

function onlyRequest(events: ParseEvent[]): ParsedRequest {
  expect(events.map((e) => e.kind)).toEqual(['request']);
  return (events[0] as Extract<ParseEvent, { kind: 'request' }>).request;
}

function onlyErrorCode(events: ParseEvent[]): string {
  expect(events.map((e) => e.kind)).toEqual(['error']);
  return (events[0] as Extract<ParseEvent, { kind: 'error' }>).error.code;
}

describe.each(modes)('RequestParser (%s)', (_mode, parse) => {
  // RFC 9112 §3 request-line, §2.3 version, §9.3 persistence.
  it.each<[string, string, Partial<ParsedRequest>]>([
    ['GET 1.1: persistent by default (§9.3)', head('GET /a HTTP/1.1', 'Host: h'), { method: 'GET', target: '/a', minor: 1, host: 'h', keepAlive: true, hasBody: false }],
    ['HEAD 1.1', head('HEAD /a HTTP/1.1', 'Host: h'), { method: 'HEAD', minor: 1, keepAlive: true }],
    ['1.1 + Connection: close', head('GET / HTTP/1.1', 'Host: h', 'Connection: close'), { keepAlive: false }],
    ['1.1 + Connection: Keep-Alive, CLOSE (tokens are case-insensitive)', head('GET / HTTP/1.1', 'Host: h', 'Connection: Keep-Alive, CLOSE'), { keepAlive: false }],
    ['1.1 + close in a second Connection line', head('GET / HTTP/1.1', 'Host: h', 'Connection: upgrade', 'Connection: close'), { keepAlive: false }],
    ['GET 1.0: closes by default (§9.3)', head('GET / HTTP/1.0'), { minor: 0, host: undefined, keepAlive: false }],
    ['1.0 + Connection: keep-alive', head('GET / HTTP/1.0', 'Connection: keep-alive'), { minor: 0, keepAlive: true }],
    ['1.0 may carry Host', head('HEAD / HTTP/1.0', 'Host: h:8080'), { host: 'h:8080', keepAlive: false }],
    ['higher 1.x minor is treated as 1.1 (RFC 9110 §2.5)', head('GET / HTTP/1.9', 'Host: h'), { minor: 1 }],
    ['OWS around a field value is stripped (§5.1)', head('GET / HTTP/1.1', 'Host: \t h \t'), { host: 'h' }],
    ['field names are case-insensitive', head('GET / HTTP/1.1', 'HOST: h', 'RANGE: bytes=1-2', 'If-RANGE: "x"'), { host: 'h', range: 'bytes=1-2', ifRange: '"x"' }],
    ['empty field value is allowed', head('GET / HTTP/1.1', 'Host: h', 'X-Empty:'), { headers: [['host', 'h'], ['x-empty', '']] }],
    ['HTAB and obs-text are field-vchars (RFC 9110 §5.5)', head('GET / HTTP/1.1', 'Host: h', 'X-A: a\tb\xe9'), { headers: [['host', 'h'], ['x-a', 'a\tb\xe9']] }],
    ['Content-Length: 0 is no body', head('GET / HTTP/1.1', 'Host: h', 'Content-Length: 0'), { hasBody: false }],
    ['Content-Length: 5 announces a body', head('POST / HTTP/1.1', 'Host: h', 'Content-Length: 5'), { method: 'POST', hasBody: true }],
    ['any token is a method; policy is not the parser’s', head("M-SEARCH* / HTTP/1.1", 'Host: h'), { method: 'M-SEARCH*' }],
    ['absolute-form target is passed through (§3.2.2)', head('GET http://h/x HTTP/1.1', 'Host: h'), { target: 'http://h/x' }],
    ['leading empty lines are ignored (§2.2)', CRLF + CRLF + head('GET / HTTP/1.1', 'Host: h'), { method: 'GET', host: 'h' }],
  ])('accepts: %s', (_name, input, expected) => {
    expect(onlyRequest(parse(input))).toMatchObject(expected);
  });

  it('keeps field lines in order with lower-cased names', () => {
    const req = onlyRequest(parse(head('GET / HTTP/1.1', 'Host: h', 'Accept: */*', 'X-Two: 2', 'accept: text/plain')));
    expect(req.headers).toEqual([
      ['host', 'h'],
      ['accept', '*/*'],
      ['x-two', '2'],
      ['accept', 'text/plain'],
    ]);
  });

  // Each error: the code clients and tests branch on (errors.ts), and the
  // connection must close (framing is lost).
  it.each<[string, string, string]>([
    // §2.2: lines end in CRLF; we do not accept a bare LF or CR.
    ['bare LF ending the request line', 'GET / HTTP/1.1\nHost: h\r\n\r\n', ERRORS.BARE_LF.code],
    ['bare LF ending a field line', 'GET / HTTP/1.1\r\nHost: h\n\r\n', ERRORS.BARE_LF.code],
    ['LF LF instead of CRLF CRLF', 'GET / HTTP/1.1\nHost: h\n\n', ERRORS.BARE_LF.code],
    ['bare CR inside a field value', head('GET / HTTP/1.1', 'Host: h', 'X-A: a\rb'), ERRORS.BARE_CR.code],
    ['bare CR in the request line', 'GET /\r HTTP/1.1\r\nHost: h\r\n\r\n', ERRORS.BARE_CR.code],
    // §5.2: obs-fold is rejected.
    ['obs-fold with SP', head('GET / HTTP/1.1', 'Host: h', 'X-A: a', ' b'), ERRORS.OBS_FOLD.code],
    ['obs-fold with HTAB', head('GET / HTTP/1.1', 'Host: h', 'X-A: a', '\tb'), ERRORS.OBS_FOLD.code],
    // §5.1: no whitespace between field name and colon.
    ['space before colon', head('GET / HTTP/1.1', 'Host : h'), ERRORS.BAD_HEADER.code],
    ['tab before colon', head('GET / HTTP/1.1', 'Host\t: h'), ERRORS.BAD_HEADER.code],
    ['field line without colon', head('GET / HTTP/1.1', 'Host: h', 'X-A'), ERRORS.BAD_HEADER.code],
    ['empty field name', head('GET / HTTP/1.1', 'Host: h', ': v'), ERRORS.BAD_HEADER.code],
    ['non-token field name', head('GET / HTTP/1.1', 'Host: h', 'X(A): v'), ERRORS.BAD_HEADER.code],
    // RFC 9110 §5.5: no CTLs in a field value.
    ['NUL in a field value', head('GET / HTTP/1.1', 'Host: h', 'X-A: a\x00b'), ERRORS.BAD_HEADER.code],
    ['control byte 0x01 in a field value', head('GET / HTTP/1.1', 'Host: h', 'X-A: a\x01b'), ERRORS.BAD_HEADER.code],
    ['DEL in a field value', head('GET / HTTP/1.1', 'Host: h', 'X-A: a\x7fb'), ERRORS.BAD_HEADER.code],
    ['NUL in the Host value', head('GET / HTTP/1.1', 'Host: h\x00.evil'), ERRORS.BAD_HEADER.code],
    // §3.2: exactly one Host on 1.1.
    ['missing Host on 1.1', head('GET / HTTP/1.1', 'Accept: */*'), ERRORS.MISSING_HOST.code],
    ['two Host headers', head('GET / HTTP/1.1', 'Host: a', 'Host: b'), ERRORS.MISSING_HOST.code],
    ['two identical Host headers', head('GET / HTTP/1.1', 'Host: a', 'host: a'), ERRORS.MISSING_HOST.code],
    // §6.3, RFC 9110 §8.6: Content-Length = 1*DIGIT, once.
    ['duplicate Content-Length (same value)', head('GET / HTTP/1.1', 'Host: h', 'Content-Length: 0', 'Content-Length: 0'), ERRORS.BAD_CONTENT_LENGTH.code],
    ['duplicate Content-Length (different values)', head('GET / HTTP/1.1', 'Host: h', 'Content-Length: 0', 'Content-Length: 5'), ERRORS.BAD_CONTENT_LENGTH.code],
    ['Content-Length list', head('GET / HTTP/1.1', 'Host: h', 'Content-Length: 5, 5'), ERRORS.BAD_CONTENT_LENGTH.code],
    ['non-numeric Content-Length', head('GET / HTTP/1.1', 'Host: h', 'Content-Length: abc'), ERRORS.BAD_CONTENT_LENGTH.code],
    ['negative Content-Length', head('GET / HTTP/1.1', 'Host: h', 'Content-Length: -1'), ERRORS.BAD_CONTENT_LENGTH.code],
    ['signed Content-Length', head('GET / HTTP/1.1', 'Host: h', 'Content-Length: +5'), ERRORS.BAD_CONTENT_LENGTH.code],
    ['empty Content-Length', head('GET / HTTP/1.1', 'Host: h', 'Content-Length:'), ERRORS.BAD_CONTENT_LENGTH.code],
    // §6.1: Transfer-Encoding in a request is refused, with or without Content-Length.
    ['Transfer-Encoding: chunked', head('GET / HTTP/1.1', 'Host: h', 'Transfer-Encoding: chunked'), ERRORS.TRANSFER_ENCODING.code],
    ['Transfer-Encoding + Content-Length', head('GET / HTTP/1.1', 'Host: h', 'Content-Length: 3', 'Transfer-Encoding: chunked'), ERRORS.TRANSFER_ENCODING.code],
    ['Content-Length + Transfer-Encoding: identity', head('GET / HTTP/1.1', 'Host: h', 'Transfer-Encoding: identity', 'Content-Length: 3'), ERRORS.TRANSFER_ENCODING.code],
    // Singletons other than Host / Content-Length.
    ['two Range headers', head('GET / HTTP/1.1', 'Host: h', 'Range: bytes=0-1', 'Range: bytes=2-3'), ERRORS.DUPLICATE_HEADER.code],
    ['two If-Range headers', head('GET / HTTP/1.1', 'Host: h', 'If-Range: "a"', 'If-Range: "b"'), ERRORS.DUPLICATE_HEADER.code],
    // §2.3: HTTP-version.
    ['HTTP/2.0', head('GET / HTTP/2.0', 'Host: h'), ERRORS.VERSION_NOT_SUPPORTED.code],
    ['HTTP/0.9 major', head('GET / HTTP/0.9', 'Host: h'), ERRORS.VERSION_NOT_SUPPORTED.code],
    ['garbage version', head('GET / FOO/1.1', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
    ['lower-case version name', head('GET / http/1.1', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
    ['two-digit minor', head('GET / HTTP/1.10', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
    ['version without minor', head('GET / HTTP/1', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
    // §3: method SP request-target SP HTTP-version.
    ['non-token method', head('G(T / HTTP/1.1', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
    ['method with NUL', head('GE\x00T / HTTP/1.1', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
    ['two spaces after method', head('GET  / HTTP/1.1', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
    ['missing target', head('GET HTTP/1.1', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
    ['trailing space after version', head('GET / HTTP/1.1 ', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
    ['tab as separator', head('GET\t/\tHTTP/1.1', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
    ['non-ASCII byte in target', head('GET /\xe9 HTTP/1.1', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
    ['DEL in target', head('GET /\x7f HTTP/1.1', 'Host: h'), ERRORS.BAD_REQUEST_LINE.code],
  ])('rejects: %s', (_name, input, code) => {
    expect(onlyErrorCode(parse(input))).toBe(code);
  });

  // §3 (414) and RFC 6585 §5 (431), with the default limits.
  it.each<[string, string, string]>([
    ['request line over the limit', head(`GET /${'a'.repeat(DEFAULT_LIMITS.maxRequestLine)} HTTP/1.1`, 'Host: h'), ERRORS.URI_TOO_LONG.code],
    ['header section over the limit', head('GET / HTTP/1.1', 'Host: h', `X-Big: ${'v'.repeat(DEFAULT_LIMITS.maxHeaderBytes)}`), ERRORS.HEADERS_TOO_LARGE.code],
    ['too many header fields', head('GET / HTTP/1.1', 'Host: h', ...Array.from({ length: DEFAULT_LIMITS.maxHeaderCount }, (_, i) => `X-${i}: v`)), ERRORS.HEADERS_TOO_LARGE.code],
    // Found by the fuzz test: the earliest offending byte decides, however the bytes are cut.
    ['empty lines before the request line count toward the header section', CRLF.repeat(DEFAULT_LIMITS.maxHeaderBytes / 2 + 1) + head('GET / HTTP/1.1', 'Host: h'), ERRORS.HEADERS_TOO_LARGE.code],
    ['a request line over the limit with a bare CR past the limit', head(`${'G'.repeat(9535)}\r${'G'.repeat(4646)} / HTTP/1.1`, 'Host: h'), ERRORS.URI_TOO_LONG.code],
    ['a bare CR early in a head that ends past the size limit', head('GET / HTTP/1.1', 'Host :\r h', `X-Big: ${'v'.repeat(DEFAULT_LIMITS.maxHeaderBytes)}`), ERRORS.BARE_CR.code],
  ])('limits: %s', (_name, input, code) => {
    expect(onlyErrorCode(parse(input))).toBe(code);
  });

  it.each<[string, string]>([
    ['request line exactly at the limit', head(`GET /${'a'.repeat(DEFAULT_LIMITS.maxRequestLine - 'GET / HTTP/1.1'.length)} HTTP/1.1`, 'Host: h')],
    ['exactly the most header fields', head('GET / HTTP/1.1', 'Host: h', ...Array.from({ length: DEFAULT_LIMITS.maxHeaderCount - 1 }, (_, i) => `X-${i}: v`))],
  ])('limits: accepts %s', (_name, input) => {
    expect(onlyRequest(parse(input)).method).toBe('GET');
  });

  // The limits at their edges, with small numbers so each byte counts.
  // The same bytes must give the same outcome however they are cut.
  describe('limit boundaries (maxRequestLine 20, maxHeaderBytes 64)', () => {
    const limits: ParserLimits = { maxRequestLine: 20, maxHeaderBytes: 64, maxHeaderCount: 4 };
    const line20 = 'GET /123456 HTTP/1.1'; // 20 characters
    const line21 = 'GET /1234567 HTTP/1.1';

    it('request line of exactly maxRequestLine is accepted', () => {
      expect(line20).toHaveLength(20);
      expect(onlyRequest(parse(head(line20, 'Host: h'), limits)).target).toBe('/123456');
    });

    it('request line of maxRequestLine + 1 is 414', () => {
      expect(onlyErrorCode(parse(head(line21, 'Host: h'), limits))).toBe(ERRORS.URI_TOO_LONG.code);
    });

    it('header section of exactly maxHeaderBytes is accepted', () => {
      const base = head(line20, 'Host: h', 'X: ');
      const input = head(line20, 'Host: h', `X: ${'v'.repeat(64 - base.length)}`);
      expect(input).toHaveLength(64);
      expect(onlyRequest(parse(input, limits)).method).toBe('GET');
    });

    it('header section of maxHeaderBytes + 1 is 431', () => {
      const base = head(line20, 'Host: h', 'X: ');
      const input = head(line20, 'Host: h', `X: ${'v'.repeat(65 - base.length)}`);
      expect(input).toHaveLength(65);
      expect(onlyErrorCode(parse(input, limits))).toBe(ERRORS.HEADERS_TOO_LARGE.code);
    });

    it('an in-limit request line followed by too many header bytes is 431, not 414', () => {
      const input = `${line20}\r\nHost: h\r\nX: ${'v'.repeat(80)}`; // never terminated
      expect(onlyErrorCode(parse(input, limits))).toBe(ERRORS.HEADERS_TOO_LARGE.code);
    });

    it('an unterminated request line beyond the limit is 414 before the head ends', () => {
      expect(onlyErrorCode(parse(`GET /${'a'.repeat(30)}`, limits))).toBe(ERRORS.URI_TOO_LONG.code);
    });
  });
});

describe('RequestParser: streams', () => {
  it('a request cut into single bytes yields nothing until its last byte', () => {
    const input = Buffer.from(head('GET /file HTTP/1.1', 'Host: h', 'Range: bytes=5-'), 'latin1');
    const parser = new RequestParser();
    for (let i = 0; i < input.length - 1; i++) {
      expect(parser.push(input.subarray(i, i + 1))).toEqual([]);
    }
    expect(parser.pending).toBe(input.length - 1);
    const req = onlyRequest(parser.push(input.subarray(input.length - 1)));
    expect(req).toMatchObject({ target: '/file', range: 'bytes=5-' });
    expect(parser.pending).toBe(0);
  });

  it('several pipelined requests in one push come out in order (§9.3.2)', () => {
    const input = head('GET /1 HTTP/1.1', 'Host: h') + head('HEAD /2 HTTP/1.1', 'Host: h') + CRLF + head('GET /3 HTTP/1.0');
    const events = new RequestParser().push(Buffer.from(input, 'latin1'));
    expect(events.map((e) => (e.kind === 'request' ? `${e.request.method} ${e.request.target}` : e.kind))).toEqual(['GET /1', 'HEAD /2', 'GET /3']);
  });

  it('empty lines before a request line count as pending (the header timeout covers a CRLF drip)', () => {
    const parser = new RequestParser();
    expect(parser.push(Buffer.from('\r\n\r\n', 'latin1'))).toEqual([]);
    expect(parser.pending).toBe(4);
    expect(onlyRequest(parser.push(Buffer.from(head('GET /1 HTTP/1.1', 'Host: h'), 'latin1'))).target).toBe('/1');
    expect(parser.pending).toBe(0);
  });

  it('keeps a partial next request after a complete one', () => {
    const parser = new RequestParser();
    const second = head('GET /2 HTTP/1.1', 'Host: h');
    const events = parser.push(Buffer.from(head('GET /1 HTTP/1.1', 'Host: h') + second.slice(0, 10), 'latin1'));
    expect(events.map((e) => e.kind === 'request' && e.request.target)).toEqual(['/1']);
    expect(parser.pending).toBe(10);
    expect(onlyRequest(parser.push(Buffer.from(second.slice(10), 'latin1'))).target).toBe('/2');
  });

  it('a terminator split across pushes is found (\\r\\n | \\r\\n)', () => {
    const parser = new RequestParser();
    expect(parser.push(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n', 'latin1'))).toEqual([]);
    expect(parser.push(Buffer.from('\r', 'latin1'))).toEqual([]);
    expect(onlyRequest(parser.push(Buffer.from('\n', 'latin1'))).host).toBe('h');
  });

  it('after an error the parser returns nothing more, not even for valid requests', () => {
    const parser = new RequestParser();
    const good = head('GET /ok HTTP/1.1', 'Host: h');
    const events = parser.push(Buffer.from(head('GET /1 HTTP/1.1', 'Host: h') + head('GET / HTTP/2.0', 'Host: h') + good, 'latin1'));
    expect(events.map((e) => (e.kind === 'error' ? e.error.code : e.request.target))).toEqual(['/1', ERRORS.VERSION_NOT_SUPPORTED.code]);
    expect(parser.push(Buffer.from(good, 'latin1'))).toEqual([]);
    expect(parser.push(Buffer.from(good, 'latin1'))).toEqual([]);
    expect(parser.pending).toBe(0);
  });

  it('a bare LF is reported before the head is complete', () => {
    const parser = new RequestParser();
    expect(onlyErrorCode(parser.push(Buffer.from('GET / HTTP/1.1\nHost', 'latin1')))).toBe(ERRORS.BARE_LF.code);
  });

  it('every error spec the parser emits asks to close the connection', () => {
    const inputs = ['GET / HTTP/1.1\nX', head('GET / HTTP/2.0', 'Host: h'), head('GET / HTTP/1.1'), head('GET / HTTP/1.1', 'Host: h', 'Transfer-Encoding: chunked')];
    for (const input of inputs) {
      const [ev] = new RequestParser().push(Buffer.from(input, 'latin1'));
      expect(ev?.kind).toBe('error');
      expect(ev?.kind === 'error' && ev.error.close).toBe(true);
    }
  });

  // Slowloris shape: an unterminated head one byte per push. The parser
  // searches only new bytes; it must still end in the limit error.
  it.each<[string, string, string]>([
    ['an endless request line', 'GET /', ERRORS.URI_TOO_LONG.code],
    ['an endless header section', 'GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ', ERRORS.HEADERS_TOO_LARGE.code],
  ])('one byte at a time: %s ends in the limit error', (_name, prefix, code) => {
    const parser = new RequestParser();
    const events: ParseEvent[] = [];
    const total = 17_000; // past maxHeaderBytes (16384)
    const a = Buffer.from('a');
    for (let i = 0; i < total; i++) {
      const byte = i < prefix.length ? Buffer.from(prefix[i]!, 'latin1') : a;
      events.push(...parser.push(byte));
    }
    expect(onlyErrorCode(events)).toBe(code);
  });
});
