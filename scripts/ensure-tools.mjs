#!/usr/bin/env node
// Makes sure the programs the test suite drives for real are installed.
// On a fresh Debian machine, as root, it installs what is missing with
// apt-get; otherwise it says exactly what to install and fails (a test that
// needs a missing tool must fail loudly, never pass or skip in silence).
import { execFileSync } from 'node:child_process';

// program on PATH → Debian package that provides it. curl, wget and aria2c
// are the clients test/e2e/interop-clients drives against mobserve; nginx and
// python3 (http.server) are the servers of test/e2e/interop-servers; nginx and
// squid are the proxies of test/e2e/proxies. redis-server (/usr/bin) backs the
// RedisStore tests, started privately by scripts/with-redis.mjs.
const NEEDED = { curl: 'curl', wget: 'wget', aria2c: 'aria2', nginx: 'nginx', squid: 'squid', python3: 'python3', 'redis-server': 'redis-server' };

// nginx and squid live in /usr/sbin, which a non-root PATH often lacks; the
// tests look there too (test/helpers/system-tools.ts).
const SEARCH_PATH = [process.env.PATH ?? '', '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean).join(':');

const has = (cmd) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore', env: { ...process.env, PATH: SEARCH_PATH } });
    return true;
  } catch {
    return false;
  }
};

const missing = Object.entries(NEEDED).filter(([cmd]) => !has(cmd));
if (missing.length === 0) process.exit(0);
const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
const isRoot = process.getuid?.() === 0;
if (!isRoot || !has('apt-get')) {
  console.error(`ensure-tools: missing ${missing.map(([c]) => c).join(', ')}; install the Debian packages: ${pkgs.join(' ')}`);
  process.exit(1);
}
console.error(`ensure-tools: installing ${pkgs.join(' ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
const still = missing.filter(([cmd]) => !has(cmd));
if (still.length > 0) {
  console.error(`ensure-tools: still missing after install: ${still.map(([c]) => c).join(', ')}`);
  process.exit(1);
}
