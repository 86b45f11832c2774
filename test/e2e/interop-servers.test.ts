/**
 * mobget with servers that are not ours, given a full URL (no handshake):
 *
 * - nginx 1.22 serving the same files: Range, 206, a strong-looking ETag
 *   (mtime-size), no Repr-Digest. mobget resumes every drop with Range and
 *   nginx answers each with 206; it follows nginx's own 301.
 * - Python's http.server: ignores Range (200 and the whole file every time),
 *   Content-Length, no ETag. mobget sees the 200, never appends a second
 *   copy, and with no validator starts over from zero; after 3 such restarts
 *   it gives up (exit 4) rather than loop, so drops are capped with --max-drops.
 *
 * Chunked bodies, bodies without Content-Length, the other redirect codes
 * and `Connection: close` are covered against a fake server in
 * test/e2e/client-integrity.test.ts.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { killAll, mobget } from '../helpers/processes.js';
import { eventually, startNginx, startPythonHttp, type SystemServer } from '../helpers/system-servers.js';
import { freePort } from '../helpers/system-tools.js';
import { sha256, sha256File, tempDir } from '../helpers/tmp.js';

const BIG = randomBytes(6 * 1024 * 1024);
const SMALL = randomBytes(300 * 1024);

let tmp: ReturnType<typeof tempDir>;
let root: string;
let nginx: SystemServer;
let nginxUrl: string;
let python: SystemServer;
let pythonUrl: string;

beforeAll(async () => {
  tmp = tempDir('mob-interop-servers-');
  root = path.join(tmp.dir, 'root');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'big.bin'), BIG);
  fs.writeFileSync(path.join(root, 'small.bin'), SMALL);
  const [nginxPort, pythonPort] = [await freePort(), await freePort()];
  nginxUrl = `http://127.0.0.1:${nginxPort}`;
  pythonUrl = `http://127.0.0.1:${pythonPort}`;
  [nginx, python] = await Promise.all([
    startNginx({
      dir: path.join(tmp.dir, 'nginx'),
      ports: [nginxPort],
      servers: `
  server {
    listen 127.0.0.1:${nginxPort};
    root ${root};
    location = /old.bin { return 301 /big.bin; }
  }`,
    }),
    startPythonHttp({ dir: path.join(tmp.dir, 'python'), port: pythonPort, root }),
  ]);
}, 30_000);

afterAll(async () => {
  await killAll();
  tmp?.cleanup();
});

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(tmp.dir, 'work-'));
});

/** nginx access-log lines for one path, each as [status, Range header]. */
function nginxRequests(p: string): Array<[number, string]> {
  return nginx
    .accessLog()
    .split('\n')
    .filter((l) => l.startsWith(`GET ${p} `))
    .map((l) => {
      const m = /^GET \S+ (\d{3}) range="([^"]*)"/.exec(l)!;
      return [Number(m[1]), m[2]!];
    });
}

describe('nginx (static files)', () => {
  test('mobget with drops resumes every one with Range, nginx answers 206 each time, byte-identical', async () => {
    const before = nginxRequests('/big.bin').length;
    const r = await mobget(['fetch', `${nginxUrl}/big.bin`, '--drop-every', '256k', '--drop-chance', '0.05', '--seed', '7', '--json'], { cwd: work });
    expect(r.code).toBe(0);
    const s = r.json;
    expect(sha256File(path.join(work, 'big.bin'))).toBe(sha256(BIG));
    expect(s.bytes).toBe(BIG.length);
    expect(s.drops).toBeGreaterThan(20); // at most 256 KiB apart in 6 MiB
    expect(s.connections).toBe(s.drops + 1);
    expect(s.restarts).toBe(0);
    // nginx's ETag ("<mtime hex>-<size hex>") counts as strong; no Repr-Digest, so the size is what is checked.
    expect(s.etag).toMatch(/^"[0-9a-f]+-600000"$/);
    expect(s.digestChecked).toBe(false);
    // One request per connection, each with Range from the bytes on disk, each a 206.
    const reqs = await eventually(
      () => nginxRequests('/big.bin').slice(before),
      (l) => l.length === s.connections,
      'one access-log line per connection',
    );
    expect(reqs.every(([status]) => status === 206)).toBe(true);
    const starts = reqs.map(([, range]) => Number(/^bytes=(\d+)-$/.exec(range)?.[1]));
    expect(starts[0]).toBe(0);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(new Set(starts).size).toBe(starts.length);
  }, 30_000);

  test('mobget follows nginx\'s 301 and keeps resuming at the new location', async () => {
    const r = await mobget(['fetch', `${nginxUrl}/old.bin`, '-o', 'moved.bin', '--drop-every', '2m', '--json'], { cwd: work });
    expect(r.code).toBe(0);
    expect(sha256File(path.join(work, 'moved.bin'))).toBe(sha256(BIG));
    expect(r.json.url).toBe(`${nginxUrl}/big.bin`);
    expect(r.json.drops).toBe(2);
    // The redirect is asked once; the reconnects after each drop go straight to /big.bin.
    await eventually(() => nginxRequests('/old.bin'), (l) => l.length === 1, 'the 301 in the access log');
    expect(nginxRequests('/old.bin')).toEqual([[301, 'bytes=0-']]);
  }, 30_000);
});

describe("Python's http.server (ignores Range, no ETag)", () => {
  test('with 2 drops: each reconnect gets 200 from byte 0, mobget starts over instead of appending, the file is exact', async () => {
    const mark = python.accessLog().length;
    const r = await mobget(['fetch', `${pythonUrl}/small.bin`, '--drop-every', '100k', '--max-drops', '2', '--json'], { cwd: work });
    expect(r.code).toBe(0);
    const s = r.json;
    expect(fs.statSync(path.join(work, 'small.bin')).size).toBe(SMALL.length);
    expect(sha256File(path.join(work, 'small.bin'))).toBe(sha256(SMALL));
    expect(s).toMatchObject({ bytes: SMALL.length, drops: 2, connections: 3, restarts: 2, digestChecked: false });
    expect(s.etag).toBeUndefined();
    // Every byte came three times over the network: 100 KiB, 100 KiB, 300 KiB at least.
    expect(s.received).toBeGreaterThanOrEqual(2 * 100 * 1024 + SMALL.length);
    // Three requests (each with Range: bytes=0-), three answers of 200.
    const gets = await eventually(
      () => python.accessLog().slice(mark).match(/"GET \/small\.bin HTTP\/1\.1" \d+/g) ?? [],
      (l) => l.length === 3,
      'three requests in the http.server log',
    );
    expect(gets.every((l) => l.endsWith(' 200'))).toBe(true);
  }, 30_000);

  test('with a drop every 100k and no cap, mobget gives up after 3 restarts (exit 4), leaving a correct prefix, never a spliced file', async () => {
    const r = await mobget(['fetch', `${pythonUrl}/small.bin`, '--drop-every', '100k', '--json'], { cwd: work });
    expect(r.code).toBe(4);
    expect(r.json.error.code).toBe('MOBGET_INTEGRITY');
    expect(r.json.error.message).toMatch(/gave up after 3 restarts from zero: the server ignored Range and gave no validator/);
    const left = fs.readFileSync(path.join(work, 'small.bin'));
    expect(left.length).toBeLessThan(SMALL.length);
    expect(left.equals(SMALL.subarray(0, left.length))).toBe(true);
    // The state file stays: the download is unfinished, not done.
    expect(fs.existsSync(path.join(work, 'small.bin.mobget.json'))).toBe(true);
  }, 30_000);
});
