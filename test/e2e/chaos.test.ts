/**
 * Chaos: hundreds of downloads at once through a proxy of ours that cuts
 * connections (RST or FIN) at random byte offsets in both directions, stalls
 * them (some longer than mobget's timeout), and half-closes them
 * (test/helpers/chaos-proxy.ts). Every output must be byte-identical to its
 * source, every kind of fault must actually have fired, and afterwards the
 * built server must be alive, back at its baseline of open descriptors, and
 * within a memory bound.
 *
 * First the proxy itself: each fault, pinned, does exactly what it says.
 *
 * CI mode: 200 session downloads (0 B, 1 B, 100 KiB and 4 MiB files, a
 * quarter each, every fifth with mobget's own --drop-chance too) plus 40
 * plain-URL ones, well under a minute on 2 cores.
 * Soak: `CHAOS_DOWNLOADS=2000 CHAOS_SEED=7 jest test/e2e/chaos.test.ts`
 * (`pnpm run soak`); at most CHAOS_CONCURRENCY (default 400) run at once.
 * CHAOS_DEBUG=1 prints the event trail of the slowest downloads.
 *
 * The proxy's decisions are seeded per accepted connection; which download
 * gets which connection depends on timing, so a failing seed narrows a
 * problem down but does not replay it packet for packet.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { download, type DownloadEvent, type DownloadOptions, type DownloadSummary } from '@mobserve/client';
import { FAULT_KINDS, planConnection, startChaosProxy, type ChaosProxy, type ChaosStats, type ConnectionPlan } from '../helpers/chaos-proxy.js';
import { killAll, startServer, type ServerProcess } from '../helpers/processes.js';
import { request } from '../helpers/raw-http.js';
import { sha256, tempDir } from '../helpers/tmp.js';

function envInt(name: string, fallback: number, min: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be a whole number >= ${min}`);
  return v;
}
const SEED = envInt('CHAOS_SEED', 20_240_611, 0);
const DOWNLOADS = envInt('CHAOS_DOWNLOADS', 200, 4);
const PLAIN_DOWNLOADS = Math.max(20, Math.round(DOWNLOADS / 5));
const CONCURRENCY = Math.min(DOWNLOADS, envInt('CHAOS_CONCURRENCY', 400, 1));
/** The client's silence timeout; long stalls outlast it. */
const TIMEOUT_MS = 2000;
const LONG_STALL_MS = 3000;

const FILES: Record<string, Buffer> = {
  'empty.bin': Buffer.alloc(0),
  'one.bin': randomBytes(1),
  'small.bin': randomBytes(100 * 1024),
  'big.bin': randomBytes(4 * 1024 * 1024),
};
const NAMES = Object.keys(FILES);
const SHA = Object.fromEntries(NAMES.map((n) => [n, sha256(FILES[n]!)]));

let server: ServerProcess;
let root: ReturnType<typeof tempDir>;
let outDir: ReturnType<typeof tempDir>;
let proxy: ChaosProxy | undefined;

function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** The server's fd count once the warm-up's sockets have gone (two equal readings in a row). */
async function settledFds(pid: number): Promise<number> {
  let prev = openFds(pid);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = openFds(pid);
    if (now === prev) return now;
    prev = now;
  }
  return prev;
}

function statusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Waits (up to `ms`) for `ok()`; returns its last value. */
async function poll<T>(read: () => T, ok: (v: T) => boolean, ms: number): Promise<T> {
  const until = Date.now() + ms;
  let v = read();
  while (!ok(v) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    v = read();
  }
  return v;
}

interface Job {
  i: number;
  name: string;
  options: DownloadOptions;
}

interface Outcome {
  job: Job;
  summary?: DownloadSummary;
  error?: unknown;
  /** The last events, for the failure message. */
  trail: string[];
}

/** Runs the jobs, at most `limit` at once; a job still running at `deadline` is reported, not awaited. */
async function runAll(jobs: Job[], limit: number, deadlineMs: number): Promise<Outcome[]> {
  const outcomes: Outcome[] = jobs.map((job) => ({ job, trail: [] }));
  const running = new Set<number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const o = outcomes[next++]!;
      running.add(o.job.i);
      const onEvent = (e: DownloadEvent) => {
        if (e.type === 'progress') return;
        o.trail.push(`${(performance.now() / 1000).toFixed(2)} ${JSON.stringify(e)}`);
        if (o.trail.length > (process.env.CHAOS_DEBUG ? 60 : 12)) o.trail.shift();
      };
      try {
        o.summary = await download({ ...o.job.options, onEvent });
      } catch (e) {
        o.error = e;
      }
      running.delete(o.job.i);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), deadlineMs)));
  const late = await Promise.race([Promise.all(Array.from({ length: limit }, worker)), deadline]);
  clearTimeout(timer);
  if (late === 'late') {
    for (const i of running) outcomes[i]!.error = new Error(`still running after ${deadlineMs} ms`);
  }
  return outcomes;
}

/** Every download verified, with the source's SHA-256 and bytes; returns totals. */
function checkOutcomes(outcomes: Outcome[]): { bytes: number; reconnects: number; networkErrors: number; drops: number; restarts: number } {
  const failed = outcomes.filter((o) => o.summary === undefined || o.error !== undefined);
  const report = failed.slice(0, 5).map((o) => `#${o.job.i} ${o.job.name}: ${String(o.error)}\n  ${o.trail.join('\n  ')}`);
  expect({ failed: failed.length, report }).toEqual({ failed: 0, report: [] });
  let bytes = 0;
  let reconnects = 0;
  let networkErrors = 0;
  let drops = 0;
  let restarts = 0;
  for (const { job, summary } of outcomes) {
    const s = summary!;
    expect({ i: job.i, verified: s.verified, sha256: s.sha256, bytes: s.bytes }).toEqual({ i: job.i, verified: true, sha256: SHA[job.name], bytes: FILES[job.name]!.length });
    const onDisk = fs.readFileSync(s.output);
    if (!onDisk.equals(FILES[job.name]!)) throw new Error(`#${job.i} ${job.name}: ${s.output} differs from the source (${onDisk.length} bytes, sha ${sha256(onDisk)})`);
    expect(fs.existsSync(`${s.output}.mobget.json`)).toBe(false);
    bytes += s.bytes;
    reconnects += s.reconnects;
    networkErrors += s.networkErrors;
    drops += s.drops;
    restarts += s.restarts;
  }
  // The files never change, so every reconnect must resume where it stopped:
  // a restart from byte 0 would mean mobget saw a response it could not trust.
  expect(restarts).toBe(0);
  return { bytes, reconnects, networkErrors, drops, restarts };
}

/** After the proxy is gone: the server holds no socket or file it did not hold before, and still answers. */
async function checkServerClean(baseline: number): Promise<{ fds: number; hwmKiB: number }> {
  const pid = server.proc.pid!;
  const fds = await poll(
    () => openFds(pid),
    (n) => n <= baseline + 2,
    8000,
  );
  expect({ fds, baseline, withinTwo: Math.abs(fds - baseline) <= 2 }).toEqual({ fds, baseline, withinTwo: true });
  expect(server.proc.exitCode).toBeNull();
  expect(server.proc.signalCode).toBeNull();
  // --quiet prints only internal errors (a thrown handler, a failed accept): none.
  expect(server.output().split('\n').filter((l) => /! \w+ error/.test(l))).toEqual([]);
  const after = await request(server.port, '/small.bin', { Range: 'bytes=0-9' });
  expect(after.status).toBe(206);
  expect(after.body.equals(FILES['small.bin']!.subarray(0, 10))).toBe(true);
  const hwmKiB = statusKiB(pid, 'VmHWM');
  expect(hwmKiB).toBeLessThan(300 * 1024);
  return { fds, hwmKiB };
}

/** Closes the proxy; every socket it held must have closed (none leaked in the test process either). */
async function closeProxy(): Promise<void> {
  const p = proxy!;
  proxy = undefined;
  await p.close();
  expect(p.stats().liveSockets).toBe(0);
  expect(p.stats().open).toBe(0);
}

function faultLine(st: ChaosStats): string {
  return FAULT_KINDS.map((k) => `${k}=${st.faults[k]}`).join(' ') + ` (long stalls ${st.longStalls}, RST ${st.resets})`;
}

interface Observed {
  /** What reached the client, and how its connection ended. */
  down: Buffer;
  clientSaw: Array<'end' | 'close' | string>;
  /** What reached the upstream server, and how its connection ended. */
  up: Buffer;
  upstreamSaw: Array<'end' | 'close' | string>;
  /** Longest silence between two chunks the client got (ms). */
  gapMs: number;
}

/**
 * One connection through a proxy with a fixed plan: the upstream sends
 * `down` and FINs; the client sends `up`, and when its side is FINed it
 * sends `tail` and FINs too (so a half-close shows whether the other
 * direction still flows).
 */
async function observe(plan: ConnectionPlan, down: Buffer, up: Buffer, tail: Buffer): Promise<Observed> {
  const o: Observed = { down: Buffer.alloc(0), clientSaw: [], up: Buffer.alloc(0), upstreamSaw: [], gapMs: 0 };
  let upstreamClosed!: () => void;
  const upstreamDone = new Promise<void>((r) => (upstreamClosed = r));
  const upstream = net.createServer({ allowHalfOpen: true }, (sock) => {
    sock.on('data', (d: Buffer) => (o.up = Buffer.concat([o.up, d])));
    sock.on('end', () => o.upstreamSaw.push('end'));
    sock.on('error', (e: NodeJS.ErrnoException) => o.upstreamSaw.push(e.code ?? 'error'));
    sock.on('close', () => {
      o.upstreamSaw.push('close');
      upstreamClosed();
    });
    sock.end(down);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const p = await startChaosProxy({ target: { host: '127.0.0.1', port: (upstream.address() as net.AddressInfo).port }, seed: 0, plan: () => plan });
  try {
    await new Promise<void>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port: p.port, allowHalfOpen: true });
      let last = 0;
      c.on('connect', () => c.write(up));
      c.on('data', (d: Buffer) => {
        const now = performance.now();
        if (last > 0) o.gapMs = Math.max(o.gapMs, now - last);
        last = now;
        o.down = Buffer.concat([o.down, d]);
      });
      c.on('end', () => {
        o.clientSaw.push('end');
        c.end(tail);
      });
      c.on('error', (e: NodeJS.ErrnoException) => o.clientSaw.push(e.code ?? 'error'));
      c.on('close', () => {
        o.clientSaw.push('close');
        resolve();
      });
    });
    await Promise.race([upstreamDone, new Promise((r) => setTimeout(r, 2000))]);
  } finally {
    await p.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
  expect(p.stats().liveSockets).toBe(0);
  return o;
}

describe('the chaos proxy', () => {
  const DOWN = randomBytes(300 * 1024);
  const UP = Buffer.from('GET /x HTTP/1.1\r\nHost: h\r\n\r\n');
  const TAIL = Buffer.from('after');

  test('draws the same faults for the same seed and connection order', () => {
    const a = Array.from({ length: 50 }, (_, i) => planConnection(SEED, i));
    const b = Array.from({ length: 50 }, (_, i) => planConnection(SEED, i));
    expect(a).toEqual(b);
    expect(Array.from({ length: 50 }, (_, i) => planConnection(SEED + 1, i))).not.toEqual(a);
    // Every kind of decision shows up in a modest number of connections.
    const kinds = new Set(Array.from({ length: 200 }, (_, i) => planConnection(SEED, i)).map((p) => (p.kind === 'pass' ? 'pass' : `${p.kind}-${p.dir}`)));
    expect([...kinds].sort()).toEqual(['pass', ...FAULT_KINDS].sort());
  });

  test('pass: every byte both ways, FINs passed on', async () => {
    const o = await observe({ kind: 'pass' }, DOWN, UP, TAIL);
    expect(o.down.equals(DOWN)).toBe(true);
    expect(o.up.equals(Buffer.concat([UP, TAIL]))).toBe(true);
    expect(o.clientSaw).toEqual(['end', 'close']);
    expect(o.upstreamSaw).toEqual(['end', 'close']);
  });

  test('cut down with destroy: exactly the first N bytes, then FIN, upstream gone too', async () => {
    const o = await observe({ kind: 'cut', dir: 'down', at: 1000, how: 'destroy' }, DOWN, UP, TAIL);
    expect(o.down.equals(DOWN.subarray(0, 1000))).toBe(true);
    expect(o.clientSaw[0]).toBe('end');
    expect(o.upstreamSaw).toContain('close');
  });

  test('cut down with RST: at most N bytes, then ECONNRESET', async () => {
    const o = await observe({ kind: 'cut', dir: 'down', at: 200_000, how: 'reset' }, DOWN, UP, TAIL);
    expect(o.down.length).toBeLessThanOrEqual(200_000);
    expect(o.down.equals(DOWN.subarray(0, o.down.length))).toBe(true);
    expect(o.clientSaw).toContain('ECONNRESET');
  });

  test('cut up in the middle of the request head: the server gets exactly N bytes', async () => {
    const o = await observe({ kind: 'cut', dir: 'up', at: 7, how: 'reset' }, DOWN, UP, TAIL);
    expect(o.up.equals(UP.subarray(0, 7))).toBe(true);
    expect(o.upstreamSaw).toContain('close');
    expect(o.clientSaw).toContain('close');
  });

  test('stall: nothing for the stall time, then every byte', async () => {
    const o = await observe({ kind: 'stall', dir: 'down', at: 5000, ms: 400, long: false }, DOWN, UP, TAIL);
    expect(o.down.equals(DOWN)).toBe(true);
    expect(o.gapMs).toBeGreaterThanOrEqual(350);
    expect(o.clientSaw).toEqual(['end', 'close']);
  });

  test('half-close down: FIN to the client after N bytes, its later bytes still reach the server', async () => {
    for (const other of ['hold', 'drain'] as const) {
      const o = await observe({ kind: 'half-close', dir: 'down', at: 500, other }, DOWN, UP, TAIL);
      expect(o.down.equals(DOWN.subarray(0, 500))).toBe(true);
      expect(o.clientSaw).toEqual(['end', 'close']);
      expect(o.up.equals(Buffer.concat([UP, TAIL]))).toBe(true);
      expect(o.upstreamSaw[0]).toBe('end');
    }
  });

  test('half-close up: FIN to the server mid-head, its answer still reaches the client', async () => {
    const o = await observe({ kind: 'half-close', dir: 'up', at: 5, other: 'drain' }, DOWN, UP, TAIL);
    expect(o.up.equals(UP.subarray(0, 5))).toBe(true);
    expect(o.upstreamSaw[0]).toBe('end');
    expect(o.down.equals(DOWN)).toBe(true);
    expect(o.clientSaw[0]).toBe('end');
  });
});

describe('mobget and mobserve through the chaos proxy', () => {
  beforeAll(async () => {
    root = tempDir('mob-chaos-root-');
    for (const [name, body] of Object.entries(FILES)) fs.writeFileSync(path.join(root.dir, name), body);
    server = await startServer(['--store', 'memory', '--root', root.dir, '--idle-timeout', '5s', '--quiet']);
    // Warm-up: every file opened and hashed once, so the digest cache and the
    // event loop's first allocations are in the baseline.
    for (const name of NAMES) expect((await request(server.port, `/${name}`, { Range: 'bytes=0-0' })).status).toBe(name === 'empty.bin' ? 416 : 206);
  });
  beforeEach(() => {
    outDir = tempDir('mob-chaos-out-');
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    outDir.cleanup();
  });
  afterAll(async () => {
    await killAll();
    root.cleanup();
  });

  test(`${DOWNLOADS} concurrent session downloads through the chaos proxy end byte-identical; the server ends clean`, async () => {
    const baseline = await settledFds(server.proc.pid!);
    const ownBaseline = openFds(process.pid);
    proxy = await startChaosProxy({ target: { host: '127.0.0.1', port: server.port }, seed: SEED, faults: { longStallMs: LONG_STALL_MS } });
    const jobs: Job[] = Array.from({ length: DOWNLOADS }, (_, i) => {
      const name = NAMES[i % NAMES.length]!;
      return {
        i,
        name,
        options: {
          target: name,
          server: proxy!.url,
          output: path.join(outDir.dir, `${i}-${name}`),
          retries: 25,
          timeoutMs: TIMEOUT_MS,
          // Every fifth download also cuts its own connections, as a phone changing cells.
          dropChance: i % 5 === 4 ? 0.05 : undefined,
          seed: SEED + i,
        },
      };
    });
    // The fd count must be seen to rise (the check watches the right process) and then fall back.
    let peakFds = baseline;
    const sampler = setInterval(() => (peakFds = Math.max(peakFds, openFds(server.proc.pid!))), 100);
    const t0 = performance.now();
    const outcomes = await runAll(jobs, CONCURRENCY, Math.max(90_000, DOWNLOADS * 150)).finally(() => clearInterval(sampler));
    const wall = (performance.now() - t0) / 1000;
    expect(peakFds).toBeGreaterThan(baseline + 10);
    const totals = checkOutcomes(outcomes);
    if (process.env.CHAOS_DEBUG) {
      const slow = [...outcomes].sort((a, b) => b.summary!.seconds - a.summary!.seconds).slice(0, 4);
      for (const o of slow) console.log(`#${o.job.i} ${o.job.name} ${o.summary!.seconds.toFixed(1)} s, ${o.summary!.connections} conns\n  ${o.trail.join('\n  ')}`);
    }

    const st = proxy.stats();
    for (const k of FAULT_KINDS) expect({ kind: k, fired: st.faults[k] > 0 }).toEqual({ kind: k, fired: true });
    expect(st.longStalls).toBeGreaterThan(0);
    expect(st.resets).toBeGreaterThan(0);
    expect(totals.reconnects).toBeGreaterThan(0);
    await closeProxy();

    const { hwmKiB, fds } = await checkServerClean(baseline);
    // mobget's side too: no socket or output file left open in this process.
    const own = await poll(
      () => openFds(process.pid),
      (n) => n <= ownBaseline,
      3000,
    );
    expect(own).toBeLessThanOrEqual(ownBaseline);
    console.log(
      `chaos (seed ${SEED}): ${DOWNLOADS} downloads (${CONCURRENCY} at once), ${totals.bytes} bytes, ${st.connections} proxied connections (${st.peakOpen} at once), ` +
        `faults ${faultLine(st)}, reconnects ${totals.reconnects}, network errors ${totals.networkErrors}, simulated drops ${totals.drops}, ` +
        `wall ${wall.toFixed(1)} s, server fds ${baseline}→${peakFds}→${fds}, server VmHWM ${(hwmKiB / 1024).toFixed(1)} MiB`,
    );
  }, Math.max(120_000, DOWNLOADS * 200));

  test(`${PLAIN_DOWNLOADS} plain-URL downloads (no handshake) through the chaos proxy end byte-identical`, async () => {
    const baseline = await settledFds(server.proc.pid!);
    proxy = await startChaosProxy({ target: { host: '127.0.0.1', port: server.port }, seed: SEED + 1, faults: { longStallMs: LONG_STALL_MS } });
    const jobs: Job[] = Array.from({ length: PLAIN_DOWNLOADS }, (_, i) => {
      // Mostly small.bin; every fourth one of the others.
      const name = i % 4 === 3 ? NAMES[(i >> 2) % NAMES.length]! : 'small.bin';
      return { i, name, options: { target: `${proxy!.url}/${name}`, output: path.join(outDir.dir, `${i}-${name}`), retries: 25, timeoutMs: TIMEOUT_MS, seed: SEED + i } };
    });
    const t0 = performance.now();
    const outcomes = await runAll(jobs, Math.min(CONCURRENCY, PLAIN_DOWNLOADS), Math.max(60_000, PLAIN_DOWNLOADS * 150));
    const wall = (performance.now() - t0) / 1000;
    const totals = checkOutcomes(outcomes);
    for (const o of outcomes) expect(o.summary!.clientId).toBeUndefined();
    const st = proxy.stats();
    const fired = FAULT_KINDS.reduce((n, k) => n + st.faults[k], 0);
    expect(st.faults['cut-down'] + st.faults['cut-up']).toBeGreaterThan(0);
    expect(fired).toBeGreaterThan(PLAIN_DOWNLOADS / 2);
    await closeProxy();
    const { hwmKiB } = await checkServerClean(baseline);
    console.log(
      `chaos plain (seed ${SEED + 1}): ${PLAIN_DOWNLOADS} downloads, ${totals.bytes} bytes, faults ${faultLine(st)}, ` +
        `reconnects ${totals.reconnects}, wall ${wall.toFixed(1)} s, server VmHWM ${(hwmKiB / 1024).toFixed(1)} MiB`,
    );
  }, Math.max(90_000, PLAIN_DOWNLOADS * 200));
});
