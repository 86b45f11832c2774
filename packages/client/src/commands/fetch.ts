/**
 * `mobget fetch <file>`: validates options, runs download(), shows it. The
 * only layer that prints or picks an exit code.
 */
import { parseSize, formatBytes, parseDuration } from '@mobserve/common';
import { makePalette } from '@mobserve/common/color';
import { download, type DownloadOptions, type DownloadSummary } from '../download.js';
import { EXIT, MobgetError } from '../errors.js';
import { reportError } from './report-error.js';
import { lineView, silentView, type View } from '../cli/progress-view.js';

export interface FetchFlags {
  server?: string[];
  output?: string;
  dropEvery?: string;
  dropChance?: string;
  seed?: string;
  handoffDelay?: string;
  maxDrops?: string;
  localAddress?: string;
  proxy?: string;
  retries?: string;
  timeout?: string;
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
  color: boolean;
}

function usage(message: string): never {
  throw new MobgetError('MOBGET_USAGE', message);
}

function wholeNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) usage(`${name} must be a whole number, not "${v}"`);
  return Number(v);
}

export function toOptions(target: string, f: FetchFlags): DownloadOptions {
  let dropEvery: number | undefined;
  if (f.dropEvery !== undefined) {
    const n = parseSize(f.dropEvery);
    if (typeof n !== 'number') usage(`--drop-every: ${n.error}`);
    if (n === 0) usage('--drop-every must be above 0');
    dropEvery = n;
  }
  let dropChance: number | undefined;
  if (f.dropChance !== undefined) {
    dropChance = Number(f.dropChance);
    if (!/^(0|1|0?\.\d+|1\.0*)$/.test(f.dropChance) || dropChance < 0 || dropChance > 1) usage(`--drop-chance must be a probability from 0 to 1, not "${f.dropChance}"`);
  }
  let handoffDelayMs: number | undefined;
  if (f.handoffDelay !== undefined) {
    const d = /^\d+$/.test(f.handoffDelay) ? Number(f.handoffDelay) : parseDuration(f.handoffDelay);
    if (typeof d !== 'number') usage(`--handoff-delay: ${d.error}`);
    handoffDelayMs = d;
  }
  let timeoutMs: number | undefined;
  if (f.timeout !== undefined) {
    const d = parseDuration(f.timeout);
    if (typeof d !== 'number' || d <= 0) usage(`--timeout: ${typeof d === 'number' ? 'must be positive' : d.error}`);
    timeoutMs = d;
  }
  const localAddresses = f.localAddress?.split(',').map((s) => s.trim()).filter(Boolean);
  return {
    target,
    server: f.server,
    output: f.output,
    dropEvery,
    dropChance,
    seed: wholeNumber('--seed', f.seed),
    handoffDelayMs,
    maxDrops: wholeNumber('--max-drops', f.maxDrops),
    localAddresses,
    proxy: f.proxy,
    retries: wholeNumber('--retries', f.retries),
    timeoutMs,
    force: f.force,
  };
}

function summaryLine(s: DownloadSummary, c: ReturnType<typeof makePalette>): string {
  const check = s.digestChecked ? 'SHA-256 verified against Repr-Digest' : 'size verified (the server sent no digest)';
  return (
    `${c.green('✔')} ${s.output}: ${s.bytes} bytes (${formatBytes(s.bytes)}) in ${s.seconds.toFixed(2)} s, ${check}\n` +
    `  sha256 ${s.sha256}\n` +
    `  ${s.drops} simulated drops, ${s.networkErrors} network errors, ${s.connections} connections, ${s.restarts} restarts` +
    `${s.resumedFrom > 0 ? `, resumed from byte ${s.resumedFrom}` : ''}${s.clientId ? `, client ${s.clientId}` : ''}`
  );
}

/** Runs the command; returns the exit code. */
export async function fetchCommand(target: string, flags: FetchFlags): Promise<number> {
  const out = makePalette({ color: flags.color, stream: process.stdout });
  const err = makePalette({ color: flags.color, stream: process.stderr });
  let view: View = silentView();
  try {
    const options = toOptions(target, flags);
    if (!flags.quiet && !flags.json) view = process.stderr.isTTY ? (await import('../cli/progress-bar.js')).barView(err) : lineView(err);
    const summary = await download({ ...options, onEvent: (e) => view.onEvent(e) });
    view.stop();
    if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else if (!flags.quiet) process.stdout.write(`${summaryLine(summary, out)}\n`);
    return EXIT.OK;
  } catch (e) {
    view.stop();
    return reportError(e, flags.json, err);
  }
}
