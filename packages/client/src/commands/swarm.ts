/**
 * `mobget swarm --devices N <file>`: a fleet of simulated phones downloading
 * the same file at once, each with its own drops, in one process. Validates
 * options, runs swarm(), shows one live summary line, and picks the exit
 * code: 0 when every device verified the same bytes, else the code of the
 * first failure (4 when devices disagree on the SHA-256).
 */
import { makePalette } from '@mobserve/common/color';
import { EXIT, exitCodeFor, MobgetError } from '../errors.js';
import { reportError } from './report-error.js';
import { swarm, type SwarmSummary } from '../swarm.js';
import { liveLineView, periodicLineView, type SwarmView } from '../cli/swarm-view.js';
import { toOptions, type FetchFlags } from './fetch.js';

export interface SwarmFlags extends Pick<FetchFlags, 'server' | 'dropEvery' | 'dropChance' | 'seed' | 'handoffDelay' | 'retries' | 'timeout' | 'quiet' | 'json' | 'color'> {
  devices: string;
  outputDir?: string;
  keep?: boolean;
}

function summaryText(s: SwarmSummary, c: ReturnType<typeof makePalette>): string {
  const ok = s.failed === 0 && s.distinctSha256 === 1;
  const mark = ok ? c.green('✔') : c.red('✘');
  const check = s.digestChecked ? 'SHA-256 verified against Repr-Digest' : 'size verified';
  const lines = [
    `${mark} ${s.verified} of ${s.devices} devices verified (${check}), ${s.failed} failed, in ${s.seconds.toFixed(2)} s`,
    `  ${s.drops} simulated drops, ${s.resumes} resumes, ${s.networkErrors} network errors, ${s.restarts} restarts; seed ${s.seed}`,
  ];
  if (s.sha256) lines.push(`  sha256 ${s.sha256} (${s.failed === 0 ? 'every device' : `each of the ${s.verified} verified devices`})`);
  else if (s.distinctSha256 > 1) lines.push(c.red(`  ${disagreement(s)}`));
  for (const f of s.failures) lines.push(c.red(`  device ${f.device}: ${f.code}: ${f.message}`));
  lines.push(s.kept ? `  files in ${s.outputDir}` : '  files removed (use --output-dir or --keep to keep them)');
  return lines.join('\n');
}

function disagreement(s: SwarmSummary): string {
  return `the devices ended with ${s.distinctSha256} different SHA-256s`;
}

export function exitCodeOf(s: SwarmSummary): number {
  if (s.failures.length > 0) return exitCodeFor(s.failures[0]!.code);
  if (s.distinctSha256 > 1) return EXIT.INTEGRITY;
  return EXIT.OK;
}

export async function swarmCommand(target: string, flags: SwarmFlags): Promise<number> {
  const out = makePalette({ color: flags.color, stream: process.stdout });
  const err = makePalette({ color: flags.color, stream: process.stderr });
  let view: SwarmView | undefined;
  try {
    if (!/^\d+$/.test(flags.devices) || Number(flags.devices) < 1) throw new MobgetError('MOBGET_USAGE', `--devices must be a whole number of at least 1, not "${flags.devices}"`);
    const o = toOptions(target, flags);
    if (!flags.quiet && !flags.json) view = process.stderr.isTTY ? liveLineView(err) : periodicLineView(err);
    const summary = await swarm({
      target,
      server: o.server,
      devices: Number(flags.devices),
      dropChance: o.dropChance,
      dropEvery: o.dropEvery,
      seed: o.seed,
      handoffDelayMs: o.handoffDelayMs,
      retries: o.retries,
      timeoutMs: o.timeoutMs,
      outputDir: flags.outputDir,
      keep: flags.keep,
      onStats: view && ((s) => view!.onStats(s)),
    });
    view?.stop();
    if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else if (!flags.quiet) process.stdout.write(`${summaryText(summary, out)}\n`);
    else {
      for (const f of summary.failures) process.stderr.write(`${err.red('mobget:')} device ${f.device}: ${f.message}\n`);
      if (summary.distinctSha256 > 1) process.stderr.write(`${err.red('mobget:')} ${disagreement(summary)}\n`);
    }
    return exitCodeOf(summary);
  } catch (e) {
    view?.stop();
    return reportError(e, flags.json, err);
  }
}
