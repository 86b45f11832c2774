/** `--store memory` | `--store file:<dir>` | `--store redis://HOST:PORT[/DB]` → a ProgressStore. */
import { FileStore } from './file-store.js';
import { MemoryStore } from './memory-store.js';
import type { ProgressStore, StoreLimits } from './progress-store.js';
import { RedisStore } from './redis-store.js';

export type StoreSpec = { kind: 'memory' } | { kind: 'file'; dir: string } | { kind: 'redis'; url: string };

const USAGE = 'use "memory", "file:<dir>" or "redis://HOST:PORT[/DB]"';

/** Parses a store spec; returns an error message for a person on bad input. */
export function parseStoreSpec(spec: string): StoreSpec | { error: string } {
  if (spec === 'memory') return { kind: 'memory' };
  if (spec.startsWith('file:') && spec.length > 5) return { kind: 'file', dir: spec.slice(5) };
  if (spec.startsWith('redis://')) {
    const url = URL.canParse(spec) ? new URL(spec) : undefined;
    if (!url || url.hostname === '' || url.search !== '' || url.hash !== '' || !/^(\/\d*)?$/.test(url.pathname)) {
      return { error: `bad Redis address "${spec}": ${USAGE}` };
    }
    return { kind: 'redis', url: spec };
  }
  return { error: `unknown store "${spec}": ${USAGE}` };
}

export async function openStore(spec: StoreSpec, limits: Partial<StoreLimits> = {}): Promise<ProgressStore> {
  if (spec.kind === 'memory') return new MemoryStore(limits);
  if (spec.kind === 'file') return FileStore.open({ dir: spec.dir, ...limits });
  return openRedisStore(spec.url, limits);
}

/** ioredis is an optional dependency: loaded only for a redis:// store. */
async function openRedisStore(url: string, limits: Partial<StoreLimits>): Promise<ProgressStore> {
  let Redis: typeof import('ioredis').Redis;
  try {
    ({ Redis } = await import('ioredis'));
  } catch (e) {
    throw new Error(`--store redis:// needs the optional package "ioredis", which is not installed (npm install ioredis): ${(e as Error).message}`);
  }
  // Fail fast at startup instead of queueing commands for a server that is not there.
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, connectTimeout: 5000 });
  // Connection errors reach the caller as rejected commands (the server reports
  // them as store errors); the event only keeps the last one for the message below.
  let lastError: Error | undefined;
  client.on('error', (e: Error) => {
    lastError = e;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    client.disconnect();
    throw new Error(`cannot reach Redis at ${url}: ${(lastError ?? (e as Error)).message}`);
  }
  const safe = new URL(url);
  safe.password = '';
  return new RedisStore(client, { ...limits, prefix: 'mobserve:', description: safe.toString() });
}
