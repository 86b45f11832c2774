/**
 * One raw socket kept open across requests: write bytes, read responses one
 * at a time (Content-Length framed), and see how and when the server closes.
 * For keep-alive, timeouts and transfers cut from the other side, which
 * `exchange()` (one shot, read until silence) cannot show.
 */
import * as net from 'node:net';
import type { RawResponse } from './raw-http.js';

/** How the server's side went away: FIN, RST, or a close without either seen. */
export type CloseKind = 'end' | 'reset' | 'close';

export class RawConnection {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closeKind: CloseKind | undefined;
  /** Every byte received so far, responses already taken included. */
  received = 0;
  /** Resolves with how the connection ended, once it has. */
  readonly closed: Promise<CloseKind>;

  private constructor(readonly socket: net.Socket) {
    this.closed = new Promise((resolve) => {
      socket.on('end', () => (this.closeKind ??= 'end'));
      socket.on('error', (e: NodeJS.ErrnoException) => (this.closeKind ??= e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'reset' : 'close'));
      socket.once('close', () => {
        this.closeKind ??= 'close';
        resolve(this.closeKind);
        this.wake();
      });
    });
    socket.on('data', (d: Buffer) => {
      this.received += d.length;
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.wake();
    });
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until `pred()` holds, the socket closes, or timeoutMs passes (then rejects). */
  private until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; have ${JSON.stringify(this.buf.toString('latin1', 0, 200))}`));
      }, timeoutMs);
      const check = (): void => {
        if (pred()) {
          clearTimeout(timer);
          resolve();
        } else if (this.socket.destroyed) {
          clearTimeout(timer);
          reject(new Error(`connection closed (${this.closeKind}) while waiting for ${what}; have ${JSON.stringify(this.buf.toString('latin1', 0, 200))}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next whole response; `bodiless` for answers to HEAD. */
  async response(opts: { bodiless?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    await this.until(() => this.buf.indexOf('\r\n\r\n') !== -1, timeoutMs, 'a response head');
    const end = this.buf.indexOf('\r\n\r\n');
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]!);
    if (!m) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const status = Number(m[1]);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
    }
    const len = opts.bodiless || status === 304 ? 0 : Number(headers.get('content-length') ?? 0);
    await this.until(() => this.buf.length >= end + 4 + len, timeoutMs, `a body of ${len} bytes`);
    const body = Buffer.from(this.buf.subarray(end + 4, end + 4 + len));
    this.buf = this.buf.subarray(end + 4 + len);
    return { status, headers, body };
  }

  /** Waits until at least `n` bytes have arrived in all. */
  waitReceived(n: number, timeoutMs = 5000): Promise<void> {
    return this.until(() => this.received >= n, timeoutMs, `${n} bytes`);
  }

  /** Bytes received and not yet taken as a response. */
  unread(): Buffer {
    return this.buf;
  }

  /** Resolves with how and after how long the server closed; rejects after timeoutMs. */
  async waitClosed(timeoutMs: number): Promise<{ kind: CloseKind; ms: number }> {
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const kind = await Promise.race([this.closed, timeout]);
      return { kind, ms: Date.now() - t0 };
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
