/**
 * What a server on the open internet meets: garbage and smuggling shapes,
 * path traversal, clients that vanish mid-send, and a device whose old
 * connection lingers. Each is refused or cut cleanly, and the server goes on
 * serving exact bytes.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FIXTURES } from '../helpers/paths.js';
import { killAll, mobget, startServer, type ServerProcess } from '../helpers/processes.js';
import { request } from '../helpers/raw-http.js';
import { RawConnection } from '../helpers/raw-connection.js';
import { sha256, sha256File, tempDir } from '../helpers/tmp.js';

const WORD = fs.readFileSync(path.join(FIXTURES, 'word.doc'));
const BIG_SIZE = 20 * 1024 * 1024;
const IDLE_MS = 1000;

/** --root <tmp> with the files below, --header-timeout 500ms, --idle-timeout 1s */
let server: ServerProcess;
let root: ReturnType<typeof tempDir>;
let outside: ReturnType<typeof tempDir>;
let bigSha: string;

/** Deterministic bytes (mulberry32), so a "random" row fails the same way every run. Small sizes only: slow under jest. */
function pseudoRandom(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}

beforeAll(async () => {
  root = tempDir('mob-hostile-root-');
  outside = tempDir('mob-hostile-outside-');
  const r = (p: string): string => path.join(root.dir, p);
  fs.copyFileSync(path.join(FIXTURES, 'word.doc'), r('word.doc'));
  fs.copyFileSync(path.join(FIXTURES, 'hello.txt'), r('hello.txt'));
  fs.mkdirSync(r('nested/deeper'), { recursive: true });
  fs.writeFileSync(r('nested/deeper/notes.txt'), 'nested notes\n');
  fs.writeFileSync(r('name with space ü.txt'), 'spaced\n');
  fs.writeFileSync(r('.secret'), 'root:x:0:0:hidden\n');
  fs.writeFileSync(r('nested/.hidden'), 'root:x:0:0:hidden too\n');
  fs.writeFileSync(path.join(outside.dir, 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.symlinkSync('/etc/passwd', r('link-passwd'));
  fs.symlinkSync(outside.dir, r('link-outdir'));
  fs.symlinkSync(path.join('..', '..', path.basename(outside.dir)), r('nested/escape'));
  fs.symlinkSync(path.join('nested', 'deeper', 'notes.txt'), r('link-inside.txt'));
  fs.symlinkSync('loop-b', r('loop-a'));
  fs.symlinkSync('loop-a', r('loop-b'));
  execFileSync('mkfifo', [r('pipe')]);
  const big = randomBytes(BIG_SIZE);
  fs.writeFileSync(r('big.bin'), big);
  bigSha = sha256(big);
  server = await startServer(['--store', 'memory', '--root', root.dir, '--header-timeout', '500ms', '--idle-timeout', `${IDLE_MS}ms`]);
});
afterAll(async () => {
  await killAll();
  root?.cleanup();
  outside?.cleanup();
});

async function newClient(): Promise<string> {
  const r = await request(server.port, '/');
  expect(r.status).toBe(200);
  return r.body.toString('latin1');
}

/** The server is alive, has printed no stack trace, and still serves exact bytes. */
async function expectHealthy(): Promise<void> {
  // Still running (on failure the log's tail shows why it stopped).
  const gone = server.proc.exitCode !== null || server.proc.signalCode !== null;
  expect({ exitCode: server.proc.exitCode, signal: server.proc.signalCode, log: gone ? server.output().slice(-2000) : '' }).toEqual({ exitCode: null, signal: null, log: '' });
  expect(server.output()).not.toMatch(/Error|^\s+at /m);
  const r = await request(server.port, '/word.doc', { Range: 'bytes=1000-' });
  expect(r.status).toBe(206);
  expect(r.body.equals(WORD.subarray(1000))).toBe(true);
}

/** Polls `pred` every 20 ms; rejects after timeoutMs. */
async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Row {
  name: string;
  /** Sent in order, `gapMs` apart. */
  pieces: Array<string | Buffer>;
  gapMs?: number;
  /** The status line's code, or 'close' for a clean close with no response. */
  expect: number | 'close';
}

const GOOD = 'GET /hello.txt HTTP/1.1\r\nHost: h\r\n';

const ROWS: Row[] = [
  { name: 'bare LF line endings', pieces: ['GET /hello.txt HTTP/1.1\nHost: h\n\n'], expect: 400 },
  { name: 'a bare LF after a good line', pieces: [`${GOOD}X: y\n\r\n`], expect: 400 },
  { name: 'bare CR', pieces: ['GET /hello.txt HTTP/1.1\rHost: h\r\n\r\n'], expect: 400 },
  { name: 'NUL in the target', pieces: ['GET /hel\0lo.txt HTTP/1.1\r\nHost: h\r\n\r\n'], expect: 400 },
  { name: 'NUL in a header value', pieces: [`${GOOD}X-A: a\0b\r\n\r\n`], expect: 400 },
  { name: 'obs-fold', pieces: [`${GOOD}X-A: a\r\n  folded\r\n\r\n`], expect: 400 },
  { name: 'space before the colon', pieces: ['GET /hello.txt HTTP/1.1\r\nHost : h\r\n\r\n'], expect: 400 },
  { name: 'a header line without a colon', pieces: [`${GOOD}no colon here\r\n\r\n`], expect: 400 },
  { name: 'two Host headers', pieces: [`${GOOD}Host: other\r\n\r\n`], expect: 400 },
  { name: 'no Host on HTTP/1.1', pieces: ['GET /hello.txt HTTP/1.1\r\n\r\n'], expect: 400 },
  { name: 'duplicate Content-Length', pieces: [`${GOOD}Content-Length: 0\r\nContent-Length: 0\r\n\r\n`], expect: 400 },
  { name: 'negative Content-Length', pieces: [`${GOOD}Content-Length: -1\r\n\r\n`], expect: 400 },
  { name: 'huge Content-Length', pieces: [`${GOOD}Content-Length: 99999999999999999999999\r\n\r\n`], expect: 400 },
  { name: 'a body on GET', pieces: [`${GOOD}Content-Length: 5\r\n\r\nhello`], expect: 400 },
  { name: 'Transfer-Encoding: chunked', pieces: [`${GOOD}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`], expect: 400 },
  { name: 'Transfer-Encoding and Content-Length', pieces: ['POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n'], expect: 400 },
  { name: 'two Range headers', pieces: [`${GOOD}Range: bytes=0-1\r\nRange: bytes=5-6\r\n\r\n`], expect: 400 },
  { name: 'HTTP/2.0', pieces: ['GET /hello.txt HTTP/2.0\r\nHost: h\r\n\r\n'], expect: 505 },
  { name: 'the HTTP/2 preface', pieces: ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'], expect: 505 },
  { name: 'HTTP/0.9', pieces: ['GET /hello.txt\r\n\r\n'], expect: 400 },
  { name: 'a garbled version', pieces: ['GET /hello.txt HTXP/1.1\r\nHost: h\r\n\r\n'], expect: 400 },
  { name: 'tabs for spaces', pieces: ['GET\t/hello.txt\tHTTP/1.1\r\nHost: h\r\n\r\n'], expect: 400 },
  { name: 'two spaces', pieces: ['GET  /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n'], expect: 400 },
  { name: 'a space inside the target', pieces: ['GET /hello .txt HTTP/1.1\r\nHost: h\r\n\r\n'], expect: 400 },
  { name: 'a raw 0xff in the target', pieces: [Buffer.concat([Buffer.from('GET /he'), Buffer.from([0xff]), Buffer.from('llo.txt HTTP/1.1\r\nHost: h\r\n\r\n')])], expect: 400 },
  { name: 'a method that is no token', pieces: ['G@T /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n'], expect: 400 },
  { name: 'a lower-case method', pieces: ['get /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n'], expect: 405 },
  { name: 'binary junk with a blank line', pieces: [Buffer.concat([pseudoRandom(64, 1).map((b) => (b === 13 || b === 10 ? 0x20 : b)), Buffer.from('\r\n\r\n')])], expect: 400 },
  { name: 'a TLS ClientHello (no line end ever)', pieces: [Buffer.from('160301020001000001fc0303', 'hex')], expect: 408 },
  { name: 'GET / HTTP/1.1 then random bytes', pieces: [Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n'), pseudoRandom(4096, 2)])], expect: 400 },
  { name: 'an empty connection', pieces: [], expect: 'close' },
  { name: 'a request line of 100 KiB', pieces: [`GET /${'a'.repeat(100 * 1024)} HTTP/1.1\r\nHost: h\r\n\r\n`], expect: 414 },
  { name: 'a header section of 64 KiB', pieces: [`${GOOD}${'X-Pad: 0123456789012345678901234567890123456789\r\n'.repeat(1400)}\r\n`], expect: 431 },
  { name: 'a head dripped a byte every 100 ms (slowloris)', pieces: [...GOOD], gapMs: 100, expect: 408 },
  { name: 'empty lines dripped forever (slowloris)', pieces: Array.from({ length: 20 }, () => '\r\n'), gapMs: 100, expect: 408 },
];

/** Sends a row and waits (bounded) for the server to close; returns the first status code, or 'close' if none came. */
async function runRow(row: Row): Promise<number | 'close'> {
  const conn = await RawConnection.open(server.port);
  try {
    for (const p of row.pieces) {
      if (conn.isClosed) break;
      conn.write(p);
      if (row.gapMs) await new Promise((r) => setTimeout(r, row.gapMs));
    }
    // Every row ends the connection within the timeouts (header 500 ms, idle 1 s).
    await conn.waitClosed(4000);
    const text = conn.unread().toString('latin1');
    if (text.length === 0) return 'close';
    const m = /^HTTP\/1\.1 (\d{3}) [^\r\n]*\r\n/.exec(text);
    return m ? Number(m[1]) : NaN;
  } finally {
    conn.destroy();
  }
}

describe('garbage and hostile requests', () => {
  test.each(ROWS.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    expect(await runRow(row)).toBe(row.expect);
  });

  test('the whole table three times at once, then a good request is still served exactly', async () => {
    const rows = [...ROWS, ...ROWS, ...ROWS];
    const got = await Promise.all(rows.map((r) => runRow(r)));
    expect(got.map((g, i) => [rows[i]!.name, g])).toEqual(rows.map((r) => [r.name, r.expect]));
    await expectHealthy();
  });
});

describe('a peer that keeps talking after the server said close', () => {
  test.each([
    ['a refusal (400)', 'GARBAGE\r\n\r\n', 400],
    ['Connection: close (200)', 'GET /hello.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', 200],
  ])('after %s it is cut off within the header timeout, not held open', async (_name, first, status) => {
    const sock = net.connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    let fin = false;
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    sock.on('end', () => (fin = true));
    sock.on('error', () => {});
    const closed = new Promise<number>((resolve) => sock.once('close', () => resolve(Date.now())));
    await new Promise((resolve) => sock.once('connect', resolve));
    const t0 = Date.now();
    sock.write(first);
    // Junk every 50 ms: activity that would reset an idle timer forever.
    const talker = setInterval(() => sock.writable && sock.write('still talking '), 50);
    let guard: NodeJS.Timeout | undefined;
    try {
      const end = await Promise.race([closed, new Promise<number>((resolve) => (guard = setTimeout(() => resolve(-1), 4000)))]);
      expect(end).not.toBe(-1);
      expect(end - t0).toBeLessThan(3000);
      expect(got).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(fin).toBe(true);
    } finally {
      clearTimeout(guard);
      clearInterval(talker);
      sock.destroy();
    }
  });
});

describe('path traversal', () => {
  // target → status. The raw target is sent as is (no client-side normalisation).
  const TRAVERSAL: Array<[string, number]> = [
    ['/../etc/passwd', 400],
    ['/../../../../../../etc/passwd', 400],
    ['/%2e%2e/%2e%2e/etc/passwd', 400],
    ['/%2E%2E/%2E%2E/etc/passwd', 400],
    ['/<id>/..%2f..%2fetc%2fpasswd', 400],
    ['/<id>/../../etc/passwd', 400],
    ['/%252e%252e/x', 404],
    ['/%c0%ae%c0%ae/x', 400],
    ['/%c0%afetc%c0%afpasswd', 400],
    ['/a%00b', 400],
    ['/..\\..\\etc\\passwd', 400],
    ['/..%5c..%5cetc%5cpasswd', 400],
    ['http://x/../../etc/passwd', 400],
    ['http://x/%2e%2e/etc/passwd', 400],
    ['//etc/passwd', 400],
    ['/%2fetc%2fpasswd', 400],
    ['/./hello.txt', 400],
    ['/etc/passwd', 404],
    ['/link-passwd', 404],
    ['/<id>/link-passwd', 404],
    ['/link-outdir', 404],
    ['/link-outdir/passwd', 404],
    ['/<id>/link-outdir/passwd', 404],
    ['/nested/escape/passwd', 404],
    ['/.secret', 404],
    ['/%2esecret', 404],
    ['/<id>/.secret', 404],
    ['/nested/.hidden', 404],
    ['/nested', 404],
    ['/loop-a', 404],
    ['/pipe', 404],
    ['/nested/deeper/', 400],
  ];

  test.each(TRAVERSAL)('%s is %i and serves nothing', async (target, status) => {
    const id = await newClient();
    const r = await request(server.port, target.replace('<id>', id));
    expect(r.status).toBe(status);
    expect(r.body.toString('latin1')).not.toContain('root:');
  });

  /** Every non-hidden name under the root that is a regular file or a link to one inside the root. */
  function servable(dir: string, rel: string[] = []): string[][] {
    const out: string[][] = [];
    const rootReal = fs.realpathSync(root.dir);
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith('.')) continue;
      const full = path.join(dir, name);
      let real: string;
      try {
        real = fs.realpathSync(full);
      } catch {
        continue; // a loop
      }
      if (!real.startsWith(rootReal + path.sep)) continue;
      const st = fs.statSync(real);
      if (st.isDirectory()) out.push(...servable(full, [...rel, name]));
      else if (st.isFile()) out.push([...rel, name]);
    }
    return out;
  }

  test('every regular file under the root (nested, linked inside, odd names) is still served exactly on both routes', async () => {
    const files = servable(root.dir);
    expect(files.map((f) => f.join('/')).sort()).toEqual(
      ['big.bin', 'hello.txt', 'link-inside.txt', 'name with space ü.txt', 'nested/deeper/notes.txt', 'word.doc'].sort(),
    );
    const id = await newClient();
    for (const segments of files) {
      const encoded = segments.map(encodeURIComponent).join('/');
      const want = fs.readFileSync(path.join(root.dir, ...segments));
      for (const target of [`/${encoded}`, `/${id}/${encoded}`]) {
        const r = await request(server.port, target);
        expect({ target, status: r.status }).toEqual({ target, status: 200 });
        expect(r.body.equals(want)).toBe(true);
      }
    }
  });

  test('a FIFO inside the root is refused at once, however many ask, and the server serves on', async () => {
    // Opening a FIFO for reading waits for a writer: done naively, each of
    // these would hold one of libuv's four pool threads and stall all file I/O.
    const id = await newClient();
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => request(server.port, i % 2 ? '/pipe' : `/${id}/pipe`)));
    expect(rs.map((r) => r.status)).toEqual(Array(8).fill(404));
    await expectHealthy();
  });
});

describe('clients that vanish mid-send', () => {
  type How = 'reset' | 'half-close' | 'stall';

  /**
   * Requests `target` and reads at least `after` bytes, then: `reset` sends
   * RST, `half-close` sends FIN and destroys soon after, `stall` stops
   * reading with the socket open (half-open from the server's view) and
   * reads on only after `stallMs`. Resolves with the bytes received.
   */
  function vanishing(target: string, how: How, after: number, stallMs = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port: server.port, host: '127.0.0.1' });
      let got = 0;
      let acted = false;
      const guard = setTimeout(() => {
        sock.destroy();
        reject(new Error(`${how} client still connected after 15 s (${got} bytes)`));
      }, 15_000);
      sock.on('error', () => {});
      sock.once('close', () => {
        clearTimeout(guard);
        resolve(got);
      });
      sock.once('connect', () => sock.write(`GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`));
      sock.on('data', (d: Buffer) => {
        got += d.length;
        if (acted || got < after) return;
        acted = true;
        if (how === 'reset') sock.resetAndDestroy();
        else if (how === 'half-close') {
          sock.end();
          setTimeout(() => sock.destroy(), 20);
        } else {
          sock.pause();
          setTimeout(() => sock.resume(), stallMs);
        }
      });
    });
  }

  test('20 vanishing clients cost only their own connections; a real download alongside is byte-exact', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, () => newClient()));
    const out = tempDir('mob-hostile-out-');
    try {
      const vanishers = Array.from({ length: 20 }, (_, i) => {
        const target = i % 2 === 0 ? `/${ids[i / 2]}/big.bin` : '/big.bin';
        return vanishing(target, i % 4 < 2 ? 'reset' : 'half-close', 2048 + i * 1024);
      });
      const [raw, got, ...cut] = await Promise.all([
        request(server.port, '/big.bin'),
        mobget(['fetch', 'big.bin', '--server', server.url, '-o', path.join(out.dir, 'big.bin'), '--json'], { timeoutMs: 30_000 }),
        ...vanishers,
      ]);
      expect(raw.status).toBe(200);
      expect(raw.body.length).toBe(BIG_SIZE);
      expect(sha256(raw.body)).toBe(bigSha);
      expect({ code: got.code, stderr: got.stderr }).toEqual({ code: 0, stderr: '' });
      expect(sha256File(path.join(out.dir, 'big.bin'))).toBe(bigSha);
      for (const n of cut) expect(n).toBeLessThan(BIG_SIZE);

      // The server saw them go and recorded how far the client-route ones got.
      await until(() => (server.output().match(/vanished at byte/g) ?? []).length >= 20, 5000, '20 drop lines in the server log');
      const h = await request(server.port, `/${ids[0]}/big.bin`, {}, 'HEAD');
      const from = Number(h.headers.get('mob-resume-from'));
      expect(from).toBeGreaterThan(0);
      expect(from).toBeLessThan(BIG_SIZE);
      await expectHealthy();
    } finally {
      out.cleanup();
    }
  }, 45_000);

  test('a half-open client that stops reading is cut after --idle-timeout and the server serves on', async () => {
    const stallMs = 3 * IDLE_MS;
    const t0 = Date.now();
    const [a, b] = await Promise.all([vanishing('/big.bin', 'stall', 4096, stallMs), vanishing(`/${await newClient()}/big.bin`, 'stall', 4096, stallMs)]);
    // Had the server waited for them, they would have read the whole file after the stall.
    expect(a).toBeLessThan(BIG_SIZE);
    expect(b).toBeLessThan(BIG_SIZE);
    expect(Date.now() - t0).toBeLessThan(stallMs + 5000);
    await expectHealthy();
  }, 20_000);
});

describe('zombie rule: a newer request for the same (client, path) ends the older transfer', () => {
  test('with --rate 50k, connection A is closed by the server when B asks for the same file; B completes', async () => {
    const paced = await startServer(['--store', 'memory', '--rate', '50k']);
    const hello = await request(paced.port, '/');
    const id = hello.body.toString('latin1');
    const a = await RawConnection.open(paced.port);
    const b = await RawConnection.open(paced.port);
    try {
      a.write(`GET /${id}/word.doc HTTP/1.1\r\nHost: h\r\n\r\n`);
      await a.waitReceived(2000, 5000);
      b.write(`GET /${id}/word.doc HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);

      const closedA = await a.waitClosed(3000);
      expect(closedA.ms).toBeLessThan(3000);
      // A was cut short: well under the 100352 bytes it asked for.
      expect(a.received).toBeLessThan(WORD.length / 2);

      const res = await b.response({ timeoutMs: 10_000 });
      expect(res.status).toBe(200);
      const from = Number(res.headers.get('mob-resume-from'));
      expect(from).toBeGreaterThanOrEqual(0);
      expect(from).toBeLessThan(WORD.length);
      expect(res.headers.get('content-length')).toBe(String(WORD.length - from));
      expect(res.body.equals(WORD.subarray(from))).toBe(true);
      await b.waitClosed(3000);

      await paced.waitFor(/superseded [0-9a-f]{8} word\.doc/, 3000);
      // B completed and owns the ledger: nothing is left to send.
      const after = await request(paced.port, `/${id}/word.doc`);
      expect(after.status).toBe(200);
      expect(after.headers.get('content-length')).toBe('0');
      expect(paced.proc.exitCode).toBeNull();
      expect(paced.output()).not.toMatch(/Error|^\s+at /m);
    } finally {
      a.destroy();
      b.destroy();
    }
  }, 20_000);
});
