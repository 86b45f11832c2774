/**
 * `mobget swarm`: a fleet of simulated phones against a real mobserve, each
 * with its own random drops. Every device must verify the exact file; the
 * summary and the exit code must say so, or say which device failed and why.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { swarm, type SwarmStats } from '@mobserve/client';
import { FIXTURES } from '../helpers/paths.js';
import { killAll, mobget, startServer, type ServerProcess } from '../helpers/processes.js';
import { sha256File, tempDir } from '../helpers/tmp.js';

const WORD_SHA = sha256File(path.join(FIXTURES, 'word.doc'));

let server: ServerProcess;
let tmp: ReturnType<typeof tempDir>;

beforeAll(async () => {
  server = await startServer(['--store', 'memory', '--root', FIXTURES]);
});
afterAll(async () => {
  await killAll();
});
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

test('swarm(): 200 devices with random drops, every file exact, stats along the way', async () => {
  const seen: SwarmStats[] = [];
  const dir = path.join(tmp.dir, 'fleet');
  const s = await swarm({ target: 'word.doc', server: server.url, devices: 200, dropChance: 0.2, seed: 7, outputDir: dir, onStats: (x) => seen.push(x), statsIntervalMs: 50 });
  expect(s.verified).toBe(200);
  expect(s.failed).toBe(0);
  expect(s.sha256).toBe(WORD_SHA);
  expect(s.distinctSha256).toBe(1);
  expect(s.digestChecked).toBe(true);
  expect(s.drops).toBeGreaterThan(100);
  // Every drop is followed by exactly one resume (no network errors on loopback).
  expect(s.resumes).toBe(s.drops + s.networkErrors);
  // The files stay (an output folder was given), and each one is the real file.
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('word.doc'));
  expect(files).toHaveLength(200);
  for (const f of files.slice(0, 20)) expect(sha256File(path.join(dir, f))).toBe(WORD_SHA);
  const last = seen.at(-1)!;
  expect(last.done).toBe(200);
  expect(last.drops).toBe(s.drops);
  expect(last.resumes).toBe(s.resumes);
});

test('the same seed replays the same drops', async () => {
  const a = await swarm({ target: 'word.doc', server: server.url, devices: 20, dropChance: 0.3, seed: 99 });
  const b = await swarm({ target: 'word.doc', server: server.url, devices: 20, dropChance: 0.3, seed: 99 });
  expect(a.drops).toBe(b.drops);
  expect(a.verified).toBe(20);
  // Without an output folder the temporary one is removed.
  expect(fs.existsSync(a.outputDir)).toBe(false);
});

test('the CLI: --json summary, exit 0, temporary files removed', async () => {
  const r = await mobget(['swarm', '--devices', '50', 'word.doc', '--server', server.url, '--drop-every', '30k', '--json'], { cwd: tmp.dir });
  expect(r.code).toBe(0);
  expect(r.json.verified).toBe(50);
  expect(r.json.drops).toBe(50 * 3); // 100352 bytes: cuts at 30k, 60k, 90k
  expect(r.json.sha256).toBe(WORD_SHA);
  expect(fs.existsSync(r.json.outputDir)).toBe(false);
});

test('the CLI without --json: one summary, live lines on stderr', async () => {
  const r = await mobget(['swarm', '-n', '30', 'word.doc', '-s', server.url], { cwd: tmp.dir });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/30 of 30 devices verified/);
  expect(r.stdout).toContain(`sha256 ${WORD_SHA} (every device)`);
  expect(r.stderr).toMatch(/devices 30\/30 done · drops \d+ · resumes\/s \d+ · failures 0/);
});

test('a file the server does not have: every device fails, exit 3, the reason named', async () => {
  const r = await mobget(['swarm', '-n', '5', 'no-such-file.bin', '-s', server.url, '--json'], { cwd: tmp.dir });
  expect(r.code).toBe(3);
  expect(r.json.verified).toBe(0);
  expect(r.json.failed).toBe(5);
  expect(r.json.failures[0].code).toBe('MOBGET_HTTP_STATUS');
});

test('bad --devices is a usage error (exit 2)', async () => {
  for (const n of ['0', 'x', '-3']) {
    const r = await mobget(['swarm', '--devices', n, 'word.doc', '--json'], { cwd: tmp.dir });
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('MOBGET_USAGE');
  }
});
