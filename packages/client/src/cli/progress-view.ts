/**
 * How a download looks to a person: a cli-progress bar on a terminal, plain
 * lines otherwise, nothing with --quiet or --json. The bar is in
 * progress-bar.ts, loaded only on a terminal (cli-progress costs start-up
 * time that a pipe or a benchmark does not need).
 */
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
