/**
 * The ledger in Redis, shared by every mobserve pointed at the same server
 * and prefix. Takes an already-made ioredis client (only its type is
 * imported here, as tus-node-server's RedisKvStore) and owns it from then on:
 * close() quits it.
 *
 * Key layout (P = the key prefix, e.g. "mobserve:"):
 *
 *   P c:<id>   hash, one per client:  _seen   → last seen (ms, the caller's clock)
 *                                     f:<path> → "offset|size|ticket|etag"
 *              PEXPIRE ttlMs on every create and touch.
 *   P fresh    sorted set: never-used client ids, scored by recency (P seq)
 *   P used     sorted set: client ids with at least one file, same scores
 *   P seq      counter: the recency sequence (a touch takes the next number)
 *   P nfiles   hash: client id → its number of files (used clients only)
 *   P files    counter: total number of file entries, for counts()
 *
 * A session costs one small hash (one field per file), one sorted-set member
 * and, once it downloads, one `nfiles` field.
 *
 * Every update is one Lua script, so it is atomic across servers: a ticket
 * is incremented and written in the same step, and recordProgress moves the
 * offset only if the ticket it carries is still the one stored (newer
 * request wins, whichever server holds the older connection).
 *
 * Expiry. The caller's `now` is authoritative, exactly as in SessionTable: a
 * touch more than ttlMs after `_seen` forgets the client, and sweep() walks
 * each sorted set from its least recently seen end, forgetting clients until
 * it meets a live one. The Redis TTLs are the garbage collector behind it:
 * a client hash dies by itself ttlMs after its last touch even if no server
 * sweeps, and the index keys get the same TTL on every write, so when the
 * whole ledger goes idle for ttlMs it disappears as a whole. A client whose
 * hash Redis already expired is treated as expired wherever it is met, and
 * its file count is taken from `nfiles`, so the counters stay exact.
 *
 * Eviction (maxClients) is done in the createClient script with the same rule
 * as SessionTable: while ZCARD fresh + ZCARD used >= maxClients, forget the
 * first (least recently seen) member of `fresh`, or when it is empty, of
 * `used`. O(log n) per evicted client.
 *
 * counts() is O(1): two ZCARDs and the `files` counter. Like the memory
 * store it includes expired clients no sweep or touch has forgotten yet.
 *
 * Clients are addressed through keys built inside the scripts, so this store
 * runs on a single Redis (or a Sentinel-managed primary), not on Cluster.
 * Durability is Redis's own: createClient resolves once Redis acknowledged
 * the write; it survives a Redis restart only as far as its persistence
 * (appendonly / save) is configured to.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DEFAULT_STORE_LIMITS, type Progress, type ProgressStore, type StoreCounts, type StoreLimits, type TransferStart } from './progress-store.js';

export interface RedisStoreOptions extends Partial<StoreLimits> {
  /** Prepended to every key; give each ledger its own ("mobserve:"). */
  prefix?: string;
  /** For logs; defaults to "redis". */
  description?: string;
}

/** At most this many clients forgotten by one sweep script (Redis runs scripts one at a time). */
const SWEEP_BATCH = 1000;

// KEYS: 1 fresh, 2 used, 3 seq, 4 nfiles, 5 files, [6 the client's hash]
// ARGV: 1 prefix, 2 ttlMs, 3 client id, then per script.
const PRELUDE = `
local FRESH, USED, SEQ, NFILES, FILES, C = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local prefix, ttl, id = ARGV[1], tonumber(ARGV[2]), ARGV[3]
-- drops a client, its files and its index entries
local function forget(who)
  local n = tonumber(redis.call('HGET', NFILES, who) or '0')
  if n > 0 then redis.call('DECRBY', FILES, n) end
  redis.call('HDEL', NFILES, who)
  redis.call('ZREM', FRESH, who)
  redis.call('ZREM', USED, who)
  redis.call('DEL', prefix .. 'c:' .. who)
end
-- the index outlives every client hash
local function keepIndex()
  for _, k in ipairs({FRESH, USED, SEQ, NFILES, FILES}) do redis.call('PEXPIRE', k, ttl) end
end
`;

const SCRIPTS = {
  // ARGV 4 now, 5 maxClients → number of clients evicted
  create: `
forget(id)
local max, evicted = tonumber(ARGV[5]), 0
while redis.call('ZCARD', FRESH) + redis.call('ZCARD', USED) >= max do
  local victim = redis.call('ZRANGE', FRESH, 0, 0)[1] or redis.call('ZRANGE', USED, 0, 0)[1]
  if not victim then break end
  forget(victim)
  evicted = evicted + 1
end
redis.call('HSET', C, '_seen', ARGV[4])
redis.call('PEXPIRE', C, ttl)
redis.call('ZADD', FRESH, redis.call('INCR', SEQ), id)
keepIndex()
return evicted`,
  // ARGV 4 now → 1 alive, 0 unknown or expired (and forgotten)
  touch: `
local seen = redis.call('HGET', C, '_seen')
local now = tonumber(ARGV[4])
if not seen or now - tonumber(seen) > ttl then
  forget(id)
  return 0
end
if now > tonumber(seen) then redis.call('HSET', C, '_seen', ARGV[4]) end
redis.call('PEXPIRE', C, ttl)
local index = FRESH
if redis.call('ZSCORE', USED, id) then index = USED end
redis.call('ZADD', index, redis.call('INCR', SEQ), id)
keepIndex()
return 1`,
  // ARGV 4 field, 5 offset, 6 size, 7 etag → the new ticket, 0 for an unknown client
  begin: `
if redis.call('EXISTS', C) == 0 then return 0 end
local old = redis.call('HGET', C, ARGV[4])
local ticket = 1
if old then
  ticket = tonumber(string.match(old, '^%d+|%d+|(%d+)|')) + 1
else
  redis.call('HINCRBY', NFILES, id, 1)
  redis.call('INCR', FILES)
  if not redis.call('ZSCORE', USED, id) then
    -- first download: the client moves to the used set
    redis.call('ZREM', FRESH, id)
    redis.call('ZADD', USED, redis.call('INCR', SEQ), id)
  end
end
redis.call('HSET', C, ARGV[4], ARGV[5] .. '|' .. ARGV[6] .. '|' .. string.format('%.0f', ticket) .. '|' .. ARGV[7])
keepIndex()
return ticket`,
  // ARGV 4 field, 5 ticket, 6 offset → 1 moved, 0 not the owner
  record: `
local old = redis.call('HGET', C, ARGV[4])
if not old then return 0 end
local size, ticket, etag = string.match(old, '^%d+|(%d+)|(%d+)|(.*)$')
if ticket ~= ARGV[5] then return 0 end
local offset = ARGV[6]
if tonumber(offset) > tonumber(size) then offset = size end
redis.call('HSET', C, ARGV[4], offset .. '|' .. size .. '|' .. ticket .. '|' .. etag)
return 1`,
  // ARGV 4 now, 5 batch → {forgotten, 1 if done}
  sweep: `
local now, batch, gone = tonumber(ARGV[4]), tonumber(ARGV[5]), 0
for _, index in ipairs({FRESH, USED}) do
  while true do
    if gone >= batch then return {gone, 0} end
    local who = redis.call('ZRANGE', index, 0, 0)[1]
    if not who then break end
    local seen = redis.call('HGET', prefix .. 'c:' .. who, '_seen')
    if seen and now - tonumber(seen) <= ttl then break end
    forget(who)
    gone = gone + 1
  end
end
return {gone, 1}`,
  counts: `
return {redis.call('ZCARD', FRESH) + redis.call('ZCARD', USED), tonumber(redis.call('GET', FILES) or '0')}`,
} as const;

type ScriptName = keyof typeof SCRIPTS;

interface Script {
  lua: string;
  sha: string;
}

const COMPILED = Object.fromEntries(
  Object.entries(SCRIPTS).map(([name, body]) => {
    const lua = PRELUDE + body;
    return [name, { lua, sha: createHash('sha1').update(lua).digest('hex') }];
  }),
) as Record<ScriptName, Script>;

export class RedisStore implements ProgressStore {
  readonly description: string;
  private readonly limits: StoreLimits;
  private readonly prefix: string;
  /** KEYS[1..5] of every script (fresh, used, seq, nfiles, files); the client's key follows when there is one. */
  private readonly indexKeys: readonly string[];
  private closed = false;

  constructor(
    private readonly client: Redis,
    options: RedisStoreOptions = {},
  ) {
    const { prefix = 'mobserve:', description = 'redis', ...limits } = options;
    this.limits = { ...DEFAULT_STORE_LIMITS, ...limits };
    this.prefix = prefix;
    this.indexKeys = ['fresh', 'used', 'seq', 'nfiles', 'files'].map((k) => `${prefix}${k}`);
    this.description = description;
  }

  async createClient(clientId: string, now: number): Promise<void> {
    await this.run('create', clientId, [wholeNumber(now), String(this.limits.maxClients)]);
  }

  async touchClient(clientId: string, now: number): Promise<boolean> {
    return (await this.run('touch', clientId, [wholeNumber(now)])) === 1;
  }

  async getProgress(clientId: string, path: string): Promise<Progress | undefined> {
    const raw = await this.client.hget(this.clientKey(clientId), fileField(path));
    return raw === null ? undefined : decodeProgress(raw);
  }

  async beginTransfer(clientId: string, path: string, start: TransferStart): Promise<number> {
    const args = [fileField(path), wholeNumber(start.offset), wholeNumber(start.size), start.etag];
    return Number(await this.run('begin', clientId, args));
  }

  async recordProgress(clientId: string, path: string, ticket: number, offset: number): Promise<boolean> {
    return (await this.run('record', clientId, [fileField(path), wholeNumber(ticket), wholeNumber(offset)])) === 1;
  }

  async sweep(now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const [gone, done] = (await this.run('sweep', undefined, [wholeNumber(now), String(SWEEP_BATCH)])) as [number, number];
      total += gone;
      if (done === 1) return total;
    }
  }

  async counts(): Promise<StoreCounts> {
    const [clients, files] = (await this.run('counts', undefined, [])) as [number, number];
    return { clients, files };
  }

  /** Every write was acknowledged by Redis when it resolved; this only releases the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private clientKey(clientId: string): string {
    return `${this.prefix}c:${clientId}`;
  }

  /** EVALSHA, loading the script on the first NOSCRIPT (after a Redis restart too). */
  private async run(name: ScriptName, clientId: string | undefined, extra: string[]): Promise<unknown> {
    const keys = clientId !== undefined ? [...this.indexKeys, this.clientKey(clientId)] : this.indexKeys;
    const args = [...keys, this.prefix, String(this.limits.ttlMs), clientId ?? '', ...extra];
    const { lua, sha } = COMPILED[name];
    try {
      return await this.client.evalsha(sha, keys.length, ...args);
    } catch (e) {
      if (!String((e as Error).message).includes('NOSCRIPT')) throw e;
      return this.client.eval(lua, keys.length, ...args);
    }
  }
}

function fileField(path: string): string {
  return `f:${path}`;
}

/** "offset|size|ticket|etag" (the etag last: it may hold any character). */
function decodeProgress(raw: string): Progress {
  const m = /^(\d+)\|(\d+)\|(\d+)\|(.*)$/s.exec(raw);
  if (!m) throw new Error(`corrupt ledger entry in Redis: ${JSON.stringify(raw)}`);
  return { offset: Number(m[1]), size: Number(m[2]), ticket: Number(m[3]), etag: m[4]! };
}

/** Offsets, sizes, tickets and times are whole numbers; anything else is a programmer error. */
function wholeNumber(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`expected a whole number, got ${n}`);
  return String(n);
}
