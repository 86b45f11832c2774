/**
 * The live progress bar of `mobget fetch` on a terminal: the only module
 * that imports cli-progress, loaded by the command only when stderr is a TTY.
 */
import cliProgress from 'cli-progress';
import { formatBytes } from '@mobserve/common';
import type { Palette } from '@mobserve/common/color';
import { describe, type View } from './progress-view.js';

/** A live bar (bytes, %, speed, ETA, drops) with event lines printed above it. */
export function barView(c: Palette, stream: NodeJS.WriteStream = process.stderr): View {
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: `${c.cyan('{bar}')} {percentage}% | {done}/{all} | {speed}/s | ETA {eta_formatted} | drops {drops}`,
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      clearOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  let drops = 0;
  let knownSize: number | undefined;
  const t0 = Date.now();
  let firstBytes = 0;
  const payload = (bytes: number, size: number | undefined) => {
    const secs = Math.max((Date.now() - t0) / 1000, 0.001);
    return { done: formatBytes(bytes), all: size === undefined ? '?' : formatBytes(size), speed: formatBytes(Math.round((bytes - firstBytes) / secs)), drops };
  };
  return {
    onEvent(e) {
      if (e.type === 'start') firstBytes = e.offset;
      if (e.type === 'drop') drops = e.drops;
      if (e.type === 'progress' && e.size !== undefined) knownSize = e.size;
      if (e.type === 'progress' || e.type === 'drop') {
        const size = knownSize;
        const bytes = e.type === 'progress' ? e.bytes : e.at;
        if (!bar) bar = multi.create(size ?? bytes, bytes, payload(bytes, size));
        if (size !== undefined) bar.setTotal(size);
        bar.update(bytes, payload(bytes, size));
      }
      const line = describe(e, c);
      if (line && e.type !== 'drop') multi.log(`${line}\n`);
    },
    stop() {
      multi.stop();
    },
  };
}
