/**
 * One request and its response over a fresh TCP connection (node:net only).
 * The caller reads response events as they arrive and may cut the
 * connection at any moment, abruptly, as a phone changing cells would.
 */
import * as net from 'node:net';
import type { ReadRing } from './read-ring.js';
import { ResponseParser, type ResponseEvent } from './response-parser.js';

export class NetworkError extends Error {
  constructor(
    readonly errno: string,
    message: string,
  ) {
    super(message);
    this.name = 'NetworkError';
  }
}

export interface ExchangeOptions {
  url: URL;
  method: 'GET' | 'HEAD';
  headers: Array<[string, string]>;
  /** Bind the local side to this address (127.0.0.2 …) to show the session is not tied to an IP. */
  localAddress?: string | undefined;
  /** No byte either way for this long fails the exchange. */
  timeoutMs: number;
  /** Send the request through this HTTP forward proxy (absolute-form target, RFC 9112 §3.2.2). */
  proxy?: URL | undefined;
  /**
   * Read into this ring (read-ring.ts) instead of a new Buffer per read.
   * Body chunks are then views into the ring, each with a `release` that the
   * reader must call once done with the bytes (or hand on to who is).
   */
  ring?: ReadRing | undefined;
}

/** A response event; a body chunk read into a ring carries the release of its bytes. */
export type ExchangeEvent = ResponseEvent & { release?: () => void };

export interface Exchange {
  readonly socket: net.Socket;
  /** Response events, in order, until `end` or an error (thrown as NetworkError or returned as an error event). */
  events(): AsyncGenerator<ExchangeEvent>;
  /** Abrupt cut: RST, no FIN, buffered data dropped. */
  cut(): void;
  /** Orderly close once done with it. */
  close(): void;
}

function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

export function requestBytes(o: Pick<ExchangeOptions, 'url' | 'method' | 'headers' | 'proxy'>): Buffer {
  // To a proxy the target is the absolute URI; to the origin, the path.
  const target = o.proxy ? `http://${o.url.host}${o.url.pathname}${o.url.search}` : `${o.url.pathname}${o.url.search}`;
  let head = `${o.method} ${target} HTTP/1.1\r\nHost: ${o.url.host}\r\n`;
  for (const [k, v] of o.headers) head += `${k}: ${v}\r\n`;
  return Buffer.from(`${head}\r\n`, 'latin1');
}

function connectError(e: NodeJS.ErrnoException, o: ExchangeOptions): NetworkError {
  const via = o.proxy ?? o.url;
  return e instanceof NetworkError ? e : new NetworkError(e.code ?? 'ECONN', `cannot connect to ${via.host}${o.proxy ? ' (proxy)' : ''}: ${e.code ?? e.message}`);
}

function lostError(e: NodeJS.ErrnoException): NetworkError {
  return e instanceof NetworkError ? e : new NetworkError(e.code ?? 'ECONNRESET', `connection lost: ${e.code ?? e.message}`);
}

export function openExchange(o: ExchangeOptions): Promise<Exchange> {
  return o.ring ? openRingExchange(o, o.ring) : openStreamExchange(o);
}

function connectOptions(o: ExchangeOptions): net.NetConnectOpts {
  const via = o.proxy ?? o.url;
  return { host: hostOf(via), port: Number(via.port || 80), localAddress: o.localAddress, noDelay: true };
}

function exchangeOf(socket: net.Socket, events: () => AsyncGenerator<ExchangeEvent>): Exchange {
  return {
    socket,
    events,
    cut() {
      if (!socket.destroyed) socket.resetAndDestroy();
    },
    close() {
      socket.destroy();
    },
  };
}

/** Reads through the socket's own stream: a new Buffer per read (handshakes, small transfers). */
function openStreamExchange(o: ExchangeOptions): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(connectOptions(o));
    let settled = false;
    socket.setTimeout(o.timeoutMs, () => socket.destroy(new NetworkError('ETIMEDOUT', `no response from ${o.url.host} for ${o.timeoutMs} ms`)));
    // Errors after connect reach the reader through the async iterator; this
    // listener only keeps a late second error from becoming an uncaught one.
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      reject(connectError(e, o));
    });
    socket.once('connect', () => {
      settled = true;
      socket.write(requestBytes(o));
      const parser = new ResponseParser({ method: o.method });
      resolve(
        exchangeOf(socket, async function* () {
          try {
            for await (const chunk of socket) {
              for (const ev of parser.push(chunk as Buffer)) {
                yield ev;
                if (ev.type === 'end' || ev.type === 'error') return;
              }
            }
          } catch (e) {
            throw lostError(e as NodeJS.ErrnoException);
          }
          yield* parser.finish();
        }),
      );
    });
  });
}

/**
 * Reads into a ring with `onread` (node:net): each read is parsed as it
 * lands, body chunks are held in the ring until released, and the socket
 * pauses while the ring has no free region for the next read, which is the
 * backpressure from the disk and the hash.
 */
function openRingExchange(o: ExchangeOptions, ring: ReadRing): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const parser = new ResponseParser({ method: o.method });
    const queue: ExchangeEvent[] = [];
    let failure: NetworkError | undefined;
    let closed = false;
    let finished = false;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const onTimeout = (): void => {
      socket.destroy(new NetworkError('ETIMEDOUT', `no response from ${o.url.host} for ${o.timeoutMs} ms`));
    };
    // While we pause the socket ourselves (the disk or the hash is behind),
    // the server's silence is ours: the idle timer stops, and starts again
    // on resume.
    const pause = (): void => {
      socket.setTimeout(0);
      ring.whenRoom(resume);
    };
    const resume = (): void => {
      if (socket.destroyed) return;
      socket.setTimeout(o.timeoutMs);
      socket.resume();
    };
    // Node asks for the next read's buffer (`ring.region()`) right after
    // each onRead returns, even when it returned false: the region is then
    // the one the read after the resume will use, still held while paused.
    // After the response ends, or the reader has left, nothing new is held,
    // so the ring's free space only grows.
    const onRead = (n: number): boolean => {
      // After the response (or once the reader has left), bytes are not held.
      if (finished) return true;
      const { chunk, at } = ring.filled(n);
      for (const ev of parser.push(chunk)) {
        if (ev.type === 'data' && ring.owns(ev.chunk)) queue.push({ ...ev, release: ring.hold(ev.chunk, chunk, at) });
        else queue.push(ev);
        if (ev.type === 'end' || ev.type === 'error') finished = true;
      }
      notify();
      if (ring.hasRoom()) return true;
      pause();
      return false;
    };
    const socket = net.connect({ ...connectOptions(o), onread: { buffer: () => ring.region(), callback: onRead } });
    let settled = false;
    // One listener; pause() and resume() only stop and restart the timer.
    socket.on('timeout', onTimeout);
    socket.setTimeout(o.timeoutMs);
    // The region for the first read may still hold the last connection's bytes.
    if (!ring.hasRoom()) {
      socket.pause();
      pause();
    }
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!settled) {
        settled = true;
        reject(connectError(e, o));
        return;
      }
      failure ??= lostError(e);
      notify();
    });
    socket.on('close', () => {
      closed = true;
      ring.cancelWait(resume);
      notify();
    });
    socket.once('connect', () => {
      settled = true;
      socket.write(requestBytes(o));
      resolve(
        exchangeOf(socket, async function* () {
          try {
            for (;;) {
              const ev = queue.shift();
              if (ev) {
                yield ev;
                if (ev.type === 'end' || ev.type === 'error') return;
                continue;
              }
              if (failure) throw failure;
              if (closed) {
                yield* parser.finish();
                return;
              }
              await new Promise<void>((r) => (wake = r));
            }
          } finally {
            // Chunks read but never handed out: their bytes are free, and
            // whatever still arrives before the socket closes is not kept.
            finished = true;
            for (const ev of queue.splice(0)) ev.release?.();
          }
        }),
      );
    });
  });
}
