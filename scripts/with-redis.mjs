#!/usr/bin/env node
// Runs a command with a private redis-server: `node scripts/with-redis.mjs jest ...`.
// The server listens on a free loopback port, keeps nothing on disk
// (--save '' --appendonly no, its dir a fresh temp folder), and is stopped
// when the command ends, fails, or we get a signal. The command sees
// MOBSERVE_TEST_REDIS=redis://127.0.0.1:PORT and its exit code is ours.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './bench/lib/net.mjs';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: node scripts/with-redis.mjs <command> [args...]');
  process.exit(2);
}

const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => fs.existsSync(p)) ?? 'redis-server';

/** Resolves once redis answers PING on the port, rejects if it exits first or takes too long. */
const waitReady = (port, redis) =>
  new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    let gone = false;
    redis.once('exit', (code) => {
      gone = true;
      reject(new Error(`redis-server exited (${code}) before it was ready`));
    });
    const attempt = () => {
      if (gone) return;
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => sock.write('PING\r\n'));
      sock.once('data', (d) => {
        sock.destroy();
        if (d.toString().startsWith('+PONG')) resolve();
        else retry();
      });
      sock.once('error', retry);
    };
    const retry = () => {
      if (Date.now() > deadline) reject(new Error('redis-server did not answer within 10 s'));
      else setTimeout(attempt, 50);
    };
    attempt();
  });

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mobserve-redis-'));
let redis;
let child;
const stop = () => {
  if (redis && redis.exitCode === null && redis.signalCode === null) redis.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', stop);

/** Stops redis, waits (up to 5 s) until it is gone, and exits with `code`. */
const finish = (code) => {
  if (!redis || redis.exitCode !== null || redis.signalCode !== null) process.exit(code);
  redis.once('exit', () => process.exit(code));
  setTimeout(() => process.exit(code), 5000).unref();
  redis.kill('SIGTERM');
};

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    child?.kill(sig);
    finish(128 + os.constants.signals[sig]);
  });
}

try {
  const port = await freePort();
  redis = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', path.join(dir, 'redis.log')],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  redis.once('error', (e) => {
    console.error(`with-redis: cannot start ${REDIS_SERVER}: ${e.message} (install the Debian package redis-server; node scripts/ensure-tools.mjs does it as root)`);
    process.exit(1);
  });
  await waitReady(port, redis);
  const url = `redis://127.0.0.1:${port}`;
  console.error(`with-redis: redis-server on ${url}`);
  child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, MOBSERVE_TEST_REDIS: url }, shell: false });
  child.once('error', (e) => {
    console.error(`with-redis: cannot run ${cmd}: ${e.message}`);
    process.exit(127);
  });
  child.once('exit', (code, signal) => finish(code ?? 128 + (os.constants.signals[signal] ?? 0)));
} catch (e) {
  let log = '';
  try {
    log = fs.readFileSync(path.join(dir, 'redis.log'), 'utf8');
  } catch {}
  console.error(`with-redis: ${e.message}\n${log}`);
  process.exit(1);
}
