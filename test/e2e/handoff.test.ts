/**
 * Handoff between servers (issue 6): mobserve instances on different ports
 * share one ledger in Redis, and a device that drops comes back through
 * another one. The Redis address comes from MOBSERVE_TEST_REDIS, which
 * `pnpm test` sets (scripts/with-redis.mjs); without it this suite fails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES } from '../helpers/paths.js';
import { killAll, mobget, run, startServer } from '../helpers/processes.js';
import { sha256, sha256File, tempDir } from '../helpers/tmp.js';

const REDIS = process.env.MOBSERVE_TEST_REDIS;
const WORD = fs.readFileSync(path.join(FIXTURES, 'word.doc'));

function store(db: number): string {
  if (!REDIS) throw new Error('MOBSERVE_TEST_REDIS is not set: run the suite with `pnpm test`, or `node scripts/with-redis.mjs npx jest test/e2e/handoff.test.ts`');
  return `${REDIS.replace(/\/\d*$/, '')}/${db}`;
}

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir()));
afterEach(async () => {
  await killAll();
  tmp.cleanup();
});

test('mobget hands off between two instances after every drop: one ID, byte-identical', async () => {
  const a = await startServer(['--store', store(5)]);
  const b = await startServer(['--store', store(5)]);
  const r = await mobget(['fetch', 'word.doc', '--server', a.url, '--server', b.url, '--drop-every', '20k', '--json'], { cwd: tmp.dir });
  expect(r.code).toBe(0);
  expect(r.json.drops).toBe(4);
  expect(sha256File(path.join(tmp.dir, 'word.doc'))).toBe(sha256(WORD));
  const id = (r.json.clientId as string).slice(0, 8);
  // One handshake, on A; B knew the ID from the shared ledger.
  expect((a.output() + b.output()).match(/new client/g)).toHaveLength(1);
  expect(a.output()).toMatch(new RegExp(`send ${id} word\\.doc from byte 0 \\(range\\)`));
  expect(b.output()).toMatch(new RegExp(`resume ${id} word\\.doc from byte 20480 \\(range\\)`));
  expect(a.output()).toMatch(new RegExp(`resume ${id} word\\.doc from byte 40960 \\(range\\)`));
}, 30_000);

test("the seed's curl demo across instances: part1 from A, part2 from B, cat equals the original", async () => {
  const a = await startServer(['--store', store(6), '--rate', '20k']);
  const b = await startServer(['--store', store(6)]);
  const id = (await run('curl', ['-s', `127.0.0.1:${a.port}`])).stdout;
  expect(id).toHaveLength(36);
  const p1 = await run('curl', ['-s', '--max-time', '1.3', `127.0.0.1:${a.port}/${id}/word.doc`, '-o', 'part1'], { cwd: tmp.dir });
  expect(p1.code).toBe(28);
  await new Promise((r) => setTimeout(r, 100)); // A records the drop
  const p2 = await run('curl', ['-s', `127.0.0.1:${b.port}/${id}/word.doc`, '-o', 'part2'], { cwd: tmp.dir });
  expect(p2.code).toBe(0);
  const part1 = fs.readFileSync(path.join(tmp.dir, 'part1'));
  expect(part1.length).toBeGreaterThan(0);
  expect(b.output()).toContain(`resume ${id.slice(0, 8)} word.doc from byte ${part1.length} (ledger)`);
  expect(Buffer.concat([part1, fs.readFileSync(path.join(tmp.dir, 'part2'))]).equals(WORD)).toBe(true);
}, 30_000);

test('one instance SIGKILLed mid-download: the client goes on with the other and finishes byte-exact', async () => {
  const root = path.join(tmp.dir, 'root');
  fs.mkdirSync(root);
  const big = Buffer.alloc(1024 * 1024, 7);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
  fs.writeFileSync(path.join(root, 'big.bin'), big);
  const a = await startServer(['--store', store(7), '--root', root, '--rate', '256k']);
  const b = await startServer(['--store', store(7), '--root', root, '--rate', '4m']);
  const client = mobget(['fetch', 'big.bin', '--server', a.url, '--server', b.url, '--retries', '5', '--json'], { cwd: tmp.dir });
  const out = path.join(tmp.dir, 'big.bin');
  const until = Date.now() + 10_000;
  while (!(fs.existsSync(out) && fs.statSync(out).size > 200_000) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  await a.kill('SIGKILL');
  const r = await client;
  expect(r.code).toBe(0);
  expect(r.json.networkErrors).toBeGreaterThanOrEqual(1);
  expect(sha256File(out)).toBe(sha256(big));
  expect(b.output()).toMatch(/resume \S+ big\.bin from byte \d+ \(range\)/);
  expect((a.output() + b.output()).match(/new client/g)).toHaveLength(1);
}, 30_000);

test('--workers 2: two processes share the port and the Redis ledger; downloads with drops end byte-identical', async () => {
  const server = await startServer(['--store', store(8), '--workers', '2']);
  await server.waitFor(/worker \d+ listening on[^\n]*\n[\s\S]*worker \d+ listening on/);
  const ports = [...server.output().matchAll(/worker (\d+) listening on http:\/\/127\.0\.0\.1:(\d+)/g)];
  expect(new Set(ports.map((m) => m[1])).size).toBe(2);
  expect(new Set(ports.map((m) => m[2]))).toEqual(new Set([String(server.port)]));
  const runs = await Promise.all(
    Array.from({ length: 6 }, (_, i) => mobget(['fetch', 'word.doc', '--server', server.url, '--drop-chance', '0.3', '--seed', String(i + 1), '-o', `w${i}.doc`, '--json'], { cwd: tmp.dir })),
  );
  for (const [i, r] of runs.entries()) {
    expect(r.code).toBe(0);
    expect(sha256File(path.join(tmp.dir, `w${i}.doc`))).toBe(sha256(WORD));
  }
  // SIGTERM reaches the workers through the primary, which then exits 0.
  expect((await server.kill('SIGTERM')).code).toBe(0);
}, 30_000);
