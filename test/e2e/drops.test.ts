/**
 * The core promise, end to end with the built binaries: mobget cuts its own
 * connection again and again and still ends with the exact file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES } from '../helpers/paths.js';
import { killAll, mobget, startServer, type ServerProcess } from '../helpers/processes.js';
import { sha256File, tempDir } from '../helpers/tmp.js';

const WORD = path.join(FIXTURES, 'word.doc');
const WORD_SHA = sha256File(WORD);

let server: ServerProcess;
let tmp: ReturnType<typeof tempDir>;

beforeAll(async () => {
  server = await startServer(['--store', 'memory']);
});
afterAll(async () => {
  await killAll();
});
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

test('--drop-every 20k on word.doc: byte-identical output, 4 drops for 100352 bytes', async () => {
  const r = await mobget(['fetch', 'word.doc', '--server', server.url, '--drop-every', '20k', '--json'], { cwd: tmp.dir });
  expect(r.code).toBe(0);
  const s = r.json;
  expect(s.bytes).toBe(100352);
  // ceil(100352 / 20480) - 1 = 4 cuts: at 20480, 40960, 61440, 81920
  expect(s.drops).toBe(4);
  expect(s.connections).toBe(5);
  expect(s.verified).toBe(true);
  expect(s.digestChecked).toBe(true);
  expect(s.sha256).toBe(WORD_SHA);
  expect(sha256File(path.join(tmp.dir, 'word.doc'))).toBe(WORD_SHA);
  // The state file is gone after success.
  expect(fs.existsSync(path.join(tmp.dir, 'word.doc.mobget.json'))).toBe(false);
  // The server saw each resume at the exact drop offset, from the client's Range.
  for (const at of [20480, 40960, 61440, 81920]) expect(server.output()).toContain(`from byte ${at} (range)`);
});

test.each([
  ['512', 195], // 100352 / 512 = 196 pieces, 195 cuts
  ['1k', 97],
  ['100000', 1],
  ['100352', 0],
])('--drop-every %s gives %i drops and the exact file', async (every, drops) => {
  const r = await mobget(['fetch', 'word.doc', '--server', server.url, '--drop-every', every, '--json', '-o', 'out.doc'], { cwd: tmp.dir });
  expect(r.code).toBe(0);
  expect(r.json.drops).toBe(drops);
  expect(sha256File(path.join(tmp.dir, 'out.doc'))).toBe(WORD_SHA);
});

test('--drop-chance with a seed is reproducible, and reconnects come from other local addresses', async () => {
  const args = ['fetch', 'word.doc', '--server', server.url, '--drop-chance', '0.3', '--seed', '42', '--json', '--local-address', '127.0.0.2,127.0.0.3,127.0.0.4'];
  const a = await mobget([...args, '-o', 'a.doc'], { cwd: tmp.dir });
  const b = await mobget([...args, '-o', 'b.doc'], { cwd: tmp.dir });
  expect(a.code).toBe(0);
  expect(b.code).toBe(0);
  expect(a.json.drops).toBeGreaterThan(0);
  expect(b.json.drops).toBe(a.json.drops);
  expect(a.json.seed).toBe(42);
  for (const f of ['a.doc', 'b.doc']) expect(sha256File(path.join(tmp.dir, f))).toBe(WORD_SHA);
  // The session does not depend on the IP address: the same client id was served from several.
  const id = a.json.clientId as string;
  const froms = new Set([...server.output().matchAll(new RegExp(`${id.slice(0, 8)} word\\.doc from byte \\d+ \\(range\\).*to (127\\.0\\.0\\.\\d+)`, 'g'))].map((m) => m[1]));
  expect(froms.size).toBeGreaterThanOrEqual(2);
});

test('--max-drops caps the simulated drops', async () => {
  const r = await mobget(['fetch', 'word.doc', '--server', server.url, '--drop-every', '1k', '--max-drops', '3', '--json'], { cwd: tmp.dir });
  expect(r.code).toBe(0);
  expect(r.json.drops).toBe(3);
  expect(sha256File(path.join(tmp.dir, 'word.doc'))).toBe(WORD_SHA);
});

test('the empty file and the one-byte file', async () => {
  for (const f of ['empty.bin', 'one-byte.bin']) {
    const r = await mobget(['fetch', f, '--server', server.url, '--drop-every', '1', '--json'], { cwd: tmp.dir });
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(tmp.dir, f))).toEqual(fs.readFileSync(path.join(FIXTURES, f)));
    expect(r.json.drops).toBe(0);
  }
});

test('usage errors exit 2 with a message; a missing file exits 3', async () => {
  const bad = await mobget(['fetch', 'word.doc', '--drop-every', 'lots'], { cwd: tmp.dir });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--drop-every/);
  const missing = await mobget(['fetch', 'nope.doc', '--server', server.url, '--json'], { cwd: tmp.dir });
  expect(missing.code).toBe(3);
  expect(missing.json.error.code).toBe('MOBGET_HTTP_STATUS');
  expect(missing.stderr).toMatch(/404/);
});
