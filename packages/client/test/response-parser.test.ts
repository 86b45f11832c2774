/**
 * ResponseParser (RFC 9112): bytes in, events out. Every framing is fed
 * whole, one byte at a time and in seeded random splits; whatever the
 * split, the data events concatenate to the body and `end` comes once.
 * Malformed responses are `error` events with a stable code, never throws.
 */
import { mulberry32 } from '../src/drop-plan.js';
import { ResponseParser, type ResponseErrorCode, type ResponseEvent, type ResponseHead } from '../src/http/response-parser.js';

interface Run {
  events: ResponseEvent[];
  heads: ResponseHead[];
  body: Buffer;
  ends: number;
  errors: Array<{ code: ResponseErrorCode; message: string }>;
}

function summarize(events: ResponseEvent[]): Run {
  const heads: ResponseHead[] = [];
  const chunks: Buffer[] = [];
  const errors: Run['errors'] = [];
  let ends = 0;
  for (const ev of events) {
    if (ev.type === 'head') heads.push(ev.head);
    else if (ev.type === 'data') chunks.push(ev.chunk);
    else if (ev.type === 'end') ends++;
    else errors.push({ code: ev.code, message: ev.message });
  }
  return { events, heads, body: Buffer.concat(chunks), ends, errors };
}

/** Feeds `pieces` in order, then (optionally) the connection close. */
function feed(pieces: Buffer[], opts: { method?: string; maxHeaderBytes?: number; close?: boolean } = {}): Run {
  const p = new ResponseParser({ method: opts.method ?? 'GET', ...(opts.maxHeaderBytes !== undefined ? { maxHeaderBytes: opts.maxHeaderBytes } : {}) });
  const events: ResponseEvent[] = [];
  for (const piece of pieces) events.push(...p.push(piece));
  if (opts.close) events.push(...p.finish());
  return summarize(events);
}

function whole(raw: Buffer): Buffer[] {
  return [raw];
}

function bytewise(raw: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < raw.length; i++) out.push(raw.subarray(i, i + 1));
  return out;
}

/** Seeded random cuts, some of them empty pushes. */
function randomSplit(raw: Buffer, seed: number): Buffer[] {
  const rnd = mulberry32(seed);
  const out: Buffer[] = [];
  let i = 0;
  while (i < raw.length) {
    const n = Math.floor(rnd() * 12);
    out.push(raw.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Every way to cut the input in two. */
function everyTwoWaySplit(raw: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 0; i <= raw.length; i++) out.push([raw.subarray(0, i), raw.subarray(i)]);
  return out;
}

function splits(raw: Buffer): Array<[string, Buffer[]]> {
  const out: Array<[string, Buffer[]]> = [
    ['whole', whole(raw)],
    ['byte by byte', bytewise(raw)],
  ];
  for (let seed = 1; seed <= 20; seed++) out.push([`random split #${seed}`, randomSplit(raw, seed)]);
  everyTwoWaySplit(raw).forEach((pieces, i) => out.push([`cut at ${i}`, pieces]));
  return out;
}

const bin = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A body with every byte value, including CR, LF and bytes that look like a header end. */
const BODY = Buffer.concat([bin('hello\r\n\r\nworld 0\r\n\r\n'), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);

describe('ResponseParser: Content-Length bodies', () => {
  const raw = Buffer.concat([bin(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${BODY.length}\r\nETag: "v1"\r\n\r\n`), BODY]);

  it.each(splits(raw))('%s: one head, the body, one end', (_name, pieces) => {
    const r = feed(pieces);
    expect(r.errors).toEqual([]);
    expect(r.heads).toHaveLength(1);
    expect(r.heads[0]).toMatchObject({ status: 200, reason: 'OK', minor: 1, framing: 'length', contentLength: BODY.length });
    expect(r.heads[0]!.headers.get('etag')).toBe('"v1"');
    expect(r.body.equals(BODY)).toBe(true);
    expect(r.ends).toBe(1);
    // the end is the last event, and no data event is empty
    expect(r.events[r.events.length - 1]).toEqual({ type: 'end' });
    expect(r.events.filter((e) => e.type === 'data' && e.chunk.length === 0)).toEqual([]);
  });

  it('reports the head before any data, and counts down `remaining`', () => {
    const p = new ResponseParser({ method: 'GET' });
    expect(p.remaining).toBe(0);
    const first = p.push(bin('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    expect(first.map((e) => e.type)).toEqual(['head', 'data']);
    expect(p.remaining).toBe(7);
    expect(p.done).toBe(false);
    const second = p.push(bin('defghij'));
    expect(second.map((e) => e.type)).toEqual(['data', 'end']);
    expect(p.remaining).toBe(0);
    expect(p.done).toBe(true);
  });

  it('ignores bytes after the body and anything pushed once done', () => {
    const p = new ResponseParser({ method: 'GET' });
    const r = summarize(p.push(bin('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA')));
    expect(r.body.toString()).toBe('abc');
    expect(r.ends).toBe(1);
    expect(p.push(bin('more'))).toEqual([]);
    expect(p.finish()).toEqual([]);
  });

  it('Content-Length: 0 ends right after the head', () => {
    const r = feed([bin('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')]);
    expect(r.heads[0]).toMatchObject({ framing: 'length', contentLength: 0 });
    expect(r.body.length).toBe(0);
    expect(r.ends).toBe(1);
  });

  it('HTTP/1.0 and a status line without a reason phrase', () => {
    const r = feed([bin('HTTP/1.0 206\r\nContent-Length: 1\r\n\r\nx')]);
    expect(r.heads[0]).toMatchObject({ status: 206, reason: '', minor: 0 });
    expect(r.body.toString()).toBe('x');
  });

  it('a premature close in a Content-Length body is premature-close, after the bytes that came', () => {
    const r = feed([bin('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd')], { close: true });
    expect(r.body.toString()).toBe('abcd');
    expect(r.ends).toBe(0);
    expect(r.errors.map((e) => e.code)).toEqual(['premature-close']);
  });

  it.each([
    ['before any byte', ''],
    ['inside the status line', 'HTTP/1.1 20'],
    ['inside the headers', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n'],
  ])('a close %s is premature-close', (_name, text) => {
    const r = feed([bin(text)], { close: true });
    expect(r.heads).toEqual([]);
    expect(r.errors.map((e) => e.code)).toEqual(['premature-close']);
  });

  it('finish() after a complete response reports nothing', () => {
    const r = feed([bin('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')], { close: true });
    expect(r.ends).toBe(1);
    expect(r.errors).toEqual([]);
  });
});

describe('ResponseParser: chunked bodies', () => {
  // RFC 9112 §7.1: chunk extensions (with BWS before ';'), hex sizes in both cases, trailers.
  const raw = bin(
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n' +
      '5;name=value\r\nhello\r\n' +
      '1 ;quoted="a;b"\r\n,\r\n' +
      'a\r\n0123456789\r\n' +
      // 12 data bytes that look like chunk syntax
      '0000C\r\n\r\n0\r\n\r\nxyz\r\n\r\n' +
      '0;last\r\nX-Sum: 42\r\nX-Other: yes\r\n\r\n',
  );
  const body = 'hello,0123456789\r\n0\r\n\r\nxyz\r\n';

  it.each(splits(raw))('%s: the decoded body and one end', (_name, pieces) => {
    const r = feed(pieces);
    expect(r.errors).toEqual([]);
    expect(r.heads).toHaveLength(1);
    expect(r.heads[0]).toMatchObject({ status: 200, framing: 'chunked', contentLength: undefined });
    expect(r.body.toString('latin1')).toBe(body);
    expect(r.ends).toBe(1);
    expect(r.events[r.events.length - 1]).toEqual({ type: 'end' });
  });

  it('a chunked body of binary bytes, split byte by byte', () => {
    const rawBin = Buffer.concat([bin(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${BODY.length.toString(16)}\r\n`), BODY, bin('\r\n0\r\n\r\n')]);
    const r = feed(bytewise(rawBin));
    expect(r.body.equals(BODY)).toBe(true);
    expect(r.ends).toBe(1);
  });

  it('a last chunk with no trailers ends at the empty line', () => {
    const p = new ResponseParser({ method: 'GET' });
    const a = summarize(p.push(bin('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n')));
    expect(a.ends).toBe(0);
    expect(p.done).toBe(false);
    const b = summarize(p.push(bin('\r\n')));
    expect(b.ends).toBe(1);
    expect(p.done).toBe(true);
  });

  it.each<[string, string]>([
    ['Transfer-Encoding: chunked', 'chunked'],
    ['Transfer-Encoding: gzip, chunked', 'chunked'],
    ['Transfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED', 'chunked'],
    ['Transfer-Encoding: gzip', 'close'],
    ['Transfer-Encoding: chunked, gzip', 'close'],
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3)
    ['Transfer-Encoding: chunked\r\nContent-Length: 3', 'chunked'],
    ['Transfer-Encoding: gzip\r\nContent-Length: 3', 'close'],
  ])('%j → framing %j', (headerLines, framing) => {
    const r = feed([bin(`HTTP/1.1 200 OK\r\n${headerLines}\r\n\r\n`)]);
    expect(r.errors).toEqual([]);
    expect(r.heads[0]!.framing).toBe(framing);
  });

  it('Transfer-Encoding: gzip reads the (still encoded) bytes until the close', () => {
    const r = feed([bin('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nabc'), bin('def')], { close: true });
    expect(r.heads[0]!.framing).toBe('close');
    expect(r.body.toString()).toBe('abcdef');
    expect(r.ends).toBe(1);
  });

  it.each([
    ['not hex', 'zz\r\n'],
    ['empty size line', '\r\n'],
    ['leading space', ' 5\r\nhello\r\n'],
    ['sign', '+5\r\nhello\r\n'],
    ['too many digits', '12345678901234\r\n'],
    ['data not followed by CRLF', '5\r\nhelloXY'],
    ['size line that never ends', `1${'0'.repeat(2000)}`],
  ])('bad chunk (%s) → bad-chunk', (_name, chunked) => {
    const r = feed([bin(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`)]);
    expect(r.heads).toHaveLength(1);
    expect(r.errors.map((e) => e.code)).toEqual(['bad-chunk']);
    expect(r.ends).toBe(0);
  });

  it('after an error the parser is dead: more bytes and the close add nothing', () => {
    const p = new ResponseParser({ method: 'GET' });
    const r = summarize(p.push(bin('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n')));
    expect(r.errors.map((e) => e.code)).toEqual(['bad-chunk']);
    expect(p.push(bin('5\r\nhello\r\n0\r\n\r\n'))).toEqual([]);
    expect(p.finish()).toEqual([]);
  });

  it.each([
    ['in a chunk', '5\r\nhel'],
    ['between chunks', '5\r\nhello\r\n'],
    ['in the trailers', '0\r\nX-Sum: 1\r\n'],
  ])('a close %s is premature-close', (_name, chunked) => {
    const r = feed([bin(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`)], { close: true });
    expect(r.errors.map((e) => e.code)).toEqual(['premature-close']);
    expect(r.ends).toBe(0);
  });
});

describe('ResponseParser: close-delimited bodies', () => {
  const raw = Buffer.concat([bin('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n'), BODY]);

  it.each(splits(raw).slice(0, 22))('%s: everything until finish(), then end', (_name, pieces) => {
    const r = feed(pieces, { close: true });
    expect(r.heads[0]).toMatchObject({ framing: 'close', contentLength: undefined });
    expect(r.body.equals(BODY)).toBe(true);
    expect(r.ends).toBe(1);
    expect(r.errors).toEqual([]);
  });

  it('does not end before the close', () => {
    const p = new ResponseParser({ method: 'GET' });
    const r = summarize(p.push(raw));
    expect(r.ends).toBe(0);
    expect(p.done).toBe(false);
    expect(p.finish()).toEqual([{ type: 'end' }]);
    expect(p.done).toBe(true);
    expect(p.finish()).toEqual([]);
  });
});

describe('ResponseParser: responses without a body', () => {
  it.each<[string, string]>([
    ['HEAD', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'],
    ['HEAD', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['GET', 'HTTP/1.1 204 No Content\r\nContent-Length: 100\r\n\r\n'],
    ['GET', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\nETag: "v1"\r\n\r\n'],
    ['GET', 'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n'],
  ])('%s %j: head then end, no data', (method, text) => {
    const p = new ResponseParser({ method });
    const r = summarize(p.push(bin(text)));
    expect(r.heads).toHaveLength(1);
    expect(r.heads[0]!.framing).toBe('none');
    expect(r.events.map((e) => e.type)).toEqual(['head', 'end']);
    expect(p.done).toBe(true);
    // bytes that follow are not a body
    expect(p.push(bin('x'.repeat(100)))).toEqual([]);
  });

  it('HEAD keeps the announced Content-Length header for the caller', () => {
    const r = feed([bin('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n')], { method: 'HEAD' });
    expect(r.heads[0]!.headers.get('content-length')).toBe('100');
  });
});

describe('ResponseParser: interim responses', () => {
  const raw = bin(
    'HTTP/1.1 100 Continue\r\n\r\n' + 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' + 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  );

  it.each(splits(raw).slice(0, 22))('%s: 1xx heads are skipped, the final one is reported', (_name, pieces) => {
    const r = feed(pieces);
    expect(r.heads).toHaveLength(1);
    expect(r.heads[0]!.status).toBe(200);
    expect(r.heads[0]!.headers.has('link')).toBe(false);
    expect(r.body.toString()).toBe('hello');
    expect(r.ends).toBe(1);
  });
});

describe('ResponseParser: header fields', () => {
  it('lower-cases names, trims values and joins repeated fields with ", "', () => {
    const r = feed([bin('HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nX-A:  one \r\ncache-control: no-store\r\nCACHE-CONTROL:private\r\nEmpty:\r\nContent-Length: 0\r\n\r\n')]);
    const h = r.heads[0]!.headers;
    expect(h.get('cache-control')).toBe('no-cache, no-store, private');
    expect(h.get('x-a')).toBe('one');
    expect(h.get('empty')).toBe('');
    expect([...h.keys()]).toEqual(['cache-control', 'x-a', 'empty', 'content-length']);
  });

  it.each([
    ['Content-Length: 5\r\nContent-Length: 5'],
    ['Content-Length: 5, 5'],
    ['Content-Length: 5,5\r\nContent-Length: 5'],
  ])('identical Content-Length values are accepted: %j', (lines) => {
    const r = feed([bin(`HTTP/1.1 200 OK\r\n${lines}\r\n\r\nhello`)]);
    expect(r.errors).toEqual([]);
    expect(r.heads[0]).toMatchObject({ framing: 'length', contentLength: 5 });
    expect(r.body.toString()).toBe('hello');
    expect(r.ends).toBe(1);
  });

  it.each([
    ['Content-Length: 5\r\nContent-Length: 6'],
    ['Content-Length: 5, 6'],
    ['Content-Length: abc'],
    ['Content-Length: -1'],
    ['Content-Length: 1.5'],
    ['Content-Length: 0x10'],
    ['Content-Length: 1 2'],
    ['Content-Length:'],
    ['Content-Length: 5,'],
    ['Content-Length: 1234567890123456'],
  ])('%j → bad-content-length, no head', (lines) => {
    const r = feed([bin(`HTTP/1.1 200 OK\r\n${lines}\r\n\r\nhello`)], { close: true });
    expect(r.heads).toEqual([]);
    expect(r.errors.map((e) => e.code)).toEqual(['bad-content-length']);
  });

  it.each([
    ['HTTP/1.1 200 OK\r\nBad Name: x'],
    ['HTTP/1.1 200 OK\r\nNoColon'],
    ['HTTP/1.1 200 OK\r\n: empty name'],
    ['HTTP/1.1 200 OK\r\nName : space before colon'],
    // obs-fold (RFC 9112 §5.2) is not accepted
    ['HTTP/1.1 200 OK\r\nX-A: one\r\n two'],
  ])('%j → bad-header', (text) => {
    const r = feed([bin(`${text}\r\n\r\n`)]);
    expect(r.heads).toEqual([]);
    expect(r.errors.map((e) => e.code)).toEqual(['bad-header']);
  });

  it.each([
    'HTTP/1.1 200OK',
    'HTTP/1.1 20 OK',
    'HTTP/1.1 2000 OK',
    'HTTP/2 200 OK',
    'HTTP/2.0 200 OK',
    'http/1.1 200 OK',
    'HTTP/1.1  200 OK',
    'ICY 200 OK',
    'garbage',
    '',
  ])('status line %p → bad-status-line', (line) => {
    const r = feed([bin(`${line}\r\nContent-Length: 0\r\n\r\n`)]);
    expect(r.heads).toEqual([]);
    expect(r.errors.map((e) => e.code)).toEqual(['bad-status-line']);
  });

  describe('header-too-large', () => {
    const limit = 256;
    const head = (n: number): Buffer => {
      // a header section of exactly n bytes, terminator included
      const start = 'HTTP/1.1 200 OK\r\nX-Pad: ';
      const tail = '\r\nContent-Length: 2\r\n\r\n';
      return bin(start + 'p'.repeat(n - start.length - tail.length) + tail);
    };

    it.each([
      ['whole', (b: Buffer) => [b]],
      ['byte by byte', bytewise],
      ['random split', (b: Buffer) => randomSplit(b, 7)],
    ])('%s: a section of exactly the limit is accepted', (_name, split) => {
      const r = feed(split(Buffer.concat([head(limit), bin('ok')])), { maxHeaderBytes: limit });
      expect(r.errors).toEqual([]);
      expect(r.body.toString()).toBe('ok');
    });

    it.each([
      ['whole', (b: Buffer) => [b]],
      ['byte by byte', bytewise],
      ['random split', (b: Buffer) => randomSplit(b, 7)],
    ])('%s: a section one byte over the limit → header-too-large', (_name, split) => {
      const r = feed(split(Buffer.concat([head(limit + 1), bin('ok')])), { maxHeaderBytes: limit });
      expect(r.heads).toEqual([]);
      expect(r.errors.map((e) => e.code)).toEqual(['header-too-large']);
    });

    it('an endless header section is cut off without waiting for its end', () => {
      const p = new ResponseParser({ method: 'GET', maxHeaderBytes: limit });
      const r = summarize(p.push(bin(`HTTP/1.1 200 OK\r\nX-Pad: ${'p'.repeat(limit)}`)));
      expect(r.errors.map((e) => e.code)).toEqual(['header-too-large']);
    });

    it('defaults to 64 KiB', () => {
      const big = bin(`HTTP/1.1 200 OK\r\nX-Pad: ${'p'.repeat(64 * 1024)}\r\n\r\n`);
      expect(feed([big]).errors.map((e) => e.code)).toEqual(['header-too-large']);
      const fits = bin(`HTTP/1.1 200 OK\r\nX-Pad: ${'p'.repeat(60 * 1024)}\r\nContent-Length: 0\r\n\r\n`);
      expect(feed([fits]).errors).toEqual([]);
    });
  });
});
