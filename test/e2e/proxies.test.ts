/**
 * Through real proxies: the seed's question d ("is the solution still valid
 * through HTTP proxies?"), answered with evidence. docs/DESIGN.md quotes
 * what these tests pin down.
 *
 * - nginx 1.22 as a reverse proxy (proxy_http_version 1.1, everything else
 *   default: proxy_buffering on, no cache) and squid 5.7 as a forward proxy
 *   (mobget --proxy, and http_proxy in its environment): mobget with drops
 *   is byte-identical on both paths, because it sends Range and both proxies
 *   pass Range through. The no-Range ledger path is not exact behind nginx:
 *   nginx reads the whole file ahead of a client that has vanished, and the
 *   ledger counts what nginx read.
 * - What caches do with our responses. A small relay between the cache and
 *   mobserve (test/helpers/request-recorder.ts) writes down what the cache
 *   really asked upstream. squid never stores the client-ID answers
 *   (no-store). It stores plain-path files and revalidates them on every
 *   request (If-None-Match and If-Modified-Since, with the client's Range
 *   and If-Range passed along); mobserve answers 304, because conditions
 *   come before Range, and squid cuts the range from its copy. A Range for
 *   a file it has not stored goes upstream as it is, and the 206 is not
 *   stored. nginx with proxy_cache stores nothing of ours (Cache-Control
 *   no-cache and no-store win over proxy_cache_valid) but strips Range and
 *   If-Range on the way up, which turns Range requests into 200s of the
 *   whole file and, on the client-ID path, into ledger answers: mobget
 *   notices (Mob-Resume-From ahead of its file) and goes on by the plain
 *   path, where it skips what it holds.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { FIXTURES } from '../helpers/paths.js';
import { killAll, mobget, run, startServer, type ServerProcess } from '../helpers/processes.js';
import { startRecorder, type RequestRecorder } from '../helpers/request-recorder.js';
import { eventually, startNginx, startSquid, type SystemServer } from '../helpers/system-servers.js';
import { freePort, tool } from '../helpers/system-tools.js';
import { sha256, sha256File, tempDir } from '../helpers/tmp.js';

const WORD = fs.readFileSync(path.join(FIXTURES, 'word.doc'));
const BIG = randomBytes(6 * 1024 * 1024);
const MID = randomBytes(2 * 1024 * 1024);

let tmp: ReturnType<typeof tempDir>;
let origin: ServerProcess;
/** mobserve's own address, and the recording relay in front of it (caches talk to the relay). */
let originUrl: string;
let recorder: RequestRecorder;
let recordedUrl: string;
let nginx: SystemServer;
/** nginx reverse proxy (no cache) → mobserve */
let proxyUrl: string;
/** nginx reverse proxy with proxy_cache → relay → mobserve */
let cacheUrl: string;
let squid: SystemServer;
let squidUrl: string;

beforeAll(async () => {
  tmp = tempDir('mob-proxies-');
  const root = path.join(tmp.dir, 'root');
  fs.mkdirSync(root);
  // One file per question, so that what one test leaves in a cache cannot change another's answer.
  for (const name of ['word.doc', 'id-twice.doc', 'cache-me.doc', 'range-first.doc', 'nginx-plain.doc', 'nginx-range.doc', 'nginx-id.doc']) fs.writeFileSync(path.join(root, name), WORD);
  fs.writeFileSync(path.join(root, 'big.bin'), BIG);
  fs.writeFileSync(path.join(root, 'cached.bin'), MID);
  fs.writeFileSync(path.join(root, 'nginx-cached.bin'), MID);

  origin = await startServer(['--store', 'memory', '--root', root, '-v']);
  originUrl = origin.url;
  recorder = await startRecorder(origin.port);
  recordedUrl = `http://127.0.0.1:${recorder.port}`;
  const [proxyPort, cachePort, squidPort] = [await freePort(), await freePort(), await freePort()];
  proxyUrl = `http://127.0.0.1:${proxyPort}`;
  cacheUrl = `http://127.0.0.1:${cachePort}`;
  squidUrl = `http://127.0.0.1:${squidPort}`;
  const nginxDir = path.join(tmp.dir, 'nginx');
  [nginx, squid] = await Promise.all([
    startNginx({
      dir: nginxDir,
      ports: [proxyPort, cachePort],
      servers: `
  proxy_cache_path ${nginxDir}/cache keys_zone=mob:1m;
  server {
    listen 127.0.0.1:${proxyPort};
    location / { proxy_pass http://127.0.0.1:${origin.port}; proxy_http_version 1.1; }
  }
  server {
    listen 127.0.0.1:${cachePort};
    location / {
      proxy_pass http://127.0.0.1:${recorder.port};
      proxy_http_version 1.1;
      proxy_cache mob;
      proxy_cache_valid 200 206 10m;
      add_header X-Cache-Status $upstream_cache_status always;
    }
  }`,
    }),
    startSquid({ dir: path.join(tmp.dir, 'squid'), port: squidPort, cache: true }),
  ]);
}, 30_000);

afterAll(async () => {
  await killAll();
  await recorder?.close();
  tmp?.cleanup();
});

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(tmp.dir, 'work-'));
});

interface Answer {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** One GET with curl (a client that is not ours), optionally through a forward proxy. */
async function curlGet(url: string, opts: { proxy?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const bodyFile = path.join(work, `body-${Math.random().toString(36).slice(2)}`);
  const args = ['-s', '-S', '-D', '-', '-o', bodyFile, '--noproxy', opts.proxy ? '' : '*'];
  if (opts.proxy) args.push('-x', opts.proxy);
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`);
  const r = await run(tool('curl'), [...args, url], { timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`curl ${url} failed (${r.code}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\r\n');
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
  }
  return { status: Number(lines[0]!.split(' ')[1]), headers, body: fs.readFileSync(bodyFile) };
}

async function newClientId(): Promise<string> {
  const r = await curlGet(`${originUrl}/`);
  expect(r.status).toBe(200);
  return r.body.toString();
}

/** Requests the relay saw for one path, in order. */
const upstream = (p: string) => recorder.requests.filter((r) => r.target === p);

/** squid access-log lines (result code/status) for one URL, after `mark` (a length of the log). */
function squidResults(url: string, mark = 0): string[] {
  return squid
    .accessLog()
    .slice(mark)
    .split('\n')
    .filter((l) => l.includes(` GET ${url} `))
    .map((l) => l.trim().split(/\s+/)[3]!);
}

/** nginx access-log lines (status, Range) for one path, after `mark`. */
function nginxLines(p: string, mark = 0): Array<[number, string]> {
  return nginx
    .accessLog()
    .slice(mark)
    .split('\n')
    .filter((l) => l.startsWith(`GET ${p} `))
    .map((l) => {
      const m = /^GET \S+ (\d{3}) range="([^"]*)"/.exec(l)!;
      return [Number(m[1]), m[2]!];
    });
}

const logSince = (mark: number) => origin.output().slice(mark);

describe('nginx as a reverse proxy (proxy_http_version 1.1, defaults otherwise)', () => {
  test('mobget with a drop every 20 KiB on the client-ID path: Range passes through, byte-identical', async () => {
    const mark = origin.output().length;
    const nMark = nginx.accessLog().length;
    const r = await mobget(['fetch', 'word.doc', '--server', proxyUrl, '--drop-every', '20k', '--json'], { cwd: work });
    expect(r.code).toBe(0);
    expect(sha256File(path.join(work, 'word.doc'))).toBe(sha256(WORD));
    expect(r.json).toMatchObject({ drops: 4, connections: 5, restarts: 0, verified: true, digestChecked: true });
    const id8 = (r.json.clientId as string).slice(0, 8);
    for (const at of [20480, 40960, 61440, 81920]) expect(logSince(mark)).toContain(`resume ${id8} word.doc from byte ${at} (range)`);
    const lines = await eventually(() => nginxLines(`/${r.json.clientId}/word.doc`, nMark), (l) => l.length === 5, 'five requests in the nginx log');
    expect(lines).toEqual([
      [206, 'bytes=0-'],
      [206, 'bytes=20480-'],
      [206, 'bytes=40960-'],
      [206, 'bytes=61440-'],
      [206, 'bytes=81920-'],
    ]);
  }, 30_000);

  test('mobget with drops on the plain path of a 6 MiB file: 206 each time, Repr-Digest passes through, byte-identical', async () => {
    const nMark = nginx.accessLog().length;
    const r = await mobget(['fetch', `${proxyUrl}/big.bin`, '--drop-every', '1m', '--drop-chance', '0.02', '--seed', '11', '--json'], { cwd: work });
    expect(r.code).toBe(0);
    expect(sha256File(path.join(work, 'big.bin'))).toBe(sha256(BIG));
    expect(r.json.drops).toBeGreaterThanOrEqual(5);
    expect(r.json).toMatchObject({ restarts: 0, digestChecked: true, connections: r.json.drops + 1 });
    const lines = await eventually(() => nginxLines('/big.bin', nMark), (l) => l.length === r.json.connections, 'one nginx line per connection');
    expect(lines.every(([status]) => status === 206)).toBe(true);
  }, 30_000);

  test('proxy_buffering: nginx reads the whole file ahead of a client that vanished, so the no-Range ledger path skips what it never got; Range stays exact', async () => {
    const id = await newClientId();
    const id8 = id.slice(0, 8);
    const mark = origin.output().length;
    // A device asks without Range through nginx, reads 64 KiB, stalls, and vanishes.
    const got = await new Promise<Buffer>((resolve, reject) => {
      const sock = net.connect({ port: Number(new URL(proxyUrl).port), host: '127.0.0.1' });
      let buf = Buffer.alloc(0);
      sock.on('error', reject);
      sock.on('connect', () => sock.write(`GET /${id}/big.bin HTTP/1.1\r\nHost: x\r\n\r\n`));
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 64 * 1024 || sock.isPaused()) return;
        sock.pause();
        // While it stalls, mobserve has handed all 6 MiB to nginx (its temp file).
        origin.waitFor(new RegExp(`complete ${id8} big\\.bin at byte ${BIG.length} of ${BIG.length}`), 10_000).then(() => {
          sock.resetAndDestroy();
          resolve(buf);
        }, reject);
      });
    });
    const headEnd = got.indexOf('\r\n\r\n');
    expect(got.toString('latin1', 0, headEnd)).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const part1 = got.subarray(headEnd + 4);
    expect(part1.equals(BIG.subarray(0, part1.length))).toBe(true);
    expect(part1.length).toBeLessThan(BIG.length / 4);
    expect(logSince(mark)).toMatch(new RegExp(`send ${id8} big\\.bin from byte 0 \\(ledger\\)`));

    // The seed's part2, without Range: the ledger believes the device has everything.
    const part2 = await curlGet(`${proxyUrl}/${id}/big.bin`);
    expect(part2.status).toBe(200);
    expect(part2.headers.get('mob-resume-from')).toBe(String(BIG.length));
    expect(part2.body.length).toBe(0);

    // curl -C - states its own offset with Range, through the same proxy: exact.
    const file = path.join(work, 'big.bin');
    fs.writeFileSync(file, part1);
    const resumed = await run(tool('curl'), ['-s', '-S', '--noproxy', '*', '-C', '-', `${proxyUrl}/${id}/big.bin`, '-o', file]);
    expect(resumed.code).toBe(0);
    expect(sha256File(file)).toBe(sha256(BIG));
  }, 30_000);
});

describe('squid as a forward proxy', () => {
  // no_proxy unset, so the environment's http_proxy applies to 127.0.0.1 too.
  const env = (via: string) => (via === 'http_proxy' ? { http_proxy: squidUrl, HTTP_PROXY: undefined, no_proxy: undefined, NO_PROXY: undefined } : { http_proxy: undefined, HTTP_PROXY: undefined });
  const proxyArgs = (via: string) => (via === '--proxy' ? ['--proxy', squidUrl] : []);

  test.each([['--proxy'], ['http_proxy']])('client-ID path via %s, a drop every 20 KiB: every request reaches mobserve with its Range, byte-identical', async (via) => {
    const mark = origin.output().length;
    const sMark = squid.accessLog().length;
    const r = await mobget(['fetch', 'word.doc', '--server', originUrl, '--drop-every', '20k', ...proxyArgs(via), '--json'], { cwd: work, env: env(via) });
    expect(r.code).toBe(0);
    expect(sha256File(path.join(work, 'word.doc'))).toBe(sha256(WORD));
    expect(r.json).toMatchObject({ drops: 4, connections: 5, restarts: 0, digestChecked: true });
    const id = r.json.clientId as string;
    for (const at of [20480, 40960, 61440, 81920]) expect(logSince(mark)).toContain(`resume ${id.slice(0, 8)} word.doc from byte ${at} (range)`);
    // The handshake and the five file requests went through squid; none was served from its cache.
    await eventually(() => squidResults(`${originUrl}/${id}/word.doc`, sMark), (l) => l.length === 5, 'five squid log lines');
    expect(squidResults(`${originUrl}/${id}/word.doc`, sMark).every((c) => /^TCP_MISS(_ABORTED)?\/206$/.test(c))).toBe(true);
    expect(squidResults(`${originUrl}/`, sMark)).toEqual(['TCP_MISS/200']);
  }, 30_000);

  test.each([['--proxy'], ['http_proxy']])('plain path via %s, drops in a 6 MiB file: Range forwarded (TCP_MISS/206), byte-identical', async (via) => {
    const sMark = squid.accessLog().length;
    const r = await mobget(['fetch', `${originUrl}/big.bin`, '--drop-every', '1m', '--drop-chance', '0.02', '--seed', '5', ...proxyArgs(via), '--json'], { cwd: work, env: env(via) });
    expect(r.code).toBe(0);
    expect(sha256File(path.join(work, 'big.bin'))).toBe(sha256(BIG));
    expect(r.json.drops).toBeGreaterThanOrEqual(5);
    expect(r.json).toMatchObject({ restarts: 0, digestChecked: true, connections: r.json.drops + 1 });
    const results = await eventually(() => squidResults(`${originUrl}/big.bin`, sMark), (l) => l.length === r.json.connections, 'one squid line per connection');
    expect(results.every((c) => /^TCP_MISS(_ABORTED)?\/206$/.test(c))).toBe(true);
  }, 30_000);
});

describe('what a caching squid (cache_mem 64 MB) does with our responses', () => {
  test('a client-ID URL twice: never stored (no-store), both requests reach mobserve', async () => {
    const id = await newClientId();
    const url = `${recordedUrl}/${id}/id-twice.doc`;
    const mark = origin.output().length;
    const first = await curlGet(url, { proxy: squidUrl });
    const second = await curlGet(url, { proxy: squidUrl });
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store, no-transform');
    expect(first.body.equals(WORD)).toBe(true);
    // The second answer comes from the ledger (the device has it all), not from squid.
    expect(second.status).toBe(200);
    expect(second.headers.get('mob-resume-from')).toBe(String(WORD.length));
    expect(second.body.length).toBe(0);
    for (const a of [first, second]) expect(a.headers.get('x-cache')).toBe('MISS from localhost');
    expect(await eventually(() => squidResults(url), (l) => l.length === 2, 'two squid lines')).toEqual(['TCP_MISS/200', 'TCP_MISS/200']);
    expect(upstream(`/${id}/id-twice.doc`)).toHaveLength(2);
    expect(logSince(mark)).toContain(`send ${id.slice(0, 8)} id-twice.doc from byte 0 (ledger)`);
    expect(logSince(mark)).toContain(`resume ${id.slice(0, 8)} id-twice.doc from byte ${WORD.length} (ledger)`);
  });

  test('a plain URL: stored, revalidated with If-None-Match on every later request (304 from mobserve), and a Range served from the stored copy', async () => {
    const url = `${recordedUrl}/cache-me.doc`;
    const mark = origin.output().length;
    const answers = [await curlGet(url, { proxy: squidUrl }), await curlGet(url, { proxy: squidUrl }), await curlGet(url, { proxy: squidUrl })];
    const ranged = await curlGet(url, { proxy: squidUrl, headers: { Range: 'bytes=1000-1999' } });
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body.equals(WORD)).toBe(true);
    }
    expect(answers.map((a) => a.headers.get('x-cache'))).toEqual(['MISS from localhost', 'HIT from localhost', 'HIT from localhost']);
    const etag = answers[0]!.headers.get('etag')!;
    expect(answers[0]!.headers.get('cache-control')).toBe('no-cache, no-transform');
    // A HIT after a revalidation: squid asked mobserve each time.
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 1000-1999/${WORD.length}`);
    expect(ranged.headers.get('x-cache')).toBe('HIT from localhost');
    expect(ranged.body.equals(WORD.subarray(1000, 2000))).toBe(true);
    expect(await eventually(() => squidResults(url), (l) => l.length === 4, 'four squid lines')).toEqual([
      'TCP_MISS/200',
      'TCP_REFRESH_UNMODIFIED/200',
      'TCP_REFRESH_UNMODIFIED/200',
      'TCP_REFRESH_UNMODIFIED/206',
    ]);
    // Upstream: one plain GET, then three conditional GETs (squid's If-None-Match and
    // If-Modified-Since), the last one carrying the client's Range too. mobserve answers
    // each with 304: the conditions come before Range (RFC 9110 §13.2.2).
    const up = upstream('/cache-me.doc');
    expect(up).toHaveLength(4);
    expect(up[0]!.headers.has('if-none-match')).toBe(false);
    for (const r of up.slice(1)) {
      expect(r.headers.get('if-none-match')).toBe(etag);
      expect(r.headers.get('if-modified-since')).toBe(answers[0]!.headers.get('last-modified'));
    }
    expect(up.map((r) => r.headers.get('range'))).toEqual([undefined, undefined, undefined, 'bytes=1000-1999']);
    expect(logSince(mark).match(/cache-me\.doc 304/g)).toHaveLength(3);
  });

  test('a Range for a plain URL squid has not stored goes upstream as it is: 206 end to end, not stored', async () => {
    const url = `${recordedUrl}/range-first.doc`;
    const answers = [await curlGet(url, { proxy: squidUrl, headers: { Range: 'bytes=1000-1999' } }), await curlGet(url, { proxy: squidUrl, headers: { Range: 'bytes=1000-1999' } })];
    for (const a of answers) {
      expect(a.status).toBe(206);
      expect(a.headers.get('content-range')).toBe(`bytes 1000-1999/${WORD.length}`);
      expect(a.headers.get('x-cache')).toBe('MISS from localhost');
      expect(a.body.equals(WORD.subarray(1000, 2000))).toBe(true);
    }
    expect(await eventually(() => squidResults(url), (l) => l.length === 2, 'two squid lines')).toEqual(['TCP_MISS/206', 'TCP_MISS/206']);
    expect(upstream('/range-first.doc').map((r) => r.headers.get('range'))).toEqual(['bytes=1000-1999', 'bytes=1000-1999']);
  });

  test('mobget with drops through squid on a plain file squid has stored: each request is revalidated (304) and its Range served from the copy, byte-identical', async () => {
    const url = `${recordedUrl}/cached.bin`;
    expect((await curlGet(url, { proxy: squidUrl })).headers.get('x-cache')).toBe('MISS from localhost'); // now stored
    const before = upstream('/cached.bin').length;
    const mark = origin.output().length;
    const r = await mobget(['fetch', url, '--proxy', squidUrl, '--drop-every', '256k', '--json'], { cwd: work });
    expect(r.code).toBe(0);
    expect(sha256File(path.join(work, 'cached.bin'))).toBe(sha256(MID));
    expect(r.json).toMatchObject({ drops: 7, connections: 8, restarts: 0, digestChecked: true });
    const results = await eventually(() => squidResults(url).slice(1), (l) => l.length === 8, 'eight squid lines');
    expect(results.every((c) => /^TCP_REFRESH_UNMODIFIED(_ABORTED)?\/206$/.test(c))).toBe(true);
    // Each request went upstream as a revalidation: mobget's Range and If-Range plus
    // squid's If-None-Match; mobserve answered 304 and squid cut the range from its copy.
    const up = upstream('/cached.bin').slice(before);
    expect(up).toHaveLength(8);
    expect(up.every((q) => q.headers.get('if-none-match') === r.json.etag)).toBe(true);
    expect(up.map((q) => q.headers.get('range'))).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `bytes=${i * 256 * 1024}-`));
    expect(logSince(mark).match(/cached\.bin 304/g)).toHaveLength(8);
    expect(logSince(mark)).not.toMatch(/cached\.bin from byte/);
  }, 30_000);
});

describe('nginx with proxy_cache (and proxy_cache_valid 200 206 10m)', () => {
  test('a client-ID URL twice: not stored, both reach mobserve', async () => {
    const id = await newClientId();
    const p = `/${id}/nginx-id.doc`;
    const answers = [await curlGet(`${cacheUrl}${p}`), await curlGet(`${cacheUrl}${p}`)];
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers.map((a) => a.headers.get('x-cache-status'))).toEqual(['MISS', 'MISS']);
    expect(answers[0]!.body.equals(WORD)).toBe(true);
    expect(answers[1]!.body.length).toBe(0); // the ledger: nothing left for this device
    expect(upstream(p)).toHaveLength(2);
  });

  test('a plain URL twice: not stored either (Cache-Control: no-cache), two full GETs upstream, no revalidation', async () => {
    const answers = [await curlGet(`${cacheUrl}/nginx-plain.doc`), await curlGet(`${cacheUrl}/nginx-plain.doc`)];
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.headers.get('x-cache-status')).toBe('MISS');
      expect(a.body.equals(WORD)).toBe(true);
    }
    const up = upstream('/nginx-plain.doc');
    expect(up).toHaveLength(2);
    expect(up.every((r) => !r.headers.has('if-none-match') && !r.headers.has('if-modified-since'))).toBe(true);
  });

  test('Range is stripped on the way up: the client asked for 1000 bytes and gets a 200 with the whole file', async () => {
    const a = await curlGet(`${cacheUrl}/nginx-range.doc`, { headers: { Range: 'bytes=1000-1999', 'If-Range': '"x"' } });
    expect(a.status).toBe(200);
    expect(a.headers.get('content-length')).toBe(String(WORD.length));
    expect(a.body.equals(WORD)).toBe(true);
    const [up] = upstream('/nginx-range.doc');
    expect(up!.headers.has('range')).toBe(false);
    expect(up!.headers.has('if-range')).toBe(false);
  });

  test('mobget with drops on the plain path: every reconnect gets the whole file again, mobget skips what it has, byte-identical', async () => {
    const r = await mobget(['fetch', `${cacheUrl}/nginx-cached.bin`, '--drop-every', '512k', '--json'], { cwd: work });
    expect(r.code).toBe(0);
    expect(sha256File(path.join(work, 'nginx-cached.bin'))).toBe(sha256(MID));
    expect(r.json).toMatchObject({ drops: 3, connections: 4, restarts: 0, digestChecked: true });
    // 512 KiB + 1 MiB + 1.5 MiB skipped, on top of the 2 MiB file.
    expect(r.json.received).toBeGreaterThanOrEqual(MID.length + 3 * 1024 * 1024);
    expect(upstream('/nginx-cached.bin').every((q) => !q.headers.has('range'))).toBe(true);
  }, 30_000);

  test('mobget on the client-ID path notices the dropped Range (a ledger answer), falls back to the plain path and ends byte-identical', async () => {
    const r = await mobget(['fetch', 'word.doc', '--server', cacheUrl, '--drop-every', '20k', '--json'], { cwd: work });
    expect(r.code).toBe(0);
    expect(r.json.verified).toBe(true);
    expect(sha256File(path.join(work, 'word.doc'))).toBe(sha256(WORD));
    // The summary's URL is the plain path it finished on.
    expect(r.json.url).toBe(`${cacheUrl}/word.doc`);
    const id = r.json.clientId as string;
    const up = upstream(`/${id}/word.doc`);
    expect(up.length).toBeGreaterThanOrEqual(1);
    expect(up.every((q) => !q.headers.has('range'))).toBe(true);
    // After the first connection nginx had read the whole file, so the ledger
    // said "complete" while mobget held 20 KiB: that is what triggers the fallback.
    expect(origin.output()).toContain(`resume ${id.slice(0, 8)} word.doc from byte ${WORD.length} (ledger)`);
  }, 30_000);
});
