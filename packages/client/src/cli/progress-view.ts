/**
 * How a download looks to a person: a cli-progress bar on a terminal, plain
 * lines otherwise, nothing with --quiet or --json. The only module that
 * imports cli-progress.
 */
import cliProgress from 'cli-progress';
import { formatBytes } from '@mobserve/common';
import type { Palette } from '@mobserve/common/color';
import type { DownloadEvent } from '../download.js';

export interface View {
  onEvent(e: DownloadEvent): void;
  stop(): void;
}

export function silentView(): View {
  return { onEvent() {}, stop() {} };
}

/** One line per notable event, for logs and pipes. */
export function lineView(c: Palette, stream: NodeJS.WritableStream = process.stderr): View {
  let lastTenth = -1;
  const say = (s: string) => stream.write(`${s}\n`);
  return {
    onEvent(e) {
      const line = describe(e, c);
      if (line) say(line);
      if (e.type === 'progress' && e.size) {
        const tenth = Math.floor((e.bytes / e.size) * 10);
        if (tenth > lastTenth && tenth > 0 && tenth < 10) {
          lastTenth = tenth;
          say(`${c.dim('…')} ${formatBytes(e.bytes)} of ${formatBytes(e.size)} (${tenth * 10}%)`);
        }
      }
    },
    stop() {},
  };
}

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

export function describe(e: DownloadEvent, c: Palette): string | undefined {
  switch (e.type) {
    case 'start':
      return e.offset > 0 ? `${c.yellow('↻')} resuming ${e.output} from byte ${e.offset}` : undefined;
    case 'handshake':
      return `${c.cyan('★')} client id ${e.clientId}`;
    case 'drop':
      return `${c.red('✂')} drop #${e.drops} at byte ${e.at} (simulated handoff)`;
    case 'network-error':
      return `${c.red('!')} connection lost at byte ${e.at}: ${e.error}`;
    case 'retry':
      return `${c.dim('…')} retrying in ${e.delayMs} ms (${e.reason})`;
    case 'restart':
      return `${c.yellow('⟲')} starting over from byte 0: ${e.reason}`;
    case 'fallback':
      return `${c.yellow('⇢')} ${e.reason}; going on by the plain path ${e.url}`;
    case 'skip':
      return `${c.yellow('»')} server ignored Range; skipping ${e.bytes} bytes already on disk`;
    default:
      return undefined;
  }
}
