/**
 * The seed report's own demonstration, with curl, against mobserve:
 *   curl HOST:PORT                          → a client id
 *   curl HOST:PORT/<id>/word.doc -o part1   → interrupted
 *   curl HOST:PORT/<id>/word.doc -o part2   → the rest, from the ledger
 *   cat part1 part2 == word.doc
 * The server is paced with --rate, as the seed paced itself with sleep().
 * curl is interrupted with --max-time: curl then ends through its own exit
 * path and writes everything it received. (On Ctrl-C curl loses what it
 * holds in its output buffer, which no server can see; docs/DESIGN.md.)
 * curl must be installed: `pnpm test` installs it (scripts/ensure-tools.mjs).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES } from '../helpers/paths.js';
import { killAll, run, startServer } from '../helpers/processes.js';
import { sha256File, tempDir } from '../helpers/tmp.js';

const WORD = fs.readFileSync(path.join(FIXTURES, 'word.doc'));

function curlPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v curl']).toString().trim();
  } catch {
    throw new Error('curl is not installed; `pnpm test` installs it through scripts/ensure-tools.mjs (apt-get install curl)');
  }
}

afterAll(killAll);

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir()));
afterEach(() => tmp.cleanup());

test.each([0.7, 1.3, 2.05])('the seed demo, interrupted after %f s, concatenates to the original', async (seconds) => {
  const curl = curlPath();
  const server = await startServer(['--store', 'memory', '--rate', '20k']);
  const hostPort = `127.0.0.1:${server.port}`;
  const id = (await run(curl, ['-s', hostPort])).stdout;
  expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  const p1 = await run(curl, ['-s', '--max-time', String(seconds), `${hostPort}/${id}/word.doc`, '-o', 'part1'], { cwd: tmp.dir });
  expect(p1.code).toBe(28); // curl: operation timed out
  const part1 = fs.readFileSync(path.join(tmp.dir, 'part1'));
  expect(part1.length).toBeGreaterThan(0);
  expect(part1.length).toBeLessThan(WORD.length);

  const p2 = await run(curl, ['-s', '-D', 'headers.txt', `${hostPort}/${id}/word.doc`, '-o', 'part2'], { cwd: tmp.dir });
  expect(p2.code).toBe(0);
  const headers = fs.readFileSync(path.join(tmp.dir, 'headers.txt'), 'latin1');
  expect(headers).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  expect(headers).toContain(`Mob-Resume-From: ${part1.length}\r\n`);
  expect(headers).toContain(`Content-Length: ${WORD.length - part1.length}\r\n`);

  const merged = Buffer.concat([part1, fs.readFileSync(path.join(tmp.dir, 'part2'))]);
  expect(merged.length).toBe(WORD.length);
  expect(merged.equals(WORD)).toBe(true);
  expect(server.output()).toMatch(/drop/);
}, 30_000);

test('curl -C - (which sends Range) resumes exactly on the client-id path', async () => {
  const curl = curlPath();
  const server = await startServer(['--store', 'memory', '--rate', '40k']);
  const hostPort = `127.0.0.1:${server.port}`;
  const id = (await run(curl, ['-s', hostPort])).stdout;
  const first = await run(curl, ['-s', '--max-time', '1', `${hostPort}/${id}/word.doc`, '-o', 'word.doc'], { cwd: tmp.dir });
  expect(first.code).toBe(28);
  const had = fs.statSync(path.join(tmp.dir, 'word.doc')).size;
  const second = await run(curl, ['-s', '-C', '-', `${hostPort}/${id}/word.doc`, '-o', 'word.doc'], { cwd: tmp.dir });
  expect(second.code).toBe(0);
  expect(sha256File(path.join(tmp.dir, 'word.doc'))).toBe(sha256File(path.join(FIXTURES, 'word.doc')));
  expect(server.output()).toContain(`from byte ${had} (range)`);
}, 30_000);
