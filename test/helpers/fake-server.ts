/**
 * A tiny programmable HTTP/1.1 server on node:net, for client tests that
 * need a server which is wrong in exactly one way. Each test supplies a
 * handler that writes whatever raw bytes it wants; the builders below make
 * the correct 200/206/416 answer for a representation, so a handler can
 * take the correct answer and bend one thing.
 *
 * One request per connection (mobget opens a fresh one each time); every
 * request is recorded in order; `close()` destroys every socket.
 */
import * as net from 'node:net';
import { freePort } from './system-tools.js';
import { createHash } from 'node:crypto';

export interface FakeRequest {
  method: string;
  target: string;
  /** Lower-cased names. */
  headers: Map<string, string>;
}

/** `n` counts requests from 1, across connections. */
export type Handler = (req: FakeRequest, socket: net.Socket, n: number) => void | Promise<void>;

export interface FakeServer {
  port: number;
  /** `http://127.0.0.1:<port><path>` */
  url(path?: string): string;
  /** Every request so far, in arrival order. */
  readonly requests: FakeRequest[];
  /** Errors thrown by the handler (the socket is destroyed when one happens). */
  readonly handlerErrors: unknown[];
  close(): Promise<void>;
}

export function startFakeServer(handler: Handler): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  const requests: FakeRequest[] = [];
  const handlerErrors: unknown[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A client that cuts (RST) or goes away mid-write is the point of these tests.
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buf.length > 64 * 1024) socket.destroy();
        return;
      }
      socket.off('data', onData);
      const req = parseRequest(buf.toString('latin1', 0, end));
      if (!req) {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      requests.push(req);
      Promise.resolve()
        .then(() => handler(req, socket, requests.length))
        .catch((e: unknown) => {
          handlerErrors.push(e);
          socket.destroy();
        });
    };
    socket.on('data', onData);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        url: (p = '/file.bin') => `http://127.0.0.1:${port}${p}`,
        requests,
        handlerErrors,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

function parseRequest(head: string): FakeRequest | undefined {
  const [line, ...fields] = head.split('\r\n');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(line ?? '');
  if (!m) return undefined;
  const headers = new Map<string, string>();
  for (const f of fields) {
    const c = f.indexOf(':');
    if (c <= 0) return undefined;
    const name = f.slice(0, c).trim().toLowerCase();
    const prev = headers.get(name);
    const value = f.slice(c + 1).trim();
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return { method: m[1]!, target: m[2]!, headers };
}

/** A port nothing listens on (bound, then released): the free-port helper's port. */
export const closedPort = freePort;

// ---------------------------------------------------------------------------
// Responses

/** One version of a file as a correct server would describe it. */
export interface Representation {
  body: Buffer;
  /** A strong entity-tag, quotes included; none when undefined. */
  etag?: string | undefined;
  /** Send `Repr-Digest: sha-256=:…:` (default true). */
  digest?: boolean | undefined;
}

export interface Response {
  status: number;
  reason: string;
  /** In order; names as written. */
  headers: Array<[string, string]>;
  body: Buffer;
}

export function reprDigest(body: Buffer): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

function validators(rep: Representation): Array<[string, string]> {
  const h: Array<[string, string]> = [];
  if (rep.etag !== undefined) h.push(['ETag', rep.etag]);
  if (rep.digest !== false) h.push(['Repr-Digest', reprDigest(rep.body)]);
  return h;
}

/** 200 with the whole representation. */
export function full(rep: Representation): Response {
  return {
    status: 200,
    reason: 'OK',
    headers: [['Content-Length', String(rep.body.length)], ['Accept-Ranges', 'bytes'], ...validators(rep), ['Connection', 'close']],
    body: rep.body,
  };
}

/** 206 with bytes start..end (inclusive; default to the end). */
export function partial(rep: Representation, start: number, end = rep.body.length - 1): Response {
  return {
    status: 206,
    reason: 'Partial Content',
    headers: [
      ['Content-Length', String(end - start + 1)],
      ['Content-Range', `bytes ${start}-${end}/${rep.body.length}`],
      ...validators(rep),
      ['Connection', 'close'],
    ],
    body: rep.body.subarray(start, end + 1),
  };
}

/** 416 with `Content-Range: bytes *\/size`. */
export function unsatisfiable(rep: Representation): Response {
  return {
    status: 416,
    reason: 'Range Not Satisfiable',
    headers: [['Content-Length', '0'], ['Content-Range', `bytes */${rep.body.length}`], ...validators(rep), ['Connection', 'close']],
    body: Buffer.alloc(0),
  };
}

/**
 * What a correct server answers to `req` (RFC 9110 §14.2, §13.1.5): a
 * `bytes=N-` range honoured only if If-Range is absent or matches the
 * strong ETag; N at or past the end → 416.
 */
export function correct(rep: Representation, req: FakeRequest): Response {
  const range = /^bytes=(\d+)-$/.exec(req.headers.get('range') ?? '');
  const ifRange = req.headers.get('if-range');
  if (!range || (ifRange !== undefined && (rep.etag === undefined || ifRange !== rep.etag))) return full(rep);
  const start = Number(range[1]);
  return start >= rep.body.length ? unsatisfiable(rep) : partial(rep, start);
}

export function setHeader(r: Response, name: string, value: string): Response {
  const lower = name.toLowerCase();
  const at = r.headers.findIndex(([k]) => k.toLowerCase() === lower);
  const headers = [...r.headers];
  if (at === -1) headers.push([name, value]);
  else headers[at] = [name, value];
  return { ...r, headers };
}

export function removeHeader(r: Response, name: string): Response {
  const lower = name.toLowerCase();
  return { ...r, headers: r.headers.filter(([k]) => k.toLowerCase() !== lower) };
}

export function headBytes(r: Response): Buffer {
  let s = `HTTP/1.1 ${r.status} ${r.reason}\r\n`;
  for (const [k, v] of r.headers) s += `${k}: ${v}\r\n`;
  return Buffer.from(`${s}\r\n`, 'latin1');
}

function writeThen(socket: net.Socket, bytes: Buffer, then: () => void): void {
  if (socket.destroyed) return;
  // Flushed to the kernel first, so the peer sees every byte before the FIN.
  socket.write(bytes, () => then());
}

/** Writes the whole response and closes (FIN). */
export function send(socket: net.Socket, r: Response): void {
  writeThen(socket, Buffer.concat([headBytes(r), r.body]), () => socket.end());
}

/**
 * Writes the head and the first `bodyBytes` of the body, then ends the
 * connection: `destroy` (the link broke) or `end` (a FIN after a short body).
 */
export function sendCut(socket: net.Socket, r: Response, bodyBytes: number, how: 'destroy' | 'end' = 'destroy'): void {
  writeThen(socket, Buffer.concat([headBytes(r), r.body.subarray(0, bodyBytes)]), () => (how === 'end' ? socket.end() : socket.destroy()));
}

/** The body as `Transfer-Encoding: chunked`, in pieces of `size` bytes (Content-Length dropped). */
export function sendChunked(socket: net.Socket, r: Response, size = 7000): void {
  const parts: Buffer[] = [headBytes(setHeader(removeHeader(r, 'Content-Length'), 'Transfer-Encoding', 'chunked'))];
  for (let at = 0; at < r.body.length; at += size) {
    const piece = r.body.subarray(at, at + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`, 'latin1'), piece, Buffer.from('\r\n', 'latin1'));
  }
  parts.push(Buffer.from('0\r\n\r\n', 'latin1'));
  writeThen(socket, Buffer.concat(parts), () => socket.end());
}

/** Head, then the body `chunk` bytes every `everyMs`, then FIN; stops when the peer goes. */
export async function sendPaced(socket: net.Socket, r: Response, opts: { chunk: number; everyMs: number }): Promise<void> {
  if (socket.destroyed) return;
  socket.write(headBytes(r));
  for (let at = 0; at < r.body.length; at += opts.chunk) {
    await new Promise((res) => setTimeout(res, opts.everyMs));
    if (socket.destroyed || !socket.writable) return;
    socket.write(r.body.subarray(at, at + opts.chunk));
  }
  socket.end();
}
