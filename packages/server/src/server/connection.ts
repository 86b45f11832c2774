/**
 * One TCP connection: bytes in → parser → requests, answered one after the
 * other (pipelining keeps order, RFC 9112 §9.3.2), until the peer leaves or
 * asks to close. Every socket error ends only this connection.
 */
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { RequestParser, type ParseEvent, type ParsedRequest } from '../http/request-parser.js';
import { ERRORS, type HttpErrorSpec } from '../http/errors.js';
import { errorResponse, httpDateNow, serializeHead, SERVER_NAME, type HeaderList } from '../http/response-head.js';
import { routeTarget } from '../http/request-target.js';
import { planFileResponse } from '../http/response-plan.js';
import { sendSpan } from './file-sender.js';
import type { ServerContext, ActiveTransfer } from './server-context.js';

/**
 * RFC 9112 §9.3: "close" when we will close; an HTTP/1.0 client that asked
 * for keep-alive is told it got it (1.0 has no persistence by default).
 */
function persistence(req: ParsedRequest): HeaderList {
  if (!req.keepAlive) return [['Connection', 'close']];
  return req.minor === 0 ? [['Connection', 'keep-alive']] : [];
}

/** Pipelined requests we hold before we stop reading from the socket. */
const MAX_QUEUED = 32;

export class Connection {
  private readonly parser: RequestParser;
  private readonly queue: ParseEvent[] = [];
  private busy = false;
  private readEnded = false;
  private requests = 0;
  private headerTimer: NodeJS.Timeout | undefined;
  /** Set once we have decided to close: later input is read and dropped. */
  private closing = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private transfer: ActiveTransfer | undefined;
  /** socket.bytesWritten when `transfer` began: more means its response has started. */
  private transferFrom = 0;
  readonly remote: string;
  readonly closed: Promise<void>;
  /** The request loop now running, if any. */
  private pumping: Promise<void> = Promise.resolve();

  constructor(
    readonly id: number,
    readonly socket: Socket,
    private readonly ctx: ServerContext,
  ) {
    this.parser = new RequestParser(ctx.parserLimits);
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.setTimeout(ctx.idleTimeoutMs);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.readEnded = true;
      // A FIN before a response starts is a half-close (the request is all
      // there is); a FIN in the middle of a transfer means the peer has gone:
      // whatever we write after it would be counted but never read. A
      // transfer starts with its first byte on the socket, not when it opens
      // the file: a FIN in between is still a half-close.
      if (this.transfer && this.socket.bytesWritten > this.transferFrom) {
        this.transfer.peerEnded = true;
        this.transfer.wake();
      }
      if (!this.busy && this.queue.length === 0) socket.end();
    });
    // EPIPE, ECONNRESET, ETIMEDOUT: the peer is gone. 'close' follows; the
    // error costs this connection and nothing else.
    socket.on('error', () => {});
    socket.on('timeout', () => socket.destroy());
    socket.once('close', () => {
      // Ends any wait of a running transfer (pacing, drain, last write).
      this.transfer?.wake();
      this.clearHeaderTimer();
      clearTimeout(this.lingerTimer);
      ctx.connections.delete(this);
      ctx.emit({ type: 'connection-closed', conn: id, remote: this.remote, requests: this.requests });
    });
  }

  /** Closed, and the last request's bookkeeping (ledger, log event) done. */
  get finished(): Promise<void> {
    return this.closed.then(() => this.pumping);
  }

  get idle(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  /** Shutdown: stop any transfer (its progress is already recorded) and close. */
  shutdown(): void {
    if (this.transfer) this.transfer.stop('stopped');
    if (this.idle) this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    const events = this.parser.push(chunk);
    if (events.length > 0) this.clearHeaderTimer();
    for (const e of events) this.queue.push(e);
    if (this.queue.length >= MAX_QUEUED) this.socket.pause();
    this.armHeaderTimer();
    if (!this.busy) this.pumping = this.pump();
  }

  /** A request's head must arrive within headerTimeoutMs (RFC 9112 §9.5 leaves timeouts to us; this stops slowloris). */
  private armHeaderTimer(): void {
    if (this.busy || this.headerTimer || this.parser.pending === 0) return;
    this.headerTimer = setTimeout(() => {
      this.headerTimer = undefined;
      if (this.busy || this.socket.destroyed) return;
      this.socket.end(errorResponse(ERRORS.HEADER_TIMEOUT));
      this.socket.destroySoon();
    }, this.ctx.headerTimeoutMs);
    this.headerTimer.unref();
  }

  private clearHeaderTimer(): void {
    if (this.headerTimer) clearTimeout(this.headerTimer);
    this.headerTimer = undefined;
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.socket.destroyed) {
        const ev = this.queue.shift()!;
        if (this.queue.length < MAX_QUEUED) this.socket.resume();
        this.requests++;
        let keepAlive: boolean;
        try {
          keepAlive = await this.handle(ev);
        } catch (e) {
          // A bug of ours, not the peer's: answer 500 if we still can, close.
          this.ctx.emit({ type: 'error', source: 'handler', error: e as Error });
          if (!this.socket.destroyed) this.socket.end(errorResponse(ERRORS.INTERNAL));
          keepAlive = false;
        }
        if (!keepAlive) {
          this.closeAfterResponse();
          return;
        }
      }
    } finally {
      this.busy = false;
    }
    if (this.readEnded && this.queue.length === 0 && !this.socket.destroyed) this.socket.end();
    else this.armHeaderTimer();
  }

  /**
   * RFC 9112 §9.6: close in stages. FIN now, keep reading (and dropping) what
   * the peer still sends so its last bytes do not turn our close into a
   * reset, but only for a while: a peer that keeps talking cannot hold the
   * connection open.
   */
  private closeAfterResponse(): void {
    this.closing = true;
    this.queue.length = 0;
    this.clearHeaderTimer();
    if (this.socket.destroyed) return;
    this.socket.end();
    this.lingerTimer = setTimeout(() => this.socket.destroy(), this.ctx.headerTimeoutMs);
    this.lingerTimer.unref();
  }

  private write(buf: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(buf, () => resolve());
    });
  }

  private async reject(err: HttpErrorSpec, req: ParsedRequest | undefined, extra: HeaderList = []): Promise<boolean> {
    const close = err.close === true || (req !== undefined && !req.keepAlive);
    this.ctx.emit({ type: 'rejected', conn: this.id, remote: this.remote, status: err.status, code: err.code, target: req?.target });
    const keep = !close && req !== undefined ? persistence(req) : [];
    await this.write(errorResponse(err, { head: req?.method === 'HEAD', close, extra: [...extra, ...keep] }));
    return !close;
  }

  /** Answers one request; resolves to whether the connection stays open. */
  private async handle(ev: ParseEvent): Promise<boolean> {
    if (ev.kind === 'error') return this.reject(ev.error, undefined);
    const req = ev.request;
    if (this.ctx.shuttingDown) return this.reject(ERRORS.SHUTTING_DOWN, req);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // RFC 9110 §15.5.6: 405 carries Allow. With a body we cannot find the
      // next request's start, so the connection closes.
      return this.reject(req.hasBody ? { ...ERRORS.METHOD_NOT_ALLOWED, close: true } : ERRORS.METHOD_NOT_ALLOWED, req, [['Allow', 'GET, HEAD']]);
    }
    if (req.hasBody) return this.reject(ERRORS.BODY_NOT_ALLOWED, req);

    const route = routeTarget(req.target);
    switch (route.kind) {
      case 'error':
        return this.reject(route.error, req);
      case 'handshake':
        return this.handshake(req);
      case 'client':
      case 'plain':
        return this.serveFile(req, route.kind === 'client' ? route.clientId : undefined, route.path);
    }
  }

  /** GET / : a new client id as the whole body (the seed's `curl HOST:PORT`). */
  private async handshake(req: ParsedRequest): Promise<boolean> {
    const head = req.method === 'HEAD';
    const id = head ? '' : randomUUID();
    if (!head) {
      try {
        await this.ctx.store.createClient(id, Date.now());
      } catch (e) {
        this.ctx.emit({ type: 'error', source: 'store', error: e as Error });
        return this.reject(ERRORS.STORE_UNAVAILABLE, req, [['Retry-After', 1]]);
      }
    }
    const headers: HeaderList = [
      ['Date', httpDateNow()],
      ['Server', SERVER_NAME],
      ['Content-Type', 'text/plain'],
      ['Content-Length', 36],
      ['Cache-Control', 'no-store'],
    ];
    headers.push(...persistence(req));
    const out = serializeHead(200, headers);
    await this.write(head ? out : Buffer.concat([out, Buffer.from(id, 'latin1')]));
    if (!head) this.ctx.emit({ type: 'handshake', conn: this.id, remote: this.remote, clientId: id });
    return req.keepAlive;
  }

  private async serveFile(req: ParsedRequest, clientId: string | undefined, segments: string[]): Promise<boolean> {
    const { store } = this.ctx;
    const head = req.method === 'HEAD';
    if (clientId !== undefined) {
      let known: boolean;
      try {
        known = await store.touchClient(clientId, Date.now());
      } catch (e) {
        this.ctx.emit({ type: 'error', source: 'store', error: e as Error });
        return this.reject(ERRORS.STORE_UNAVAILABLE, req, [['Retry-After', 1]]);
      }
      if (!known) return this.reject(ERRORS.UNKNOWN_CLIENT, req);
    }
    // A file in the catalog's cache answers at once: no promise to wait for.
    const opened = this.ctx.catalog.open(segments);
    const found = opened instanceof Promise ? await opened : opened;
    if (!found.ok) return this.reject(found.error, req);
    const rep = found.rep;
    try {
      const ledger = clientId !== undefined && req.range === undefined ? await store.getProgress(clientId, rep.relPath) : undefined;
      const plan = planFileResponse({ route: clientId !== undefined ? 'client' : 'plain', headers: req.headers, range: req.range, ifRange: req.ifRange, ledger }, rep);
      if (!plan.ok) return this.reject(plan.error, req, plan.extra);
      if (!req.keepAlive || req.minor === 0) plan.headers.push(...persistence(req));
      const headBuf = serializeHead(plan.status, plan.headers, plan.fields);
      const path = rep.relPath;
      const size = rep.size;
      this.ctx.emit({ type: 'transfer-start', conn: this.id, remote: this.remote, clientId, path, size, status: plan.status, via: plan.via, start: plan.start, length: plan.length, head: head || plan.status === 304 });
      if (head || plan.status === 304) {
        await this.write(headBuf);
        return req.keepAlive;
      }

      // A newer request for the same (client, path) ends the older transfer:
      // that device has moved on and the old connection is a zombie.
      const key = clientId !== undefined ? `${clientId}\0${rep.relPath}` : undefined;
      let ticket = 0;
      if (key !== undefined) {
        this.ctx.transfers.get(key)?.stop('superseded');
        ticket = await store.beginTransfer(clientId!, rep.relPath, { offset: plan.start, size: rep.size, etag: rep.etag }, Date.now());
      }
      let stopReason: 'superseded' | 'stopped' | undefined;
      let wake!: () => void;
      // Ends any wait in the sender (pacing, drain): close, FIN or stop.
      // (The socket's 'close' handler wakes the current transfer: a
      // `this.closed.then(wake)` here would add a reaction per request to a
      // promise that lives as long as the connection.)
      const interrupted = new Promise<void>((resolve) => (wake = resolve));
      const transfer: ActiveTransfer = {
        peerEnded: false,
        wake,
        stop: (why) => {
          stopReason ??= why;
          this.socket.destroy();
        },
      };
      this.transfer = transfer;
      if (this.socket.destroyed) wake();
      this.transferFrom = this.socket.bytesWritten;
      if (key !== undefined) this.ctx.transfers.set(key, transfer);
      const began = Date.now();
      const result = await sendSpan({
        socket: this.socket,
        handle: rep.handle,
        bytes: rep.bytes,
        head: headBuf,
        start: plan.start,
        length: plan.length,
        rate: this.ctx.rate,
        closed: interrupted,
        shouldStop: () => stopReason !== undefined,
        peerGone: () => transfer.peerEnded,
        onFlushed: (flushed) => {
          if (key === undefined || stopReason === 'superseded') return;
          store.recordProgress(clientId!, rep.relPath, ticket, plan.start + flushed, Date.now()).catch((e: Error) => this.ctx.emit({ type: 'error', source: 'store', error: e }));
        },
      });
      this.transfer = undefined;
      if (key !== undefined && this.ctx.transfers.get(key) === transfer) this.ctx.transfers.delete(key);
      const outcome = result.outcome === 'complete' ? 'complete' : result.outcome === 'file-error' ? 'file-error' : (stopReason ?? 'dropped');
      this.ctx.emit({ type: 'transfer-end', conn: this.id, remote: this.remote, clientId, path, size, outcome, start: plan.start, reached: plan.start + result.flushed, ms: Date.now() - began });
      if (outcome !== 'complete') {
        this.socket.destroy();
        return false;
      }
      return req.keepAlive;
    } finally {
      rep.release();
    }
  }
}
