// Every process the benchmark starts, in its own process group, and the one
// place that stops them. `stopAll()` runs in run.mjs's finally block; the
// 'exit' hook is the last resort (SIGKILL to every group still alive), so a
// crash or Ctrl-C never leaves a server listening.
import { spawn } from 'node:child_process';

const live = new Map(); // pid → ChildProcess
let shuttingDown = false;

function refuseIfShuttingDown(cmd) {
  if (shuttingDown) throw new Error(`not starting ${cmd}: the benchmark is stopping`);
}

function track(child) {
  live.set(child.pid, child);
  child.once('exit', () => live.delete(child.pid));
  return child;
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    /* the group is gone already */
  }
}

process.once('exit', () => {
  for (const pid of live.keys()) killGroup(pid, 'SIGKILL');
});

/** Stops one started process (its whole group): SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    if (child) killGroup(child.pid, 'SIGKILL'); // children it may have left behind
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  killGroup(child.pid, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  killGroup(child.pid, 'SIGKILL'); // nginx workers, if the master went first
}

export async function stopAll() {
  await Promise.all([...live.values()].map((c) => stop(c)));
}

/** After a signal: start nothing new, stop everything running. */
export async function shutdown() {
  shuttingDown = true;
  await stopAll();
}

/**
 * Starts a long-running server and waits for `ready(stdoutSoFar)` to return
 * a value (for example the URL it printed), or for `probe()` to resolve truthy.
 */
export async function startServer(name, cmd, args, { ready, probe, timeoutMs = 15_000, env } = {}) {
  refuseIfShuttingDown(name);
  const child = track(spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited early (${child.exitCode ?? child.signalCode}): ${err.trim() || out.trim()}`);
      const got = ready ? ready(out.replace(/\x1b\[[0-9;]*m/g, '')) : await probe();
      if (got) {
        // Drop what it prints from now on (a quiet server prints nothing anyway).
        child.stdout.removeAllListeners('data').resume();
        return { child, value: got, stderr: () => err };
      }
      if (Date.now() > deadline) throw new Error(`${name} did not start within ${timeoutMs} ms: ${err.trim() || out.trim()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } catch (e) {
    await stop(child);
    throw e;
  }
}

/** Runs a command to completion; resolves with its exit status, output and wall time. */
export function run(cmd, args, { timeoutMs = 600_000, env } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let child;
    try {
      refuseIfShuttingDown(cmd);
      child = track(spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env }));
    } catch (e) {
      reject(e);
      return;
    }
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Like run(), but a non-zero exit is an error that quotes the command's stderr. */
export async function runOk(cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${[cmd, ...args].join(' ')} exited with ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
  return r;
}
