#!/usr/bin/env node
// The main job, end to end on this machine: start mobserve, download
// word.doc with mobget while it drops its connection every 20 KiB, prove the
// result, then replay the seed report's curl demo. Run with `pnpm demo`
// (which builds first). Everything runs on 127.0.0.1 and stops at the end.
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256File } from './bench/lib/files.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MOBSERVE = path.join(repo, 'packages/server/dist/bin/mobserve.js');
const MOBGET = path.join(repo, 'packages/client/dist/bin/mobget.js');
const WORD = path.join(repo, 'fixtures/word.doc');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mob-demo-'));
const sha = sha256File;
const say = (s = '') => process.stdout.write(`${s}\n`);
const step = (s) => say(`\n\x1b[1m== ${s}\x1b[0m`);

for (const f of [MOBSERVE, MOBGET]) {
  if (!fs.existsSync(f)) {
    console.error(`demo: ${f} is missing; run \`pnpm demo\` (it builds first) or \`pnpm build\``);
    process.exit(1);
  }
}

step('1. mobserve: serve fixtures/ with a file-backed ledger, paced to 50 KiB/s so the drops can be watched');
const server = spawn(process.execPath, [MOBSERVE, '--port', '0', '--store', `file:${path.join(work, 'ledger')}`, '--rate', '50k'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve, reject) => {
  let buf = '';
  server.stdout.on('data', (d) => {
    for (const line of d.toString().split('\n')) if (line) say(`  [mobserve] ${line}`);
    buf += d;
    const m = /listening on (http:\/\/\S+)/.exec(buf);
    if (m) resolve(m[1]);
  });
  server.once('exit', (code) => reject(new Error(`mobserve exited with ${code}`)));
});

const runQuiet = (cmd, args) => new Promise((resolve) => spawn(cmd, args, { stdio: 'ignore' }).once('exit', resolve));
const stop = () => new Promise((resolve) => {
  if (server.exitCode !== null) return resolve();
  server.once('exit', resolve);
  server.kill('SIGTERM');
});
process.on('exit', () => server.kill('SIGKILL'));

try {
  step(`2. mobget fetch word.doc --server ${url} --drop-every 20k`);
  const out = path.join(work, 'word.doc');
  // Asynchronously, so mobserve's log lines interleave with mobget's.
  const client = spawn(process.execPath, [MOBGET, 'fetch', 'word.doc', '--server', url, '--drop-every', '20k', '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [client.stdout, client.stderr]) {
    stream.on('data', (d) => {
      for (const line of d.toString().split('\n')) if (line) say(`  [mobget]   ${line}`);
    });
  }
  const status = await new Promise((resolve) => client.once('exit', resolve));
  if (status !== 0) throw new Error(`mobget exited with ${status}`);

  step('3. proof: the download is the original, byte for byte');
  const want = sha(WORD);
  const got = sha(out);
  say(`  original   ${want}  ${fs.statSync(WORD).size} bytes`);
  say(`  downloaded ${got}  ${fs.statSync(out).size} bytes`);
  if (got !== want) throw new Error('the download differs from the original');
  say('  identical');

  step("4. the seed report's curl demo: an id, an interrupted part1, part2 from the ledger, cat");
  let curl = '';
  try {
    curl = execFileSync('sh', ['-c', 'command -v curl']).toString().trim();
  } catch {
    say('  (curl is not installed here; skipping this part: apt-get install curl)');
  }
  if (curl) {
    const hostPort = url.replace('http://', '');
    const id = execFileSync(curl, ['-s', hostPort]).toString();
    say(`  $ curl ${hostPort}\n  ${id}`);
    say(`  $ curl ${hostPort}/${id}/word.doc -o part1     (interrupted after 0.8 s)`);
    await runQuiet(curl, ['-s', '--max-time', '0.8', `${hostPort}/${id}/word.doc`, '-o', path.join(work, 'part1')]);
    say(`  $ curl ${hostPort}/${id}/word.doc -o part2`);
    await runQuiet(curl, ['-s', `${hostPort}/${id}/word.doc`, '-o', path.join(work, 'part2')]);
    const p1 = fs.readFileSync(path.join(work, 'part1'));
    const p2 = fs.readFileSync(path.join(work, 'part2'));
    fs.writeFileSync(path.join(work, 'merge.doc'), Buffer.concat([p1, p2]));
    say(`  part1 ${p1.length} bytes + part2 ${p2.length} bytes = ${p1.length + p2.length}`);
    const merged = sha(path.join(work, 'merge.doc'));
    say(`  $ cat part1 part2 > merge.doc   sha256 ${merged}`);
    if (merged !== want) throw new Error('merge.doc differs from the original');
    say('  identical');
  }
  step('5. stop mobserve (SIGTERM: progress flushed, ledger closed)');
  await stop();
  say(`\ndone; files in ${work}`);
} catch (e) {
  console.error(`demo failed: ${e.message}`);
  await stop();
  process.exit(1);
}
