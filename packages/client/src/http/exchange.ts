/**
 * One request and its response over a fresh TCP connection (node:net only).
 * The caller reads response events as they arrive and may cut the
 * connection at any moment, abruptly, as a phone changing cells would.
 */
import * as net from 'node:net';
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
}

export interface Exchange {
  readonly socket: net.Socket;
  /** Response events, in order, until `end` or an error (thrown as NetworkError or returned as an error event). */
  events(): AsyncGenerator<ResponseEvent>;
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

export function openExchange(o: ExchangeOptions): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const via = o.proxy ?? o.url;
    const port = Number(via.port || 80);
    const socket = net.connect({ host: hostOf(via), port, localAddress: o.localAddress, noDelay: true });
    let settled = false;
    socket.setTimeout(o.timeoutMs, () => socket.destroy(new NetworkError('ETIMEDOUT', `no response from ${o.url.host} for ${o.timeoutMs} ms`)));
    // Errors after connect reach the reader through the async iterator; this
    // listener only keeps a late second error from becoming an uncaught one.
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      reject(e instanceof NetworkError ? e : new NetworkError(e.code ?? 'ECONN', `cannot connect to ${via.host}${o.proxy ? ' (proxy)' : ''}: ${e.code ?? e.message}`));
    });
    socket.once('connect', () => {
      settled = true;
      socket.write(requestBytes(o));
      const parser = new ResponseParser({ method: o.method });
      resolve({
        socket,
        async *events() {
          try {
            for await (const chunk of socket) {
              for (const ev of parser.push(chunk as Buffer)) {
                yield ev;
                if (ev.type === 'end' || ev.type === 'error') return;
              }
            }
          } catch (e) {
            const err = e as NodeJS.ErrnoException;
            if (err instanceof NetworkError) throw err;
            throw new NetworkError(err.code ?? 'ECONNRESET', `connection lost: ${err.code ?? err.message}`);
          }
          yield* parser.finish();
        },
        cut() {
          if (!socket.destroyed) socket.resetAndDestroy();
        },
        close() {
          socket.destroy();
        },
      });
    });
  });
}
