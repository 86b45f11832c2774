/** What every connection of one server shares. */
import type { FileCatalog } from '../files/file-catalog.js';
import type { ParserLimits } from '../http/request-parser.js';
import type { ProgressStore } from '../ledger/progress-store.js';
import type { Connection } from './connection.js';
import type { ServerEvent } from './events.js';

export interface ActiveTransfer {
  /** The peer sent FIN while this transfer was running. */
  peerEnded: boolean;
  /** Ends the sender's current wait (pacing sleep, drain). */
  wake(): void;
  stop(why: 'superseded' | 'stopped'): void;
}

export interface ServerContext {
  readonly catalog: FileCatalog;
  readonly store: ProgressStore;
  readonly rate: number | undefined;
  readonly parserLimits: ParserLimits;
  readonly headerTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly connections: Set<Connection>;
  /** Running transfers on the client route, by client id + "\0" + path. */
  readonly transfers: Map<string, ActiveTransfer>;
  shuttingDown: boolean;
  emit(e: ServerEvent): void;
}
