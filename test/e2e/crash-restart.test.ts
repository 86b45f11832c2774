/**
 * The server is SIGKILLed in the middle of a download and restarted on the
 * same file-backed ledger: the device's id survives, and mobget's re-run
 * resumes from where it was instead of starting over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MOBGET } from '../helpers/paths.js';
import { killAll, mobget, run, startProcess, startServer } from '../helpers/processes.js';
import { sha256, tempDir } from '../helpers/tmp.js';
import { waitUntil } from '../helpers/wait.js';

afterAll(killAll);

test('SIGKILL mid-download, restart on the same store: the re-run resumes and ends byte-exact', async () => {
  const tmp = tempDir();
  try {
    const root = path.join(tmp.dir, 'root');
    const work = path.join(tmp.dir, 'work');
    fs.mkdirSync(root);
    fs.mkdirSync(work);
    const data = randomBytes(512 * 1024);
    fs.writeFileSync(path.join(root, 'big.bin'), data);
    const store = `file:${path.join(tmp.dir, 'ledger')}`;

    const first = await startServer(['--root', root, '--store', store, '--rate', '128k']);
    const out = path.join(work, 'big.bin');
    const client = startProcess(process.execPath, [MOBGET, 'fetch', 'big.bin', '--server', first.url, '--retries', '1', '--json'], { cwd: work });
    const clientExit = new Promise<number | null>((r) => client.once('exit', (code) => r(code)));
    await waitUntil(() => fs.existsSync(out) && fs.statSync(out).size > 100 * 1024, 10_000, 'the first 100 KiB');

    await first.kill('SIGKILL');
    // mobget loses the connection, cannot reconnect, and says so with exit code 3.
    expect(await clientExit).toBe(3);
    const state = JSON.parse(fs.readFileSync(`${out}.mobget.json`, 'utf8'));
    const had = fs.statSync(out).size;
    expect(had).toBeGreaterThan(100 * 1024);
    expect(had).toBeLessThan(data.length);

    const second = await startServer(['--root', root, '--store', store, '--rate', '1m', '--port', String(first.port)]);
    // The ledger came back from disk: one device, one paused file.
    expect(second.output()).toContain('(1 devices, 1 paused files)');
    const again = await mobget(['fetch', 'big.bin', '--server', second.url, '--json'], { cwd: work, timeoutMs: 30_000 });
    expect({ code: again.code, err: again.stderr, log: second.output() }).toEqual({ code: 0, err: '', log: second.output() });
    expect(again.json.resumedFrom).toBe(had);
    expect(again.json.clientId).toBe(state.clientId);
    expect(again.json.received).toBe(data.length - had);
    expect(sha256(fs.readFileSync(out))).toBe(sha256(data));
    expect(second.output()).toContain(`from byte ${had} (range)`);
  } finally {
    await killAll();
    tmp.cleanup();
  }
}, 60_000);

test('the seed demo survives a server SIGKILL between part1 and part2 (the ledger is on disk)', async () => {
  const tmp = tempDir();
  try {
    const store = `file:${path.join(tmp.dir, 'ledger')}`;
    const first = await startServer(['--store', store, '--rate', '20k']);
    const hostPort = `127.0.0.1:${first.port}`;
    const curl = 'curl';
    const id = (await run(curl, ['-s', hostPort])).stdout;
    expect(id).toHaveLength(36);
    const p1 = await run(curl, ['-s', '--max-time', '1.1', `${hostPort}/${id}/word.doc`, '-o', 'part1'], { cwd: tmp.dir });
    expect(p1.code).toBe(28);
    await first.kill('SIGKILL');
    const second = await startServer(['--store', store, '--rate', '200k', '--port', String(first.port)]);
    const p2 = await run(curl, ['-s', `${hostPort}/${id}/word.doc`, '-o', 'part2'], { cwd: tmp.dir });
    expect({ code: p2.code, log: second.output() }).toEqual({ code: 0, log: second.output() });
    const merged = Buffer.concat([fs.readFileSync(path.join(tmp.dir, 'part1')), fs.readFileSync(path.join(tmp.dir, 'part2'))]);
    expect(sha256(merged)).toBe(sha256(fs.readFileSync(path.join(__dirname, '../../fixtures/word.doc'))));
    expect(second.output()).toMatch(/resume \S+ word\.doc from byte \d+ \(ledger\)/);
  } finally {
    await killAll();
    tmp.cleanup();
  }
}, 60_000);

test('SIGTERM during a download: the server exits 0 within seconds, progress is on disk, part2 completes the file', async () => {
  const tmp = tempDir();
  try {
    const store = `file:${path.join(tmp.dir, 'ledger')}`;
    const first = await startServer(['--store', store, '--rate', '20k']);
    const hostPort = `127.0.0.1:${first.port}`;
    const id = (await run('curl', ['-s', hostPort])).stdout;
    const part1 = path.join(tmp.dir, 'part1');
    // curl runs until the server ends the transfer (exit 18: partial file).
    const p1 = run('curl', ['-s', `${hostPort}/${id}/word.doc`, '-o', part1], { cwd: tmp.dir });
    await waitUntil(() => fs.existsSync(part1) && fs.statSync(part1).size > 10_000, 10_000, 'part of the file');
    const t0 = Date.now();
    const exit = await first.kill('SIGTERM');
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(first.output()).toMatch(/stopped \S+ word\.doc at byte \d+ \(shutdown\)/);
    expect((await p1).code).toBe(18);

    const second = await startServer(['--store', store, '--rate', '1m', '--port', String(first.port)]);
    expect(second.output()).toContain('(1 devices, 1 paused files)');
    const p2 = await run('curl', ['-s', `${hostPort}/${id}/word.doc`, '-o', 'part2'], { cwd: tmp.dir });
    expect(p2.code).toBe(0);
    const merged = Buffer.concat([fs.readFileSync(part1), fs.readFileSync(path.join(tmp.dir, 'part2'))]);
    expect(sha256(merged)).toBe(sha256(fs.readFileSync(path.join(__dirname, '../../fixtures/word.doc'))));
  } finally {
    await killAll();
    tmp.cleanup();
  }
}, 60_000);
