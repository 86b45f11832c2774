/**
 * Raw bytes over a real socket, for tests that need to send what no HTTP
 * library would: garbage, split requests, pipelines, vanishing clients.
 */
import * as net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Sends bytes (optionally in pieces, with pauses) and returns everything read until the server closes or `idleMs` of silence. */
export function exchange(port: number, pieces: Array<string | Buffer>, opts: { gapMs?: number; idleMs?: number; host?: string } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: opts.host ?? '127.0.0.1' });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(chunks));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, opts.idleMs ?? 1500);
    };
    sock.on('data', (d) => {
      chunks.push(d);
      arm();
    });
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? finish() : reject(e)));
    sock.on('connect', async () => {
      arm();
      for (const p of pieces) {
        if (sock.destroyed) return;
        sock.write(p);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
    });
  });
}

/** Splits a byte stream into HTTP responses (Content-Length framed; HEAD-style bodiless when told). */
export function parseResponses(buf: Buffer, opts: { bodiless?: boolean[] } = {}): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < buf.length) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const lines = buf.toString('latin1', at, end).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0]!)?.[1]);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
    }
    const len = opts.bodiless?.[out.length] || status === 304 ? 0 : Number(headers.get('content-length') ?? 0);
    out.push({ status, headers, body: buf.subarray(end + 4, end + 4 + len) });
    at = end + 4 + len;
  }
  return out;
}

/** One GET (or other) request with headers; the first response. */
export async function request(port: number, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  let req = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`;
  for (const [k, v] of Object.entries(headers)) req += `${k}: ${v}\r\n`;
  const buf = await exchange(port, [`${req}\r\n`]);
  const [res] = parseResponses(buf, { bodiless: [method === 'HEAD'] });
  if (!res) throw new Error(`no response to ${method} ${target}: ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`);
  return res;
}
