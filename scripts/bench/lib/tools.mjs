// The programs the benchmark drives (nginx, wrk, curl, wget): found on PATH
// or in the sbin directories, installed with apt-get when missing (as root on
// Debian), or a clear message saying what to install.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

/** program → Debian package. */
const NEEDED = { nginx: 'nginx', wrk: 'wrk', curl: 'curl', wget: 'wget', 'redis-server': 'redis-server' };
const SEARCH_PATH = [process.env.PATH ?? '', '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean).join(':');

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { env: { ...process.env, PATH: SEARCH_PATH } }).toString().trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Returns { nginx: '/usr/sbin/nginx', wrk: ..., curl: ..., wget: ... } or throws with what to install. */
export function ensureTools(log) {
  let missing = Object.keys(NEEDED).filter((c) => !which(c));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((c) => NEEDED[c]))];
    if (process.getuid?.() !== 0 || !which('apt-get')) {
      throw new Error(`missing ${missing.join(', ')}; install the Debian packages: apt-get install ${pkgs.join(' ')} (or run the benchmark as root on Debian and it will)`);
    }
    log(`installing ${pkgs.join(' ')} with apt-get`);
    // Debian's nginx package starts a system nginx on port 80 unless
    // policy-rc.d forbids it (Docker images do); our nginx is our own anyway.
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'], env });
    missing = Object.keys(NEEDED).filter((c) => !which(c));
    if (missing.length > 0) throw new Error(`still missing after apt-get install: ${missing.join(', ')}`);
  }
  return Object.fromEntries(Object.keys(NEEDED).map((c) => [c, which(c)]));
}

function firstLine(cmd, args, re) {
  try {
    // nginx -v and wrk -v print to stderr (wrk also exits 1).
    const out = execFileSync('sh', ['-c', `"$0" "$@" 2>&1; true`, cmd, ...args]).toString();
    const m = re.exec(out);
    return m ? m[1] : out.split('\n')[0].trim();
  } catch (e) {
    return `unknown (${e.message})`;
  }
}

export function versions(tools) {
  return {
    node: process.version,
    nginx: firstLine(tools.nginx, ['-v'], /nginx\/(\S+)/),
    curl: firstLine(tools.curl, ['--version'], /^curl (\S+)/),
    wget: firstLine(tools.wget, ['--version'], /^GNU Wget (\S+)/),
    wrk: firstLine(tools.wrk, ['-v'], /^wrk (\S+)/),
  };
}

export function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    /* not Linux */
  }
  return {
    cpu,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
