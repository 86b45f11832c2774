/**
 * swarm(options): a fleet of simulated phones in one process. Every device
 * runs the resume loop of download.ts with its own drop plan (seed + device
 * number) and its own output file, all at once, against the same server.
 * Each device verifies its file (size and Repr-Digest) as `mobget fetch`
 * does; the swarm also checks that every device ended with the same SHA-256.
 *
 * Devices read through a small ring (256 KiB, reads up to 64 KiB) and hash
 * on this thread: a thousand 4 MiB rings and hash workers would cost more
 * than the files they carry.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultOutput, download, resolveTarget, type DownloadEvent, type DownloadOptions } from './download.js';
import { MobgetError, type MobgetErrorCode } from './errors.js';

export interface SwarmOptions {
  /** What each device downloads: a name on a mobserve server, or a full http:// URL. */
  target: string;
  server?: string | string[] | undefined;
  devices: number;
  /** Chance of a drop in each 16 KiB block, for every device (default 0.1). */
  dropChance?: number | undefined;
  dropEvery?: number | undefined;
  /** Device d uses seed + d (default: random base, reported). */
  seed?: number | undefined;
  handoffDelayMs?: number | undefined;
  retries?: number | undefined;
  timeoutMs?: number | undefined;
  /** Folder for the devices' files (default: a new temporary folder). */
  outputDir?: string | undefined;
  /** Keep the files of the temporary folder (a given outputDir is never removed). */
  keep?: boolean | undefined;
  /** Called about every `statsIntervalMs` and once at the end. */
  onStats?: ((s: SwarmStats) => void) | undefined;
  statsIntervalMs?: number | undefined;
}

export interface SwarmStats {
  devices: number;
  done: number;
  failed: number;
  drops: number;
  /** Connections after a device's first one: every one is a resume. */
  resumes: number;
  /** Resumes per second over the last interval. */
  resumesPerSecond: number;
  bytes: number;
  seconds: number;
}

export interface SwarmFailure {
  device: number;
  code: MobgetErrorCode | 'MOBGET_INTERNAL';
  message: string;
}

export interface SwarmSummary {
  target: string;
  devices: number;
  /** Devices whose file was verified. */
  verified: number;
  failed: number;
  /** The first failures (at most 10). */
  failures: SwarmFailure[];
  /** Drops and resumes of every device, failed ones included (as the live line counts them). */
  drops: number;
  resumes: number;
  networkErrors: number;
  restarts: number;
  /** Body bytes received by all devices. */
  received: number;
  seconds: number;
  /** Every verified device's SHA-256, when they all agree. */
  sha256: string | undefined;
  /** How many different SHA-256s the verified devices ended with (1 when all is well). */
  distinctSha256: number;
  digestChecked: boolean;
  seed: number;
  outputDir: string;
  kept: boolean;
}

const MAX_REPORTED_FAILURES = 10;

export async function swarm(o: SwarmOptions): Promise<SwarmSummary> {
  if (!Number.isInteger(o.devices) || o.devices < 1) throw new MobgetError('MOBGET_USAGE', '--devices must be a whole number of at least 1');
  const name = defaultOutput(resolveTarget(o.target, o.server));
  const ownDir = o.outputDir === undefined;
  const dir = o.outputDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'mobget-swarm-')));
  await fs.mkdir(dir, { recursive: true });
  const keep = !ownDir || o.keep === true;
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
  const t0 = performance.now();
  const live = { done: 0, failed: 0, drops: 0, resumes: 0, bytes: 0 };
  let lastResumes = 0;
  let lastTick = t0;
  const stats = (): SwarmStats => {
    const now = performance.now();
    const rate = ((live.resumes - lastResumes) * 1000) / Math.max(now - lastTick, 1);
    lastResumes = live.resumes;
    lastTick = now;
    return { devices: o.devices, ...live, resumesPerSecond: rate, seconds: (now - t0) / 1000 };
  };
  const timer = o.onStats ? setInterval(() => o.onStats!(stats()), o.statsIntervalMs ?? 250) : undefined;

  const onEvent = (e: DownloadEvent): void => {
    if (e.type === 'drop') live.drops++;
    else if (e.type === 'connect' && e.attempt > 1) live.resumes++;
  };
  const options = (d: number): DownloadOptions => ({
    target: o.target,
    server: o.server,
    output: path.join(dir, `device-${String(d + 1).padStart(String(o.devices).length, '0')}-${name}`),
    dropChance: o.dropEvery === undefined ? (o.dropChance ?? 0.1) : o.dropChance,
    dropEvery: o.dropEvery,
    seed: seed + d,
    handoffDelayMs: o.handoffDelayMs,
    retries: o.retries,
    timeoutMs: o.timeoutMs,
    force: true,
    hashThread: 'main',
    readBufferBytes: 256 * 1024,
    onEvent,
  });

  try {
    const results = await Promise.allSettled(
      Array.from({ length: o.devices }, async (_, d) => {
        try {
          const s = await download(options(d));
          live.done++;
          live.bytes += s.bytes;
          return s;
        } catch (e) {
          live.failed++;
          throw e;
        }
      }),
    );
    const summary: SwarmSummary = {
      target: o.target,
      devices: o.devices,
      verified: 0,
      failed: 0,
      failures: [],
      drops: 0,
      resumes: 0,
      networkErrors: 0,
      restarts: 0,
      received: 0,
      seconds: (performance.now() - t0) / 1000,
      sha256: undefined,
      distinctSha256: 0,
      digestChecked: true,
      seed,
      outputDir: dir,
      kept: keep,
    };
    const shas = new Set<string>();
    for (const [d, r] of results.entries()) {
      if (r.status === 'rejected') {
        summary.failed++;
        const e = r.reason as unknown;
        if (summary.failures.length < MAX_REPORTED_FAILURES) {
          summary.failures.push(e instanceof MobgetError ? { device: d + 1, code: e.code, message: e.message } : { device: d + 1, code: 'MOBGET_INTERNAL', message: String((e as Error)?.stack ?? e) });
        }
        continue;
      }
      const s = r.value;
      summary.verified++;
      summary.networkErrors += s.networkErrors;
      summary.restarts += s.restarts;
      summary.received += s.received;
      summary.digestChecked &&= s.digestChecked;
      shas.add(s.sha256);
    }
    summary.drops = live.drops;
    summary.resumes = live.resumes;
    summary.distinctSha256 = shas.size;
    summary.sha256 = shas.size === 1 ? [...shas][0] : undefined;
    if (summary.verified === 0) summary.digestChecked = false;
    return summary;
  } finally {
    if (timer) clearInterval(timer);
    o.onStats?.(stats());
    if (!keep) await fs.rm(dir, { recursive: true, force: true });
  }
}
