/**
 * createServer(options): the library entry point the CLI and tests use.
 */
import * as net from 'node:net';
import { EventEmitter } from 'node:events';
import { FileCatalog } from '../files/file-catalog.js';
import { ERRORS } from '../http/errors.js';
import { DEFAULT_LIMITS, type ParserLimits } from '../http/request-parser.js';
import { errorResponse } from '../http/response-head.js';
import { MemoryStore } from '../ledger/memory-store.js';
import type { ProgressStore } from '../ledger/progress-store.js';
import { Connection } from './connection.js';
import type { ServerEvent, ServerEventListener } from './events.js';
import type { ServerContext } from './server-context.js';

export interface ServerOptions {
  /** Directory whose files are served. */
  root: string;
  /** The progress ledger; a fresh MemoryStore if omitted. The caller closes it. */
  store?: ProgressStore;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Pace every transfer to this many bytes per second (for watching drops live). */
  rate?: number;
  /** A request head must arrive within this long (ms). */
  headerTimeoutMs?: number;
  /** A connection with no traffic either way for this long is closed (ms). */
  idleTimeoutMs?: number;
  /**
   * At most this many connections at once; one more is answered 503 with
   * Retry-After and closed. Each transfer holds two descriptors (socket and
   * file), so keep this under half the process's descriptor limit.
   */
  maxConnections?: number;
  /**
   * A file held in memory is checked for replacement at most this often
   * (ms; default 100). 0 checks on every request.
   */
  revalidateMs?: number;
  /** How often expired sessions are swept (ms). */
  sweepIntervalMs?: number;
  parserLimits?: Partial<ParserLimits>;
}

export interface ServerStats {
  connections: number;
  transfers: number;
}

export interface MobServer {
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<net.AddressInfo>;
  /** Base URL, e.g. http://127.0.0.1:8080 (after listen). */
  readonly url: string;
  readonly store: ProgressStore;
  readonly root: string;
  on(listener: ServerEventListener): () => void;
  stats(): ServerStats;
  /**
   * Graceful stop: no new connections, idle ones closed, running transfers
   * stopped (their progress is in the store already), and after `graceMs`
   * whatever is left is destroyed. Does not close the store.
   */
  close(graceMs?: number): Promise<void>;
}

export function createServer(options: ServerOptions): MobServer {
  const events = new EventEmitter();
  const store = options.store ?? new MemoryStore();
  const ctx: ServerContext = {
    catalog: new FileCatalog(options.root, options.revalidateMs === undefined ? {} : { revalidateMs: options.revalidateMs }),
    store,
    rate: options.rate && options.rate > 0 ? options.rate : undefined,
    parserLimits: { ...DEFAULT_LIMITS, ...options.parserLimits },
    headerTimeoutMs: options.headerTimeoutMs ?? 10_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
    connections: new Set(),
    transfers: new Map(),
    shuttingDown: false,
    emit: (e: ServerEvent) => events.emit('event', e),
  };
  const maxConnections = options.maxConnections ?? 8192;
  let nextConn = 1;
  const listener = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    if (ctx.shuttingDown) {
      socket.destroy();
      return;
    }
    if (ctx.connections.size >= maxConnections) {
      // Refuse politely and at once: the refusal costs one write, not a parser.
      socket.on('error', () => {});
      socket.end(errorResponse(ERRORS.BUSY, { extra: [['Retry-After', 1]] }));
      socket.setTimeout(1000, () => socket.destroy());
      ctx.emit({ type: 'rejected', conn: 0, remote: `${socket.remoteAddress}:${socket.remotePort}`, status: 503, code: ERRORS.BUSY.code, target: undefined });
      return;
    }
    const conn = new Connection(nextConn++, socket, ctx);
    ctx.connections.add(conn);
    ctx.emit({ type: 'connection', conn: conn.id, remote: conn.remote });
  });
  // Accept errors (EMFILE and the like) must not take the process down.
  listener.on('error', (e) => ctx.emit({ type: 'error', source: 'listener', error: e }));

  let sweepTimer: NodeJS.Timeout | undefined;
  let url = '';

  return {
    get url() {
      return url;
    },
    store,
    root: options.root,
    listen() {
      return new Promise((resolve, reject) => {
        const onError = (e: Error) => reject(e);
        listener.once('error', onError);
        listener.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
          listener.off('error', onError);
          const addr = listener.address() as net.AddressInfo;
          const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
          url = `http://${host}:${addr.port}`;
          const every = options.sweepIntervalMs ?? 60_000;
          sweepTimer = setInterval(() => {
            store.sweep(Date.now()).catch((e: Error) => ctx.emit({ type: 'error', source: 'store', error: e }));
          }, every);
          sweepTimer.unref();
          resolve(addr);
        });
      });
    },
    on(fn) {
      const wrapped = (e: ServerEvent) => fn(e);
      events.on('event', wrapped);
      return () => events.off('event', wrapped);
    },
    stats() {
      return { connections: ctx.connections.size, transfers: ctx.transfers.size };
    },
    async close(graceMs = 3000) {
      ctx.shuttingDown = true;
      if (sweepTimer) clearInterval(sweepTimer);
      const stopped = new Promise<void>((resolve) => (listener.listening ? listener.close(() => resolve()) : resolve()));
      for (const c of ctx.connections) c.shutdown();
      const all = Promise.all([...ctx.connections].map((c) => c.finished));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      for (const c of ctx.connections) c.socket.destroy();
      await stopped;
      ctx.catalog.closeAll();
    },
  };
}
