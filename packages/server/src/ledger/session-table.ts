/**
 * The in-memory ledger shared by the memory and file stores. Pure data
 * structure: no I/O, no clock (callers pass `now`).
 *
 * Clients live in two Maps, each kept in least-recently-seen order (a touch
 * moves the client to the end): `fresh` holds IDs that never started a
 * download, `used` those with at least one file entry. Expiry and eviction
 * pop from the fronts:
 * - expiry: a client unseen for longer than ttlMs is gone;
 * - eviction: creating a client beyond maxClients drops the least recently
 *   seen *fresh* client, and only when there is none, the least recently
 *   seen used one. A flood of `GET /` therefore evicts only other
 *   never-used IDs, never a device's paused download, until the table holds
 *   nothing but paused downloads (docs/DESIGN.md).
 */
import type { Progress, StoreLimits, TransferStart } from './progress-store.js';

interface ClientEntry {
  lastSeen: number;
  files: Map<string, Progress> | undefined;
}

export class SessionTable {
  private readonly fresh = new Map<string, ClientEntry>();
  private readonly used = new Map<string, ClientEntry>();
  private fileCount = 0;

  constructor(readonly limits: StoreLimits) {}

  get clientCount(): number {
    return this.fresh.size + this.used.size;
  }

  get progressCount(): number {
    return this.fileCount;
  }

  /** Adds a client; returns the ids evicted to respect maxClients. */
  create(clientId: string, now: number): string[] {
    const evicted: string[] = [];
    this.remove(clientId);
    while (this.clientCount >= this.limits.maxClients) {
      const victim = firstKey(this.fresh) ?? firstKey(this.used);
      if (victim === undefined) break;
      this.remove(victim);
      evicted.push(victim);
    }
    this.fresh.set(clientId, { lastSeen: now, files: undefined });
    return evicted;
  }

  /** Replay: the client was seen at `time` (creates it if needed). */
  seen(clientId: string, time: number): void {
    const entry = this.find(clientId);
    if (!entry) {
      this.create(clientId, time);
      return;
    }
    entry.lastSeen = Math.max(entry.lastSeen, time);
    this.moveToEnd(clientId, entry);
  }

  /** Refreshes lastSeen; false (and forgets it) if unknown or expired. */
  touch(clientId: string, now: number): boolean {
    const entry = this.find(clientId);
    if (!entry) return false;
    if (now - entry.lastSeen > this.limits.ttlMs) {
      this.remove(clientId);
      return false;
    }
    entry.lastSeen = Math.max(entry.lastSeen, now);
    this.moveToEnd(clientId, entry);
    return true;
  }

  get(clientId: string, path: string): Progress | undefined {
    return this.used.get(clientId)?.files?.get(path);
  }

  /** Sets an entry outright (replay and begin). Unknown clients are ignored. */
  put(clientId: string, path: string, progress: Progress): boolean {
    let entry = this.used.get(clientId);
    if (!entry) {
      entry = this.fresh.get(clientId);
      if (!entry) return false;
      // First download: the client moves to the used table.
      this.fresh.delete(clientId);
      this.used.set(clientId, entry);
    }
    if (!entry.files) entry.files = new Map();
    if (!entry.files.has(path)) this.fileCount++;
    entry.files.set(path, progress);
    return true;
  }

  begin(clientId: string, path: string, start: TransferStart): Progress | undefined {
    if (!this.find(clientId)) return undefined;
    const ticket = (this.get(clientId, path)?.ticket ?? 0) + 1;
    const progress: Progress = { offset: start.offset, size: start.size, etag: start.etag, ticket };
    this.put(clientId, path, progress);
    return progress;
  }

  /** Moves an entry if `ticket` still owns it. */
  advance(clientId: string, path: string, ticket: number, offset: number): Progress | undefined {
    const p = this.get(clientId, path);
    if (!p || p.ticket !== ticket) return undefined;
    p.offset = Math.min(offset, p.size);
    return p;
  }

  /** Drops expired clients from the fronts; returns their ids. */
  sweep(now: number): string[] {
    const gone: string[] = [];
    for (const map of [this.fresh, this.used]) {
      for (const [id, entry] of map) {
        if (now - entry.lastSeen <= this.limits.ttlMs) break;
        this.remove(id);
        gone.push(id);
      }
    }
    return gone;
  }

  /** Every live client with its files, least recently seen first within each table (for snapshots). */
  *entries(): IterableIterator<[string, number, Iterable<[string, Progress]>]> {
    for (const map of [this.fresh, this.used]) for (const [id, entry] of map) yield [id, entry.lastSeen, entry.files ?? []];
  }

  private find(clientId: string): ClientEntry | undefined {
    return this.used.get(clientId) ?? this.fresh.get(clientId);
  }

  private moveToEnd(clientId: string, entry: ClientEntry): void {
    const map = this.used.has(clientId) ? this.used : this.fresh;
    map.delete(clientId);
    map.set(clientId, entry);
  }

  private remove(clientId: string): void {
    const entry = this.find(clientId);
    if (!entry) return;
    this.fileCount -= entry.files?.size ?? 0;
    this.fresh.delete(clientId);
    this.used.delete(clientId);
  }
}

function firstKey(map: Map<string, ClientEntry>): string | undefined {
  return map.keys().next().value as string | undefined;
}
