/** One readable line per server event, for a person watching the terminal. */
import type { ServerEvent } from '../server/events.js';
import type { Palette } from '@mobserve/common/color';
import { formatBytes } from '@mobserve/common';

function short(id: string | undefined): string {
  return id ? id.slice(0, 8) : 'plain';
}

function time(): string {
  return new Date().toISOString().slice(11, 19);
}

function pct(n: number, of: number): string {
  return of === 0 ? '100%' : `${Math.floor((n / of) * 100)}%`;
}

/** Returns the line to print, or undefined for events not worth a line. */
export function formatEvent(e: ServerEvent, c: Palette, verbose = false): string | undefined {
  const t = c.dim(time());
  switch (e.type) {
    case 'connection':
      return `${t} ${c.dim(`+ conn#${e.conn} from ${e.remote}`)}`;
    case 'connection-closed':
      return verbose ? `${t} ${c.dim('-')} conn#${e.conn} closed after ${e.requests} request(s)` : undefined;
    case 'handshake':
      return `${t} ${c.cyan('★ new client')} ${e.clientId} ${c.dim(`(${e.remote})`)}`;
    case 'transfer-start': {
      if (e.head) return verbose ? `${t} ${c.dim('HEAD')} ${short(e.clientId)} ${e.path} ${e.status}` : undefined;
      const verb = e.start > 0 ? c.yellow('↻ resume') : c.blue('▶ send');
      return `${t} ${verb} ${short(e.clientId)} ${e.path} from byte ${e.start} (${e.via}) ${formatBytes(e.length)} of ${formatBytes(e.size)} ${c.dim(`to ${e.remote}`)}`;
    }
    case 'transfer-end':
      switch (e.outcome) {
        case 'complete':
          return `${t} ${c.green('✔ complete')} ${short(e.clientId)} ${e.path} at byte ${e.reached} of ${e.size} ${c.dim(`${e.ms} ms`)}`;
        case 'dropped':
          return `${t} ${c.red('✂ drop')} client ${short(e.clientId)} vanished at byte ${e.reached} of ${e.size} (${pct(e.reached, e.size)}) ${c.dim(e.remote)}`;
        case 'superseded':
          return `${t} ${c.magenta('⇆ superseded')} ${short(e.clientId)} ${e.path}: a newer request took over at byte ${e.reached} ${c.dim(e.remote)}`;
        case 'stopped':
          return `${t} ${c.yellow('■ stopped')} ${short(e.clientId)} ${e.path} at byte ${e.reached} (shutdown)`;
        default:
          return `${t} ${c.red('✖ file error')} ${e.path} at byte ${e.reached}`;
      }
    case 'rejected':
      return `${t} ${c.red(`✖ ${e.status}`)} ${e.code} ${e.target ? JSON.stringify(e.target.slice(0, 120)) : ''} ${c.dim(e.remote)}`;
    case 'error':
      return `${t} ${c.red(`! ${e.source} error`)} ${e.error.message}`;
  }
}
