/**
 * A full disk is a clear error, not a wrong file: mobget exits 5 with
 * "the disk is full", keeps what it wrote and its resume state, and the same
 * command finishes the download once space is free. Uses a 512 KiB tmpfs,
 * which needs root (CI runs as root); without it this test fails and says so.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { killAll, mobget, startServer } from '../helpers/processes.js';
import { sha256, tempDir } from '../helpers/tmp.js';

afterAll(killAll);

test('disk full: exit 5 and a clear message, state kept, the re-run completes after space is freed', async () => {
  const tmp = tempDir();
  const mnt = path.join(tmp.dir, 'small-disk');
  fs.mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt]);
  } catch (e) {
    throw new Error(`cannot mount a small tmpfs for the disk-full test (needs root): ${(e as Error).message}`);
  }
  try {
    const root = path.join(tmp.dir, 'root');
    fs.mkdirSync(root);
    const data = randomBytes(300 * 1024);
    fs.writeFileSync(path.join(root, 'file.bin'), data);
    const server = await startServer(['--store', 'memory', '--root', root, '-q']);
    // Leave about 100 KiB free.
    fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(400 * 1024));

    const first = await mobget(['fetch', 'file.bin', '--server', server.url, '--json'], { cwd: mnt });
    expect(first.code).toBe(5);
    expect(first.json.error.code).toBe('MOBGET_OUTPUT');
    expect(first.stderr).toMatch(/the disk is full/);
    const out = path.join(mnt, 'file.bin');
    const had = fs.statSync(out).size;
    expect(had).toBeLessThan(data.length);
    // What was written is a correct prefix, and the state to resume is there.
    expect(fs.readFileSync(out).equals(data.subarray(0, had))).toBe(true);
    expect(fs.existsSync(`${out}.mobget.json`)).toBe(true);

    fs.rmSync(path.join(mnt, 'filler'));
    const again = await mobget(['fetch', 'file.bin', '--server', server.url, '--json'], { cwd: mnt });
    expect(again.code).toBe(0);
    expect(again.json.resumedFrom).toBe(had);
    expect(sha256(fs.readFileSync(out))).toBe(sha256(data));
  } finally {
    await killAll();
    execFileSync('umount', [mnt]);
    tmp.cleanup();
  }
}, 30_000);
