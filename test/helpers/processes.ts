/**
 * Real processes for end-to-end tests: the built mobserve and mobget
 * binaries. Every process started here is killed by `killAll()` (call it in
 * afterEach/afterAll), so a failing test leaves nothing running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { MOBGET, MOBSERVE } from './paths.js';

const running = new Set<ChildProcess>();
/** Children started as process-group leaders (nginx and its workers, squid, …), with the signal that stops them: killed as a group. */
const groups = new Map<ChildProcess, NodeJS.Signals>();

function signalGroup(p: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-p.pid!, signal);
  } catch {
    // ESRCH: the whole group is gone already.
  }
}

function exited(p: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    p.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Stops a process-group leader and everything in its group: its stop signal
 * (SIGTERM by default: nginx's master then stops and reaps its workers), then
 * SIGKILL to the group after `graceMs` or once the leader is gone, for any
 * straggler.
 */
export async function stopGroup(p: ChildProcess, graceMs = 3000): Promise<void> {
  if (p.pid === undefined) return;
  signalGroup(p, groups.get(p) ?? 'SIGTERM');
  if (!(await exited(p, graceMs))) signalGroup(p, 'SIGKILL');
  await exited(p, graceMs);
  signalGroup(p, 'SIGKILL');
  groups.delete(p);
  running.delete(p);
}

export async function killAll(): Promise<void> {
  const all = [...running];
  await Promise.all(
    all.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (groups.has(p)) return void stopGroup(p).then(resolve);
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGKILL');
        }),
    ),
  );
  running.clear();
}

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  port: number;
  /** Everything printed so far. */
  output(): string;
  /** Resolves when a line matching `re` has been printed. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startServer(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<ServerProcess> {
  const proc = spawn(process.execPath, [MOBSERVE, '--port', '0', ...args], {
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));

  const waitFor = (re: RegExp, timeoutMs = 20_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in server output:\n${out}`)), timeoutMs);
      const check = () => {
        const m = re.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        } else if (proc.exitCode !== null) {
          clearTimeout(timer);
          reject(new Error(`server exited (${proc.exitCode}) before printing ${re}:\n${out}`));
        } else waiters.push(check);
      };
      check();
      proc.once('exit', () => waiters.push(check) && check());
    });

  return waitFor(/listening on (http:\/\/[^\s]+)/).then((line) => {
    const url = /http:\/\/[^\s]+/.exec(line)![0];
    return {
      proc,
      url,
      port: Number(new URL(url).port),
      output: () => out,
      waitFor,
      kill(signal: NodeJS.Signals = 'SIGTERM') {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        return exited;
      },
    };
  });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON. */
  json: any;
}

/** Runs a command to completion (bounded by timeoutMs, then SIGKILL). */
export function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const proc = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, NO_COLOR: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d) => (stdout += d));
    proc.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    // 'close', not 'exit': the exit can be reported before the last of
    // stdout is read, and a loaded machine made `json` undefined that way.
    proc.once('close', (code) => {
      clearTimeout(timer);
      running.delete(proc);
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

export function mobget(args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return run(process.execPath, [MOBGET, ...args], opts);
}

/**
 * Starts a long-running command and hands it back (killed by killAll). With
 * `group`, it leads a process group of its own, and killAll stops the whole
 * group (a daemon's workers and helpers too) with `stopSignal` (default
 * SIGTERM), then SIGKILL.
 */
export function startProcess(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; group?: boolean; stopSignal?: NodeJS.Signals } = {}): ChildProcess {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, NO_COLOR: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.group === true });
  running.add(proc);
  if (opts.group) groups.set(proc, opts.stopSignal ?? 'SIGTERM');
  return proc;
}
