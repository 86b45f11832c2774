/**
 * How a swarm looks to a person: one live summary line on a terminal
 * (rewritten in place), a plain line every second otherwise.
 */
import { formatBytes } from '@mobserve/common';
import type { Palette } from '@mobserve/common/color';
import type { SwarmStats } from '../swarm.js';

export interface SwarmView {
  onStats(s: SwarmStats): void;
  stop(): void;
}

export function statsLine(s: SwarmStats, c: Palette): string {
  const failures = s.failed > 0 ? c.red(`failures ${s.failed}`) : `failures ${s.failed}`;
  return `devices ${s.done}/${s.devices} done · drops ${s.drops} · resumes/s ${Math.round(s.resumesPerSecond)} · ${failures} · ${formatBytes(s.bytes)} · ${s.seconds.toFixed(1)} s`;
}

export function liveLineView(c: Palette, stream: NodeJS.WriteStream = process.stderr): SwarmView {
  let shown = false;
  return {
    onStats(s) {
      stream.write(`\r\x1b[K${statsLine(s, c)}`);
      shown = true;
    },
    stop() {
      if (shown) stream.write('\n');
    },
  };
}

export function periodicLineView(c: Palette, stream: NodeJS.WritableStream = process.stderr, everyMs = 1000): SwarmView {
  let last = -Infinity;
  let final: SwarmStats | undefined;
  return {
    onStats(s) {
      final = s;
      if (s.seconds * 1000 - last < everyMs) return;
      last = s.seconds * 1000;
      stream.write(`${statsLine(s, c)}\n`);
      final = undefined;
    },
    stop() {
      if (final) stream.write(`${statsLine(final, c)}\n`);
    },
  };
}
