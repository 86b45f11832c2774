/**
 * A TCP proxy that breaks connections on purpose, for chaos tests: it sits
 * between mobget and mobserve and, per accepted connection, either passes
 * the bytes through untouched or injects one fault:
 *
 * - cut:        after N bytes in one direction, both sockets go at once,
 *               with RST (`resetAndDestroy`) or a plain `destroy`;
 *               down (server → client: mid-head or mid-body) or up
 *               (client → server: in the middle of the request head);
 * - stall:      after N bytes in one direction, forward nothing more in
 *               that direction for some milliseconds; some stalls outlast
 *               the client's timeout, so its `timeoutMs` has to fire;
 * - half-close: after N bytes in one direction, FIN that direction's
 *               receiver and keep the other direction open: down = FIN to
 *               the client while the upstream stays open (held, or drained
 *               so the server thinks its bytes were read); up = FIN to the
 *               server while its response still flows to the client.
 *
 * Decisions come from a seeded PRNG (mulberry32) keyed by the seed and the
 * connection's accept index, so the same seed and the same order of
 * connections give the same faults at the same byte offsets. TCP timing
 * still varies from run to run: which download's connection is accepted
 * n-th, how chunks are split, and whether a cut lands before or after the
 * kernel delivered the last bytes are not under our control, so a run is
 * reproducible in kind and proportion, not packet for packet.
 *
 * Piping honours backpressure (pause the source while the destination needs
 * a drain); when one side goes, the other is destroyed too (after flushing,
 * if it went with an orderly FIN); `close()` destroys everything.
 */
import * as net from 'node:net';
import { mulberry32 } from '@mobserve/common';

export type FaultKind = 'cut-down' | 'cut-up' | 'stall-down' | 'stall-up' | 'half-close-down' | 'half-close-up';
export const FAULT_KINDS: readonly FaultKind[] = ['cut-down', 'cut-up', 'stall-down', 'stall-up', 'half-close-down', 'half-close-up'];

export interface ChaosFaults {
  /** Relative weight of each decision per connection; `pass` is a clean pass-through. */
  weights?: Partial<Record<FaultKind | 'pass', number>>;
  /** Down-direction offsets: up to this many bytes (log-uniform above the head zone). Default 8 MiB. */
  maxDownBytes?: number;
  /** Share of down-direction offsets inside the first 512 bytes (the response head). Default 0.3. */
  headZoneChance?: number;
  /** Up-direction offsets: 0 .. this (a request head is 60-200 bytes). Default 96. */
  maxUpBytes?: number;
  /** Short stalls last this many ms (uniform). Default [20, 800]. */
  stallMs?: [number, number];
  /** Share of stalls that last `longStallMs` instead. Default 0.25. */
  longStallChance?: number;
  /** A long stall; make it longer than the client's timeoutMs. Default 3500. */
  longStallMs?: number;
}

export type Direction = 'down' | 'up';

/** What the proxy will do to one connection. */
export type ConnectionPlan =
  | { kind: 'pass' }
  | { kind: 'cut'; dir: Direction; at: number; how: 'reset' | 'destroy' }
  | { kind: 'stall'; dir: Direction; at: number; ms: number; long: boolean }
  | { kind: 'half-close'; dir: Direction; at: number; other: 'hold' | 'drain' };

export interface ChaosStats {
  /** Connections accepted. */
  connections: number;
  /** Connections open now (client side), and the most at once. */
  open: number;
  peakOpen: number;
  /** Plans drawn, by decision (a fault whose offset is past the end of the traffic never fires). */
  planned: Record<FaultKind | 'pass', number>;
  /** Faults that actually fired, by kind. */
  faults: Record<FaultKind, number>;
  /** Long stalls (longer than longStallMs) that fired. */
  longStalls: number;
  /** Cuts that fired as RST. */
  resets: number;
  /** Bytes forwarded server → client and client → server. */
  bytesDown: number;
  bytesUp: number;
  /** Upstream connects that failed. */
  upstreamErrors: number;
  /** Sockets (either side) not closed yet; 0 after close() unless one leaked. */
  liveSockets: number;
}

export interface ChaosProxy {
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  stats(): ChaosStats;
  /** The plan of the n-th accepted connection (0-based), as drawn. */
  plans(): readonly ConnectionPlan[];
  /** Stops listening and destroys every socket. */
  close(): Promise<void>;
}

export interface ChaosProxyOptions {
  target: { host: string; port: number };
  seed: number;
  faults?: ChaosFaults;
  /** Overrides the seeded draw (to test one fault exactly). */
  plan?: (index: number) => ConnectionPlan;
}

const DEFAULT_WEIGHTS: Record<FaultKind | 'pass', number> = {
  pass: 0.3,
  'cut-down': 0.2,
  'cut-up': 0.1,
  'stall-down': 0.1,
  'stall-up': 0.05,
  'half-close-down': 0.15,
  'half-close-up': 0.1,
};


/** The plan for connection `index` under `seed`: pure, so a run's faults can be replayed. */
export function planConnection(seed: number, index: number, faults: ChaosFaults = {}): ConnectionPlan {
  const rng = mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const weights = { ...DEFAULT_WEIGHTS, ...faults.weights };
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  let pick = rng() * total;
  let kind: FaultKind | 'pass' = 'pass';
  for (const [k, w] of Object.entries(weights) as Array<[FaultKind | 'pass', number]>) {
    if (w <= 0) continue;
    kind = k;
    if ((pick -= w) < 0) break;
  }
  if (kind === 'pass') return { kind };
  const dir: Direction = kind.endsWith('-up') ? 'up' : 'down';
  const maxDown = faults.maxDownBytes ?? 8 * 1024 * 1024;
  const at =
    dir === 'up'
      ? Math.floor(rng() * ((faults.maxUpBytes ?? 96) + 1))
      : rng() < (faults.headZoneChance ?? 0.3)
        ? Math.floor(rng() * 512)
        : Math.floor(512 * (maxDown / 512) ** rng());
  if (kind.startsWith('cut')) return { kind: 'cut', dir, at, how: rng() < 0.5 ? 'reset' : 'destroy' };
  if (kind.startsWith('half-close')) return { kind: 'half-close', dir, at, other: rng() < 0.5 ? 'hold' : 'drain' };
  const [lo, hi] = faults.stallMs ?? [20, 800];
  const long = rng() < (faults.longStallChance ?? 0.25);
  return { kind: 'stall', dir, at, long, ms: long ? (faults.longStallMs ?? 3500) : Math.floor(lo + rng() * (hi - lo)) };
}

function zero<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

export function startChaosProxy(options: ChaosProxyOptions): Promise<ChaosProxy> {
  const { target, seed, faults = {} } = options;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const plans: ConnectionPlan[] = [];
  const stats: ChaosStats = {
    connections: 0,
    open: 0,
    peakOpen: 0,
    planned: zero<FaultKind | 'pass'>(['pass', ...FAULT_KINDS]),
    faults: zero(FAULT_KINDS),
    longStalls: 0,
    resets: 0,
    bytesDown: 0,
    bytesUp: 0,
    upstreamErrors: 0,
    liveSockets: 0,
  };

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const index = stats.connections++;
    const plan = options.plan ? options.plan(index) : planConnection(seed, index, faults);
    plans.push(plan);
    stats.planned[plan.kind === 'pass' ? 'pass' : (`${plan.kind}-${plan.dir}` as FaultKind)]++;
    stats.peakOpen = Math.max(stats.peakOpen, ++stats.open);
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      // ECONNRESET, EPIPE: the point of this proxy. 'close' follows.
      s.on('error', () => {});
      s.once('close', () => sockets.delete(s));
    }
    client.once('close', () => stats.open--);
    let connected = false;
    upstream.once('connect', () => (connected = true));
    upstream.once('error', () => {
      if (!connected) stats.upstreamErrors++;
    });

    /** Both sockets go now; RST on both if `reset`. */
    const cutBoth = (reset: boolean): void => {
      for (const s of [client, upstream]) {
        if (s.destroyed) continue;
        // Node 20: resetAndDestroy() while a FIN (shutdown) is in flight fails
        // with EINVAL and never closes the handle: no 'close', a leaked fd, and
        // a process that spins at exit. After end(), a plain destroy it is.
        if (reset && !s.connecting && !s.writableEnded) s.resetAndDestroy();
        else s.destroy();
      }
    };

    const down = pipeDirection('down', upstream, client);
    const up = pipeDirection('up', client, upstream);

    // When one side goes the other goes too: at once if it was torn down,
    // after its last bytes are flushed if it left with an orderly FIN (also
    // when that FIN still waits behind a stall).
    const follow = (gone: net.Socket, other: net.Socket, into: { endPending(): boolean }): void => {
      gone.once('close', () => {
        if (other.destroyed) return;
        if ((other.writableEnded && !other.writableFinished) || into.endPending()) other.once('finish', () => other.destroy());
        else other.destroy();
      });
    };
    follow(client, upstream, up);
    follow(upstream, client, down);

    function pipeDirection(dir: Direction, src: net.Socket, dst: net.Socket): { endPending(): boolean } {
      const fault = plan.kind !== 'pass' && plan.dir === dir ? plan : undefined;
      let forwarded = 0;
      let fired = false;
      /** Forwarding stopped for good in this direction: later bytes are dropped. */
      let dead = false;
      /** Reading stopped for good (a held half-close, a cut). */
      let frozen = false;
      /** Bytes that arrived during a stall, in order, and a FIN that did. */
      let stalled: Buffer[] | undefined;
      let endDuringStall = false;
      let needDrain = false;
      const resume = (): void => {
        if (!frozen && !stalled && !needDrain && !src.destroyed) src.resume();
      };
      const send = (chunk: Buffer): void => {
        if (chunk.length === 0 || dst.destroyed) return;
        if (dir === 'down') stats.bytesDown += chunk.length;
        else stats.bytesUp += chunk.length;
        if (!dst.write(chunk) && !needDrain) {
          needDrain = true;
          src.pause();
          dst.once('drain', () => {
            needDrain = false;
            resume();
          });
        }
      };
      const fire = (f: Exclude<ConnectionPlan, { kind: 'pass' }>, rest: Buffer): void => {
        fired = true;
        stats.faults[`${f.kind}-${dir}` as FaultKind]++;
        switch (f.kind) {
          case 'cut': {
            dead = frozen = true;
            src.pause();
            const reset = f.how === 'reset';
            if (reset) stats.resets++;
            // The bytes before the cut are written; cut once they are out (an RST
            // would drop what still sits in the kernel's send buffer anyway).
            if (dst.destroyed || dst.writableLength === 0) cutBoth(reset);
            else dst.write(Buffer.alloc(0), () => cutBoth(reset));
            return;
          }
          case 'stall':
            if (f.long) stats.longStalls++;
            stalled = rest.length > 0 ? [rest] : [];
            src.pause();
            later(f.ms, () => {
              const held = stalled ?? [];
              stalled = undefined;
              if (src.destroyed && dst.destroyed) return;
              for (const b of held) send(b);
              if (endDuringStall && !dst.destroyed) dst.end();
              resume();
            });
            return;
          case 'half-close':
            dead = true;
            if (!dst.destroyed) dst.end();
            // hold: stop reading, the sender's bytes back up in its kernel buffers;
            // drain: keep reading and throw the bytes away.
            if (f.other === 'hold') {
              frozen = true;
              src.pause();
            }
            return;
        }
      };
      src.on('data', (chunk: Buffer) => {
        if (dead) return;
        if (stalled) {
          stalled.push(chunk);
          return;
        }
        forwarded += chunk.length;
        if (fault && !fired && forwarded >= fault.at) {
          const keep = chunk.length - (forwarded - fault.at);
          send(chunk.subarray(0, keep));
          fire(fault, chunk.subarray(keep));
          return;
        }
        send(chunk);
      });
      src.on('end', () => {
        // The sender is done: pass its FIN on after everything before it.
        if (dead || dst.destroyed) return;
        if (stalled) endDuringStall = true;
        else dst.end();
      });
      return { endPending: () => stalled !== undefined && endDuringStall };
    }
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        stats: () => ({ ...stats, planned: { ...stats.planned }, faults: { ...stats.faults }, liveSockets: sockets.size }),
        plans: () => plans,
        async close() {
          for (const t of timers) clearTimeout(t);
          timers.clear();
          // Sockets leave the set on 'close', so every one still in it has a 'close' to come.
          const closed = [...sockets].map((s) => new Promise<void>((r) => s.once('close', () => r())));
          for (const s of sockets) s.destroy();
          const listenerClosed = new Promise<void>((r) => server.close(() => r()));
          // A socket that never emits 'close' after destroy() is a leak (and
          // holds the listener open): give up waiting; stats().liveSockets shows it.
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([Promise.all([...closed, listenerClosed]), new Promise((r) => (timer = setTimeout(r, 2000)))]);
          clearTimeout(timer);
        },
      });
    });
  });
}
