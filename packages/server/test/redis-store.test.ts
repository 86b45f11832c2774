/**
 * RedisStore: the contract against a real redis-server, then what only a
 * shared Redis can get wrong (two stores on one ledger, keys left behind).
 *
 * The server comes from MOBSERVE_TEST_REDIS (redis://127.0.0.1:PORT);
 * `pnpm test` starts a private one (scripts/with-redis.mjs). Without it the
 * suite fails: a store nobody tested must not look green.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { parseStoreSpec } from '../src/ledger/open-store.js';
import type { ProgressStore } from '../src/ledger/progress-store.js';
import { RedisStore } from '../src/ledger/redis-store.js';
import { progressStoreContract } from './progress-store.contract.js';

const URL_ENV = process.env.MOBSERVE_TEST_REDIS;
const HOW =
  'MOBSERVE_TEST_REDIS is not set: the RedisStore tests need a real redis-server. ' +
  'Run them through `pnpm test` (it starts one), or `node scripts/with-redis.mjs jest packages/server`, ' +
  "or start one yourself (redis-server --port 6390 --save '' --appendonly no) and set MOBSERVE_TEST_REDIS=redis://127.0.0.1:6390";

const A = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const V1 = { size: 1000, etag: '"v1"' };

function connect(): Redis {
  if (!URL_ENV) throw new Error(HOW);
  return new Redis(URL_ENV, { maxRetriesPerRequest: 1 });
}

/** Deletes every key under `prefix` (the test's own keys only). */
async function dropKeys(prefix: string): Promise<void> {
  const admin = connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
}

describe('RedisStore needs a redis-server', () => {
  it('MOBSERVE_TEST_REDIS names one', () => {
    if (!URL_ENV) throw new Error(HOW);
    expect(parseStoreSpec(URL_ENV)).toEqual({ kind: 'redis', url: URL_ENV });
  });
});

progressStoreContract('RedisStore', async (opts) => {
  const prefix = `mobserve-test:${randomUUID()}:`;
  const opened: RedisStore[] = [];
  const openStore = async (): Promise<RedisStore> => {
    const s = new RedisStore(connect(), { ...opts, prefix });
    opened.push(s);
    return s;
  };
  return {
    store: await openStore(),
    // A new connection on the same keys: what a restarted (or another) mobserve sees.
    reopen: openStore,
    cleanup: async () => {
      for (const s of opened) await s.close();
      await dropKeys(prefix);
    },
  };
});

describe('RedisStore', () => {
  let prefix: string;
  const open: RedisStore[] = [];
  const now = Date.now();

  const openAt = (ttlMs?: number): ProgressStore => {
    const s = new RedisStore(connect(), { prefix, ...(ttlMs === undefined ? {} : { ttlMs }) });
    open.push(s);
    return s;
  };

  beforeEach(() => {
    prefix = `mobserve-test:${randomUUID()}:`;
  });

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    await dropKeys(prefix);
  });

  it('two servers on one ledger: the newer request wins whichever server holds it', async () => {
    const one = openAt();
    const two = openAt();
    await one.createClient(A, now);
    expect(await two.touchClient(A, now + 1)).toBe(true);
    const zombie = await one.beginTransfer(A, 'x', { offset: 0, ...V1 }, now + 2);
    const current = await two.beginTransfer(A, 'x', { offset: 300, ...V1 }, now + 3);
    expect(current).toBeGreaterThan(zombie);
    expect(await one.recordProgress(A, 'x', zombie, 900, now + 4)).toBe(false);
    expect(await two.recordProgress(A, 'x', current, 400, now + 5)).toBe(true);
    expect(await one.getProgress(A, 'x')).toEqual({ offset: 400, ...V1, ticket: current });
  });

  it('concurrent beginTransfer calls get distinct, increasing tickets', async () => {
    const stores = [openAt(), openAt(), openAt()];
    await stores[0]!.createClient(A, now);
    const tickets = await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % 3]!.beginTransfer(A, 'x', { offset: 0, ...V1 }, now)));
    expect([...tickets].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('createClient is acknowledged by Redis before it resolves', async () => {
    const store = openAt();
    await store.createClient(A, now);
    const other = connect();
    try {
      expect(await other.hget(`${prefix}c:${A}`, '_seen')).toBe(String(now));
    } finally {
      other.disconnect();
    }
  });

  it('a session carries a Redis TTL that every touch renews', async () => {
    const store = openAt(60_000);
    const other = connect();
    try {
      await store.createClient(A, now);
      const ttl1 = await other.pttl(`${prefix}c:${A}`);
      expect(ttl1).toBeGreaterThan(50_000);
      expect(ttl1).toBeLessThanOrEqual(60_000);
      await other.pexpire(`${prefix}c:${A}`, 10_000);
      expect(await store.touchClient(A, now + 1)).toBe(true);
      expect(await other.pttl(`${prefix}c:${A}`)).toBeGreaterThan(50_000);
      for (const k of ['fresh', 'seq']) expect(await other.pttl(`${prefix}${k}`)).toBeGreaterThan(50_000);
    } finally {
      other.disconnect();
    }
  });

  it('a session Redis already expired is gone, and the counters stay exact', async () => {
    const store = openAt(60_000);
    const other = connect();
    try {
      await store.createClient(A, now);
      await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, now);
      await store.beginTransfer(A, 'y', { offset: 0, ...V1 }, now);
      await other.del(`${prefix}c:${A}`); // what PEXPIRE does when no server touched A in time
      expect(await store.getProgress(A, 'x')).toBeUndefined();
      expect(await store.sweep(now + 1)).toBe(1);
      expect(await store.counts()).toEqual({ clients: 0, files: 0 });
      expect(await store.touchClient(A, now + 2)).toBe(false);
    } finally {
      other.disconnect();
    }
  });

  it('paths and etags with the separator and odd characters round-trip', async () => {
    const store = openAt();
    await store.createClient(A, now);
    const etag = '"a|b|c"';
    for (const p of ['a|b', '_seen', 'f:x', 'caf\u00e9 \u{1F600}.bin']) {
      const t = await store.beginTransfer(A, p, { offset: 3, size: 10, etag }, now);
      expect(await store.recordProgress(A, p, t, 7, now)).toBe(true);
      expect(await store.getProgress(A, p)).toEqual({ offset: 7, size: 10, etag, ticket: t });
    }
    expect(await store.touchClient(A, now + 1)).toBe(true);
  });

  it('large offsets and sizes survive the Lua number round trip', async () => {
    const store = openAt();
    await store.createClient(A, now);
    const size = 2 ** 52 + 1;
    const t = await store.beginTransfer(A, 'big', { offset: 0, size, etag: '"v"' }, now);
    expect(await store.recordProgress(A, 'big', t, size - 2, now)).toBe(true);
    expect(await store.getProgress(A, 'big')).toEqual({ offset: size - 2, size, etag: '"v"', ticket: t });
    expect(await store.recordProgress(A, 'big', t, size + 10, now)).toBe(true);
    expect((await store.getProgress(A, 'big'))?.offset).toBe(size);
  });
});

describe('parseStoreSpec(redis://…)', () => {
  it.each([
    ['redis://127.0.0.1:6379', { kind: 'redis', url: 'redis://127.0.0.1:6379' }],
    ['redis://cache.local:6380/2', { kind: 'redis', url: 'redis://cache.local:6380/2' }],
    ['redis://[::1]:6379/', { kind: 'redis', url: 'redis://[::1]:6379/' }],
  ])('%s is accepted', (spec, want) => {
    expect(parseStoreSpec(spec)).toEqual(want);
  });

  it.each(['redis://', 'redis://host:6379/db', 'redis://host:6379/1/2', 'redis://host:6379?x=1', 'redis://host:99999', 'redis:host'])(
    '%s is refused with a message',
    (spec) => {
      const got = parseStoreSpec(spec);
      expect(got).toHaveProperty('error');
      expect((got as { error: string }).error).toContain('redis://HOST:PORT[/DB]');
    },
  );
});
