#!/usr/bin/env node
/**
 * mobserve: the command line. Parses options, opens the store, starts the
 * server, prints one line per event, and shuts down cleanly on SIGINT/SIGTERM.
 *
 * Exit codes: 0 clean shutdown, 2 usage error, 3 cannot listen (port busy,
 * bad host), 4 cannot open the ledger (locked by another process, unreadable).
 */
import { Command, InvalidArgumentError } from 'commander';
import cluster from 'node:cluster';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDuration, parseSize } from '@mobserve/common';
import { makePalette } from '@mobserve/common/color';
import { createServer } from '../server/create-server.js';
import { FileStore } from '../ledger/file-store.js';
import { openStore, parseStoreSpec } from '../ledger/open-store.js';
import { DEFAULT_STORE_LIMITS, type ProgressStore } from '../ledger/progress-store.js';
import { formatEvent } from '../cli/log-format.js';
import { DEFAULT_CATALOG_LIMITS } from '../files/file-catalog.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** packages/server/dist/bin → the repository's fixtures/ */
const DEFAULT_ROOT = path.resolve(here, '../../../../fixtures');

function sizeArg(v: string): number {
  const n = parseSize(v);
  if (typeof n !== 'number') throw new InvalidArgumentError(n.error);
  return n;
}
function durationArg(v: string): number {
  const n = parseDuration(v);
  if (typeof n !== 'number' || n <= 0) throw new InvalidArgumentError(typeof n === 'number' ? 'must be positive' : n.error);
  return n;
}
function windowArg(v: string): number {
  const n = parseDuration(v);
  if (typeof n !== 'number') throw new InvalidArgumentError(n.error);
  return n;
}
function portArg(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError('a port is a number from 0 to 65535');
  return n;
}
function countArg(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1) throw new InvalidArgumentError('a whole number above 0');
  return n;
}

const program = new Command()
  .name('mobserve')
  .description('An HTTP/1.1 file server that remembers how far every device got, so a device that drops gets exactly the rest.')
  .option('-p, --port <port>', 'TCP port; 0 picks a free one and prints it', portArg, 8080)
  .option('-H, --host <host>', 'address to listen on', '127.0.0.1')
  .option('-r, --root <dir>', 'directory to serve', DEFAULT_ROOT)
  .option('-s, --store <spec>', 'progress ledger: "memory", "file:<dir>" (survives restarts and SIGKILL), or "redis://HOST:PORT[/DB]" (shared by several servers; needs the optional package ioredis)', 'file:.mobserve')
  .option('--rate <bytes>', 'pace each transfer to this many bytes per second (e.g. 20k), to watch drops live', sizeArg)
  .option('--session-ttl <duration>', 'forget a device unseen for this long (e.g. 30m, 24h, 7d)', durationArg, DEFAULT_STORE_LIMITS.ttlMs)
  .option('--max-sessions <n>', 'at most this many devices; a new one evicts the least recently seen unused one first', countArg, DEFAULT_STORE_LIMITS.maxClients)
  .option('--max-connections <n>', 'at most this many connections; more get 503 and Retry-After', countArg, 8192)
  .option('-w, --workers <n>', 'serve with n processes (node:cluster) sharing the port; needs --store redis://…', countArg, 1)
  .option('--idle-timeout <duration>', 'close a connection silent this long', durationArg, 30_000)
  .option('--header-timeout <duration>', 'a request head must arrive within this long', durationArg, 10_000)
  .option('--revalidate <duration>', 'check a file held in memory (≤ 1 MiB) for replacement at most this often; 0: on every request', windowArg, DEFAULT_CATALOG_LIMITS.revalidateMs)
  .option('-v, --verbose', 'also log closed connections and HEAD requests')
  .option('-q, --quiet', 'log only errors')
  .option('--no-color', 'plain output (NO_COLOR is honoured too)')
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program.parse();
const opts = program.opts<{
  port: number;
  host: string;
  root: string;
  store: string;
  rate?: number;
  sessionTtl: number;
  maxSessions: number;
  maxConnections: number;
  workers: number;
  idleTimeout: number;
  headerTimeout: number;
  revalidate: number;
  verbose?: boolean;
  quiet?: boolean;
  color: boolean;
}>();

const c = makePalette({ color: opts.color, stream: process.stderr });
const fail = (code: number, message: string): never => {
  process.stderr.write(`${c.red('mobserve:')} ${message}\n`);
  process.exit(code);
};

const root = path.resolve(opts.root);
if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) fail(2, `root ${root} is not a directory`);
const spec = parseStoreSpec(opts.store);
if ('error' in spec) fail(2, spec.error);

if (opts.workers > 1) {
  if ((spec as { kind: string }).kind !== 'redis') fail(2, '--workers needs a ledger the processes can share: --store redis://HOST:PORT');
  if (cluster.isPrimary) await runPrimary(opts.workers);
}

/**
 * The primary of --workers: forks n copies of this command, which share the
 * listening socket (node:cluster) and the ledger (Redis). A worker that dies
 * is replaced, unless it dies at start (then the command fails with its
 * exit code). SIGINT/SIGTERM is passed on and the primary exits when all
 * workers have shut down.
 */
async function runPrimary(n: number): Promise<never> {
  let stopping = false;
  const started = Date.now();
  const fork = () => {
    const w = cluster.fork();
    w.on('exit', (code, signal) => {
      if (stopping) return;
      if (Date.now() - started < 3000 && code !== 0) {
        stopping = true;
        for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
        process.exit(code ?? 1);
      }
      process.stderr.write(`mobserve: worker ${w.process.pid} exited (${signal ?? code}); starting another\n`);
      fork();
    });
  };
  for (let i = 0; i < n; i++) fork();
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return new Promise<never>(() => {});
}

let store: ProgressStore;
try {
  store = await openStore(spec as Exclude<typeof spec, { error: string }>, { ttlMs: opts.sessionTtl, maxClients: opts.maxSessions });
} catch (e) {
  fail(4, `cannot open the ledger ${opts.store}: ${(e as Error).message}`);
}

const server = createServer({
  root,
  store: store!,
  host: opts.host,
  port: opts.port,
  rate: opts.rate,
  idleTimeoutMs: opts.idleTimeout,
  headerTimeoutMs: opts.headerTimeout,
  revalidateMs: opts.revalidate,
  maxConnections: opts.maxConnections,
});
server.on((e) => {
  if (opts.quiet && e.type !== 'error') return;
  const line = formatEvent(e, c, opts.verbose);
  if (line) process.stdout.write(`${line}\n`);
});

try {
  await server.listen();
} catch (e) {
  await store!.close().catch(() => undefined);
  fail(3, `cannot listen on ${opts.host}:${opts.port}: ${(e as Error).message}`);
}
const recovery = store! instanceof FileStore ? store.recovery : undefined;
if (recovery && recovery.discardedBytes > 0) {
  process.stdout.write(`${c.yellow('mobserve: ledger recovered:')} ${recovery.records} records kept, ${recovery.discardedBytes} bytes of a torn or corrupt tail cut (${recovery.problem})\n`);
}
const counts = await store!.counts();
process.stdout.write(
  `${c.bold('mobserve')}${cluster.isWorker ? ` worker ${process.pid}` : ''} listening on ${c.cyan(server.url)}  root ${root}  ledger ${store!.description} (${counts.clients} devices, ${counts.files} paused files)` +
    `${opts.rate ? `  rate ${opts.rate} B/s` : ''}\n`,
);

let stopping = false;
const stop = async (signal: string): Promise<void> => {
  if (stopping) {
    process.stderr.write('mobserve: second signal, exiting now\n');
    process.exit(130);
  }
  stopping = true;
  process.stdout.write(`${c.yellow(`mobserve: ${signal}, shutting down`)}\n`);
  await server.close(3000);
  try {
    await store!.close();
  } catch (e) {
    // The last ledger writes failed (disk full, I/O error): say so, not exit 0.
    fail(1, `the ledger could not be closed cleanly: ${(e as Error).message}`);
  }
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
