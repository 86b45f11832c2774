/**
 * The wire contract, one rule per test, against the built mobserve: real
 * status lines, headers and body bytes over raw sockets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { FIXTURES } from '../helpers/paths.js';
import { killAll, startServer, type ServerProcess } from '../helpers/processes.js';
import { exchange, parseResponses, request, type RawResponse } from '../helpers/raw-http.js';
import { RawConnection } from '../helpers/raw-connection.js';
import { tempDir } from '../helpers/tmp.js';

const WORD_PATH = path.join(FIXTURES, 'word.doc');
const WORD = fs.readFileSync(WORD_PATH);
const HELLO = fs.readFileSync(path.join(FIXTURES, 'hello.txt'));
const SIZE = WORD.length;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const STRONG_TAG = /^"[\x21\x23-\x7e]+"$/;

const b64sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('base64');

/** fixtures root, default timeouts */
let server: ServerProcess;
/** --header-timeout 500ms --idle-timeout 1s */
let timeouts: ServerProcess;
/** --root <tmp> for files the tests change */
let rooted: ServerProcess;
/** the same root, --revalidate 0: files held in memory are checked on every request */
let rootedNow: ServerProcess;
let root: ReturnType<typeof tempDir>;

beforeAll(async () => {
  root = tempDir('mob-conf-');
  [server, timeouts, rooted, rootedNow] = await Promise.all([
    startServer(['--store', 'memory']),
    startServer(['--store', 'memory', '--header-timeout', '500ms', '--idle-timeout', '1s']),
    startServer(['--store', 'memory', '--root', root.dir]),
    startServer(['--store', 'memory', '--root', root.dir, '--revalidate', '0']),
  ]);
});
afterAll(async () => {
  await killAll();
  root.cleanup();
});

async function newClient(port = server.port): Promise<string> {
  const r = await request(port, '/');
  expect(r.status).toBe(200);
  return r.body.toString('latin1');
}

function get(target: string, headers: Record<string, string> = {}, port = server.port): Promise<RawResponse> {
  return request(port, target, headers);
}

function head(target: string, headers: Record<string, string> = {}, port = server.port): Promise<RawResponse> {
  return request(port, target, headers, 'HEAD');
}

/** Headers as a plain object, Date left out (it may tick between two responses). */
function comparable(h: Map<string, string>): Record<string, string> {
  const o = Object.fromEntries(h);
  delete o.date;
  return o;
}

/** A raw request head with the given method, target and header lines. */
function raw(method: string, target: string, lines: string[] = [], version = 'HTTP/1.1'): string {
  return `${method} ${target} ${version}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
}

describe('handshake: GET /', () => {
  test('200 text/plain whose body is a new UUID v4 client id, a different one each call', async () => {
    const a = await request(server.port, '/');
    const b = await request(server.port, '/');
    for (const r of [a, b]) {
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/plain');
      expect(r.headers.get('content-length')).toBe('36');
      expect(r.body.length).toBe(36);
      expect(r.body.toString('latin1')).toMatch(UUID_V4);
    }
    expect(a.body.toString()).not.toBe(b.body.toString());
  });

  test('HEAD / gives Content-Length 36 and no body', async () => {
    const buf = await exchange(server.port, [raw('HEAD', '/', ['Host: h', 'Connection: close'])]);
    const text = buf.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toMatch(/\r\nContent-Length: 36\r\n/);
    // Nothing after the blank line that ends the head.
    expect(text.endsWith('\r\n\r\n')).toBe(true);
    expect(text.indexOf('\r\n\r\n')).toBe(text.length - 4);
  });
});

describe('client route: GET /<clientId>/<path>', () => {
  test('Range: bytes=N- gives 206 with Content-Range bytes N-M/SIZE and exactly those bytes', async () => {
    const id = await newClient();
    const r = await get(`/${id}/word.doc`, { Range: 'bytes=4096-' });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 4096-${SIZE - 1}/${SIZE}`);
    expect(r.headers.get('content-length')).toBe(String(SIZE - 4096));
    expect(r.body.equals(WORD.subarray(4096))).toBe(true);
  });

  test('a closed range bytes=N-M gives exactly M-N+1 bytes', async () => {
    const id = await newClient();
    const r = await get(`/${id}/word.doc`, { Range: 'bytes=10-19' });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 10-19/${SIZE}`);
    expect(r.body.equals(WORD.subarray(10, 20))).toBe(true);
  });

  test('a new client without Range gets the whole file: 200, Mob-Resume-From 0', async () => {
    const id = await newClient();
    const r = await get(`/${id}/word.doc`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe(String(SIZE));
    expect(r.headers.get('mob-resume-from')).toBe('0');
    expect(r.headers.has('content-range')).toBe(false);
    expect(r.body.equals(WORD)).toBe(true);
  });

  test('ledger: after Range bytes=0-999, a no-Range GET is 200 with the rest from byte 1000', async () => {
    const id = await newClient();
    const first = await get(`/${id}/word.doc`, { Range: 'bytes=0-999' });
    expect(first.status).toBe(206);
    expect(first.body.equals(WORD.subarray(0, 1000))).toBe(true);
    const rest = await get(`/${id}/word.doc`);
    expect(rest.status).toBe(200);
    expect(rest.headers.get('content-length')).toBe('99352');
    expect(rest.headers.get('mob-resume-from')).toBe('1000');
    expect(rest.body.length).toBe(99352);
    expect(rest.body.equals(WORD.subarray(1000))).toBe(true);
  });

  test('after a complete transfer a no-Range GET is 200 with Content-Length 0 (nothing resent); Range still works', async () => {
    const id = await newClient();
    expect((await get(`/${id}/word.doc`)).body.length).toBe(SIZE);
    const again = await get(`/${id}/word.doc`);
    expect(again.status).toBe(200);
    expect(again.headers.get('content-length')).toBe('0');
    expect(again.headers.get('mob-resume-from')).toBe(String(SIZE));
    expect(again.body.length).toBe(0);
    const ranged = await get(`/${id}/word.doc`, { Range: 'bytes=0-' });
    expect(ranged.status).toBe(206);
    expect(ranged.body.equals(WORD)).toBe(true);
  });

  test('progress is kept per (client, path): two files interleaved, and another client starts at 0', async () => {
    const id = await newClient();
    await get(`/${id}/word.doc`, { Range: 'bytes=0-2047' });
    await get(`/${id}/hello.txt`, { Range: 'bytes=0-6' });
    await get(`/${id}/word.doc`, { Range: 'bytes=2048-4999' });

    const helloRest = await get(`/${id}/hello.txt`);
    expect(helloRest.headers.get('mob-resume-from')).toBe('7');
    expect(helloRest.body.equals(HELLO.subarray(7))).toBe(true);
    const wordRest = await get(`/${id}/word.doc`);
    expect(wordRest.headers.get('mob-resume-from')).toBe('5000');
    expect(wordRest.body.equals(WORD.subarray(5000))).toBe(true);

    const other = await newClient();
    const fresh = await get(`/${other}/word.doc`);
    expect(fresh.headers.get('mob-resume-from')).toBe('0');
    expect(fresh.body.equals(WORD)).toBe(true);
  });

  test('every file response carries a strong ETag, Last-Modified, Accept-Ranges, Repr-Digest, Cache-Control and Date', async () => {
    const id = await newClient();
    const lastModified = fs.statSync(WORD_PATH).mtime.toUTCString();
    for (const r of [await get(`/${id}/word.doc`, { Range: 'bytes=5-9' }), await get(`/${id}/word.doc`)]) {
      expect(r.headers.get('etag')).toMatch(STRONG_TAG);
      expect(r.headers.get('last-modified')).toBe(lastModified);
      expect(r.headers.get('accept-ranges')).toBe('bytes');
      expect(r.headers.get('repr-digest')).toBe(`sha-256=:${b64sha256(WORD)}:`);
      expect(r.headers.get('cache-control')).toBe('no-store, no-transform');
      expect(r.headers.get('content-type')).toBe('application/msword');
      expect(Math.abs(Date.parse(r.headers.get('date')!) - Date.now())).toBeLessThan(5000);
    }
  });

  describe('If-Range (strong comparison)', () => {
    test('the current ETag: the Range is honoured (206)', async () => {
      const id = await newClient();
      const etag = (await head(`/${id}/word.doc`)).headers.get('etag')!;
      const r = await get(`/${id}/word.doc`, { Range: 'bytes=50000-', 'If-Range': etag });
      expect(r.status).toBe(206);
      expect(r.headers.get('content-range')).toBe(`bytes 50000-${SIZE - 1}/${SIZE}`);
      expect(r.body.equals(WORD.subarray(50000))).toBe(true);
    });

    test('another tag: 200 with the whole file, Mob-Resume-From 0', async () => {
      const id = await newClient();
      const r = await get(`/${id}/word.doc`, { Range: 'bytes=50000-', 'If-Range': '"some-older-version"' });
      expect(r.status).toBe(200);
      expect(r.headers.get('mob-resume-from')).toBe('0');
      expect(r.headers.has('content-range')).toBe(false);
      expect(r.body.equals(WORD)).toBe(true);
    });

    test('the weak W/ form of the current tag never matches: 200 whole', async () => {
      const id = await newClient();
      const etag = (await head(`/${id}/word.doc`)).headers.get('etag')!;
      const r = await get(`/${id}/word.doc`, { Range: 'bytes=50000-', 'If-Range': `W/${etag}` });
      expect(r.status).toBe(200);
      expect(r.headers.get('mob-resume-from')).toBe('0');
      expect(r.body.equals(WORD)).toBe(true);
    });

    test('the exact Last-Modified date of an old file counts as strong: 206', async () => {
      const id = await newClient();
      const lm = (await head(`/${id}/word.doc`)).headers.get('last-modified')!;
      const r = await get(`/${id}/word.doc`, { Range: 'bytes=100-199', 'If-Range': lm });
      expect(r.status).toBe(206);
      expect(r.body.equals(WORD.subarray(100, 200))).toBe(true);
    });
  });

  test.each([`bytes=${SIZE}-`, `bytes=${SIZE + 5000}-`, `bytes=${SIZE}-${SIZE + 10}`])('Range %s starts at/after the end: 416 with Content-Range bytes */SIZE', async (range) => {
    const id = await newClient();
    const r = await get(`/${id}/word.doc`, { Range: range });
    expect(r.status).toBe(416);
    expect(r.headers.get('content-range')).toBe(`bytes */${SIZE}`);
    expect(r.headers.get('mob-error')).toBe('range-not-satisfiable');
  });

  test('HEAD returns the same headers as GET, no body, and does not move the ledger', async () => {
    const id = await newClient();
    await get(`/${id}/word.doc`, { Range: 'bytes=0-999' });
    const buf = await exchange(server.port, [raw('HEAD', `/${id}/word.doc`, ['Host: h', 'Connection: close'])]);
    const [h] = parseResponses(buf, { bodiless: [true] });
    expect(buf.toString('latin1').indexOf('\r\n\r\n')).toBe(buf.length - 4);
    expect(h!.status).toBe(200);
    expect(h!.headers.get('content-length')).toBe('99352');
    expect(h!.headers.get('mob-resume-from')).toBe('1000');
    // A second HEAD sees the same place: HEAD moved nothing.
    const h2 = await head(`/${id}/word.doc`);
    expect(comparable(h2.headers)).toEqual(comparable(h!.headers));
    const g = await get(`/${id}/word.doc`);
    expect(comparable(g.headers)).toEqual(comparable(h!.headers));
    expect(g.body.equals(WORD.subarray(1000))).toBe(true);

    // With a Range too: same headers as the GET.
    const hr = await head(`/${id}/word.doc`, { Range: 'bytes=7-' });
    const gr = await get(`/${id}/word.doc`, { Range: 'bytes=7-' });
    expect(hr.status).toBe(206);
    expect(comparable(hr.headers)).toEqual(comparable(gr.headers));
  });

  test('an unknown client id is 404 with Mob-Error: unknown-client', async () => {
    const r = await get(`/${randomUUID()}/word.doc`);
    expect(r.status).toBe(404);
    expect(r.headers.get('mob-error')).toBe('unknown-client');
  });

  test('a missing file is 404 not-found on both routes', async () => {
    const id = await newClient();
    for (const target of [`/${id}/no-such.doc`, '/no-such.doc', `/${id}/word.doc/inside`]) {
      const r = await get(target);
      expect({ target, status: r.status, code: r.headers.get('mob-error') }).toEqual({ target, status: 404, code: 'not-found' });
    }
  });

  test.each(['POST', 'PUT', 'DELETE', 'OPTIONS', 'BREW'])('%s is 405 with Allow: GET, HEAD', async (method) => {
    const id = await newClient();
    for (const target of ['/', `/${id}/word.doc`, '/word.doc']) {
      const r = await request(server.port, target, {}, method);
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('GET, HEAD');
      expect(r.headers.get('mob-error')).toBe('method-not-allowed');
    }
  });

  test('a 405 without a body keeps the connection; one with a body closes it', async () => {
    const conn = await RawConnection.open(server.port);
    try {
      conn.write(raw('DELETE', '/word.doc', ['Host: h']));
      expect((await conn.response()).status).toBe(405);
      conn.write(raw('GET', '/hello.txt', ['Host: h']));
      const ok = await conn.response();
      expect(ok.status).toBe(200);
      expect(ok.body.equals(HELLO)).toBe(true);
      conn.write(raw('POST', '/hello.txt', ['Host: h', 'Content-Length: 3']) + 'abc');
      const r = await conn.response();
      expect(r.status).toBe(405);
      expect(r.headers.get('connection')).toBe('close');
      await conn.waitClosed(3000);
    } finally {
      conn.destroy();
    }
  });

  test.each([
    ['/%zz', 400, 'bad-path'],
    ['/%e2%82', 400, 'bad-path'],
    ['/word.doc/', 400, 'bad-path'],
    ['*', 400, 'bad-target'],
    ['ftp://h/word.doc', 400, 'bad-target'],
  ])('a malformed target %s is %i %s', async (target, status, code) => {
    const r = await get(target);
    expect(r.status).toBe(status);
    expect(r.headers.get('mob-error')).toBe(code);
  });

  test('a malformed request line is 400 and the connection closes', async () => {
    const conn = await RawConnection.open(server.port);
    try {
      conn.write('GET /word.doc  HTTP/1.1\r\nHost: h\r\n\r\n');
      const r = await conn.response();
      expect(r.status).toBe(400);
      expect(r.headers.get('mob-error')).toBe('bad-request-line');
      expect(r.headers.get('connection')).toBe('close');
      await conn.waitClosed(3000);
    } finally {
      conn.destroy();
    }
  });
});

describe('validators follow the content (--root <tmp> --revalidate 0)', () => {
  test('same-size in-place replacement within the same second: new ETag and Repr-Digest, digest = sha-256 of the bytes', async () => {
    const file = path.join(root.dir, 'swap.bin');
    const v1 = Buffer.alloc(4096, 0x61);
    const v2 = Buffer.alloc(4096, 0x62);
    // Both versions get the very same mtime, so only the content tells them apart.
    const when = new Date(Math.floor(Date.now() / 1000) * 1000);
    fs.writeFileSync(file, v1);
    fs.utimesSync(file, when, when);
    const id = await newClient(rootedNow.port);
    const a = await get(`/${id}/swap.bin`, {}, rootedNow.port);
    fs.writeFileSync(file, v2);
    fs.utimesSync(file, when, when);
    const b = await get(`/${id}/swap.bin`, {}, rootedNow.port);

    expect(a.status).toBe(200);
    expect(a.body.equals(v1)).toBe(true);
    expect(a.headers.get('repr-digest')).toBe(`sha-256=:${b64sha256(v1)}:`);
    expect(b.headers.get('last-modified')).toBe(a.headers.get('last-modified'));
    expect(b.headers.get('etag')).toMatch(STRONG_TAG);
    expect(b.headers.get('etag')).not.toBe(a.headers.get('etag'));
    expect(b.headers.get('repr-digest')).toBe(`sha-256=:${b64sha256(v2)}:`);
    // The ledger's offset (4096, complete) belonged to the old version: the new one is sent whole.
    expect(b.status).toBe(200);
    expect(b.headers.get('mob-resume-from')).toBe('0');
    expect(b.body.equals(v2)).toBe(true);
    // A resume that names the old version gets the new one from byte 0.
    const c = await get(`/${id}/swap.bin`, { Range: 'bytes=100-', 'If-Range': a.headers.get('etag')! }, rootedNow.port);
    expect(c.status).toBe(200);
    expect(c.body.equals(v2)).toBe(true);
  });

  test('replacement by rename: new ETag', async () => {
    const file = path.join(root.dir, 'renamed.bin');
    fs.writeFileSync(file, Buffer.alloc(1000, 1));
    const a = await get('/renamed.bin', {}, rootedNow.port);
    fs.writeFileSync(`${file}.tmp`, Buffer.alloc(1000, 2));
    fs.renameSync(`${file}.tmp`, file);
    const b = await get('/renamed.bin', {}, rootedNow.port);
    expect(b.headers.get('etag')).not.toBe(a.headers.get('etag'));
    expect(b.body.equals(Buffer.alloc(1000, 2))).toBe(true);
    expect(b.headers.get('repr-digest')).toBe(`sha-256=:${b64sha256(Buffer.alloc(1000, 2))}:`);
  });
});

describe('a replaced file: one whole version per response (--root <tmp>, default --revalidate 100ms)', () => {
  const sha = (b: Buffer): string => `sha-256=:${b64sha256(b)}:`;
  const WINDOW_MS = 100;

  /** Every response is one version, whole, under that version's validators. */
  function oneVersion(r: RawResponse, versions: Buffer[], from = 0): Buffer {
    const v = versions.find((x) => r.headers.get('repr-digest') === sha(x));
    expect(v).toBeDefined();
    const start = r.status === 206 ? from : 0;
    expect(r.body.equals(v!.subarray(start))).toBe(true);
    return v!;
  }

  test('held in memory, replaced by rename between two requests: the old or the new version whole, never mixed; the new one once the window has passed', async () => {
    const file = path.join(root.dir, 'held.bin');
    const v1 = Buffer.alloc(50_000, 0x31);
    const v2 = Buffer.alloc(50_000, 0x32);
    fs.writeFileSync(file, v1);
    const a = await get('/held.bin', {}, rooted.port);
    expect(a.body.equals(v1)).toBe(true);
    fs.writeFileSync(`${file}.tmp`, v2);
    fs.renameSync(`${file}.tmp`, file);
    // Inside the window: a resume naming v1 gets v1's tail (206) or all of v2 (200), nothing in between.
    const b = await get('/held.bin', { Range: 'bytes=20000-', 'If-Range': a.headers.get('etag')! }, rooted.port);
    const bv = oneVersion(b, [v1, v2], 20_000);
    expect(b.status).toBe(bv === v1 ? 206 : 200);
    expect(b.headers.get('etag') === a.headers.get('etag')).toBe(bv === v1);
    await new Promise((r) => setTimeout(r, WINDOW_MS + 50));
    const c = await get('/held.bin', { Range: 'bytes=20000-', 'If-Range': a.headers.get('etag')! }, rooted.port);
    expect(c.status).toBe(200);
    expect(c.body.equals(v2)).toBe(true);
    expect(c.headers.get('etag')).not.toBe(a.headers.get('etag'));
    expect(c.headers.get('repr-digest')).toBe(sha(v2));
  });

  test('held in memory, written in place: the bytes held are served under their own validators until the window has passed', async () => {
    const file = path.join(root.dir, 'inplace.bin');
    const v1 = Buffer.alloc(30_000, 0x61);
    const v2 = Buffer.alloc(30_000, 0x62);
    fs.writeFileSync(file, v1);
    const a = await get('/inplace.bin', {}, rooted.port);
    fs.writeFileSync(file, v2);
    const b = await get('/inplace.bin', {}, rooted.port);
    oneVersion(b, [v1, v2]);
    await new Promise((r) => setTimeout(r, WINDOW_MS + 50));
    const c = await get('/inplace.bin', {}, rooted.port);
    expect(c.body.equals(v2)).toBe(true);
    expect(c.headers.get('etag')).not.toBe(a.headers.get('etag'));
    expect(c.headers.get('repr-digest')).toBe(sha(v2));
  });

  test('too large to hold (2 MiB, read from its descriptor): replaced by rename between two requests, the next request gets the new version at once', async () => {
    const file = path.join(root.dir, 'large.bin');
    const v1 = Buffer.alloc(2 << 20, 0x41);
    const v2 = Buffer.alloc(2 << 20, 0x42);
    fs.writeFileSync(file, v1);
    const a = await get('/large.bin', { Range: 'bytes=1000000-' }, rooted.port);
    expect(a.status).toBe(206);
    expect(a.body.equals(v1.subarray(1_000_000))).toBe(true);
    fs.writeFileSync(`${file}.tmp`, v2);
    fs.renameSync(`${file}.tmp`, file);
    const b = await get('/large.bin', { Range: 'bytes=1000000-', 'If-Range': a.headers.get('etag')! }, rooted.port);
    expect(b.status).toBe(200);
    expect(b.body.equals(v2)).toBe(true);
    expect(b.headers.get('repr-digest')).toBe(sha(v2));
  });
});

describe('plain route: GET /<path>', () => {
  test('200 with the whole file, validators, Cache-Control no-cache, no ledger header', async () => {
    const r = await get('/word.doc');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe(String(SIZE));
    expect(r.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(r.headers.get('etag')).toMatch(STRONG_TAG);
    expect(r.headers.get('last-modified')).toBe(fs.statSync(WORD_PATH).mtime.toUTCString());
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    expect(r.headers.get('repr-digest')).toBe(`sha-256=:${b64sha256(WORD)}:`);
    expect(r.headers.has('date')).toBe(true);
    expect(r.headers.has('mob-resume-from')).toBe(false);
    expect(r.body.equals(WORD)).toBe(true);
  });

  test('a plain GET is stateless: the same file again is whole again', async () => {
    await get('/hello.txt', { Range: 'bytes=0-3' });
    const r = await get('/hello.txt');
    expect(r.status).toBe(200);
    expect(r.body.equals(HELLO)).toBe(true);
  });

  test('206 for a Range, 416 past the end', async () => {
    const r = await get('/word.doc', { Range: 'bytes=-100' });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes ${SIZE - 100}-${SIZE - 1}/${SIZE}`);
    expect(r.body.equals(WORD.subarray(SIZE - 100))).toBe(true);
    const bad = await get('/word.doc', { Range: `bytes=${SIZE}-` });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${SIZE}`);
  });

  test('If-None-Match with the current tag (also weak, also in a list) is 304 with no body; another tag is 200', async () => {
    const etag = (await head('/word.doc')).headers.get('etag')!;
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const buf = await exchange(server.port, [raw('GET', '/word.doc', ['Host: h', 'Connection: close', `If-None-Match: ${inm}`])]);
      const [r] = parseResponses(buf);
      expect({ inm, status: r!.status }).toEqual({ inm, status: 304 });
      expect(r!.headers.get('etag')).toBe(etag);
      expect(buf.toString('latin1').indexOf('\r\n\r\n')).toBe(buf.length - 4);
    }
    const other = await get('/word.doc', { 'If-None-Match': '"nope"' });
    expect(other.status).toBe(200);
    expect(other.body.equals(WORD)).toBe(true);
  });

  test('If-Range: a matching tag gives 206, another gives 200 whole (no Mob-Resume-From)', async () => {
    const etag = (await head('/word.doc')).headers.get('etag')!;
    const ok = await get('/word.doc', { Range: 'bytes=1-2', 'If-Range': etag });
    expect(ok.status).toBe(206);
    expect(ok.body.equals(WORD.subarray(1, 3))).toBe(true);
    const stale = await get('/word.doc', { Range: 'bytes=1-2', 'If-Range': '"old"' });
    expect(stale.status).toBe(200);
    expect(stale.headers.has('mob-resume-from')).toBe(false);
    expect(stale.body.equals(WORD)).toBe(true);
  });

  test('HEAD: the same headers as GET and no body', async () => {
    const buf = await exchange(server.port, [raw('HEAD', '/word.doc', ['Host: h', 'Connection: close'])]);
    expect(buf.toString('latin1').indexOf('\r\n\r\n')).toBe(buf.length - 4);
    const [h] = parseResponses(buf, { bodiless: [true] });
    const g = await get('/word.doc');
    expect(h!.status).toBe(200);
    expect(comparable(h!.headers)).toEqual(comparable(g.headers));
  });

  test('the empty and the one-byte file', async () => {
    const empty = await get('/empty.bin');
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-length')).toBe('0');
    const one = await get('/one-byte.bin', { Range: 'bytes=0-' });
    expect(one.status).toBe(206);
    expect(one.headers.get('content-range')).toBe('bytes 0-0/1');
    expect(one.body.toString()).toBe('x');
    expect((await get('/empty.bin', { Range: 'bytes=0-' })).status).toBe(416);
  });
});

describe('HTTP/1.1 framing and connections', () => {
  test('a request sent one byte at a time is answered', async () => {
    const id = await newClient();
    const req = raw('GET', `/${id}/word.doc`, ['Host: h', 'Range: bytes=100000-', 'Connection: close']);
    const buf = await exchange(server.port, [...Buffer.from(req, 'latin1')].map((b) => Buffer.from([b])), { gapMs: 1 });
    const [r] = parseResponses(buf);
    expect(r!.status).toBe(206);
    expect(r!.body.equals(WORD.subarray(100000))).toBe(true);
  });

  test('3 pipelined requests in one write are answered in order', async () => {
    const id = await newClient();
    const reqs =
      raw('GET', '/hello.txt', ['Host: h', 'Range: bytes=0-4']) +
      raw('HEAD', `/${id}/word.doc`, ['Host: h']) +
      raw('GET', `/${id}/hello.txt`, ['Host: h', 'Range: bytes=7-', 'Connection: close']);
    const buf = await exchange(server.port, [reqs]);
    const rs = parseResponses(buf, { bodiless: [false, true, false] });
    expect(rs.map((r) => r.status)).toEqual([206, 200, 206]);
    expect(rs[0]!.body.toString()).toBe('hello');
    expect(rs[1]!.headers.get('content-length')).toBe(String(SIZE));
    expect(rs[2]!.body.equals(HELLO.subarray(7))).toBe(true);
    // Nothing else came: three status lines, and the last body ends the stream.
    expect(buf.toString('latin1').match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(3);
    expect(buf.subarray(buf.length - HELLO.length + 7).equals(HELLO.subarray(7))).toBe(true);
  });

  test('keep-alive: two requests on one connection, which then stays open', async () => {
    const conn = await RawConnection.open(server.port);
    try {
      conn.write(raw('GET', '/hello.txt', ['Host: h']));
      const a = await conn.response();
      expect(a.status).toBe(200);
      expect(a.headers.has('connection')).toBe(false);
      expect(a.body.equals(HELLO)).toBe(true);
      conn.write(raw('GET', '/word.doc', ['Host: h', 'Range: bytes=0-99']));
      const b = await conn.response();
      expect(b.status).toBe(206);
      expect(b.body.equals(WORD.subarray(0, 100))).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      expect(conn.isClosed).toBe(false);
    } finally {
      conn.destroy();
    }
  });

  test('Connection: close closes after one response; a request pipelined behind it is not answered', async () => {
    const conn = await RawConnection.open(server.port);
    try {
      conn.write(raw('GET', '/hello.txt', ['Host: h', 'Connection: close']) + raw('GET', '/word.doc', ['Host: h']));
      const r = await conn.response();
      expect(r.status).toBe(200);
      expect(r.headers.get('connection')).toBe('close');
      expect(r.body.equals(HELLO)).toBe(true);
      expect((await conn.waitClosed(3000)).kind).toBe('end');
      expect(conn.unread().length).toBe(0);
    } finally {
      conn.destroy();
    }
  });

  test('HTTP/1.0 without keep-alive closes after the response; with keep-alive it stays open', async () => {
    const plain = await RawConnection.open(server.port);
    const kept = await RawConnection.open(server.port);
    try {
      plain.write(raw('GET', '/hello.txt', [], 'HTTP/1.0'));
      const r = await plain.response();
      expect(r.status).toBe(200);
      expect(r.headers.get('connection')).toBe('close');
      expect(r.body.equals(HELLO)).toBe(true);
      expect((await plain.waitClosed(3000)).kind).toBe('end');

      kept.write(raw('GET', '/hello.txt', ['Connection: keep-alive'], 'HTTP/1.0'));
      const first = await kept.response();
      expect(first.status).toBe(200);
      // RFC 9112 §9.3: a 1.0 client is told its connection persists.
      expect(first.headers.get('connection')).toBe('keep-alive');
      kept.write(raw('GET', '/hello.txt', ['Connection: keep-alive'], 'HTTP/1.0'));
      expect((await kept.response()).body.equals(HELLO)).toBe(true);
      expect(kept.isClosed).toBe(false);
    } finally {
      plain.destroy();
      kept.destroy();
    }
  });

  test('a request line over the limit is 414, then close', async () => {
    const conn = await RawConnection.open(server.port);
    try {
      conn.write(raw('GET', `/${'a'.repeat(9000)}`, ['Host: h']));
      const r = await conn.response();
      expect(r.status).toBe(414);
      expect(r.headers.get('mob-error')).toBe('uri-too-long');
      await conn.waitClosed(3000);
    } finally {
      conn.destroy();
    }
  });

  test.each([
    ['one 20 KiB header', [`X-Big: ${'b'.repeat(20 * 1024)}`]],
    ['150 header lines', Array.from({ length: 150 }, (_, i) => `X-H${i}: v`)],
  ])('a header section over the limit (%s) is 431, then close', async (_name, lines) => {
    const conn = await RawConnection.open(server.port);
    try {
      conn.write(raw('GET', '/hello.txt', ['Host: h', ...lines]));
      const r = await conn.response();
      expect(r.status).toBe(431);
      expect(r.headers.get('mob-error')).toBe('headers-too-large');
      await conn.waitClosed(3000);
    } finally {
      conn.destroy();
    }
  });

  test('header timeout: a head still unfinished after --header-timeout gets 408, then close', async () => {
    const conn = await RawConnection.open(timeouts.port);
    try {
      const t0 = Date.now();
      conn.write('GET /hello.txt HTTP/1.1\r\nHost: h\r\n');
      const r = await conn.response({ timeoutMs: 3000 });
      const ms = Date.now() - t0;
      expect(r.status).toBe(408);
      expect(r.headers.get('mob-error')).toBe('header-timeout');
      expect(r.headers.get('connection')).toBe('close');
      expect(ms).toBeGreaterThanOrEqual(400);
      expect(ms).toBeLessThan(2500);
      await conn.waitClosed(2000);
    } finally {
      conn.destroy();
    }
  });

  test('idle timeout: a keep-alive connection left silent is closed after --idle-timeout', async () => {
    const conn = await RawConnection.open(timeouts.port);
    try {
      conn.write(raw('GET', '/hello.txt', ['Host: h']));
      expect((await conn.response()).status).toBe(200);
      const { kind, ms } = await conn.waitClosed(4000);
      expect(kind).toBe('end');
      expect(ms).toBeGreaterThanOrEqual(800);
      expect(ms).toBeLessThan(3000);
      expect(conn.unread().length).toBe(0);
    } finally {
      conn.destroy();
    }
  });
});
