/**
 * The in-memory ledger shared by the memory and file stores. Pure data
 * structure: no I/O, no clock (callers pass `now`).
 *
 * Clients live in one Map kept in least-recently-seen order (a touch moves
 * the client to the end), so expiry and eviction both pop from the front:
 * - expiry: a client unseen for longer than ttlMs is gone;
 * - eviction: creating a client beyond maxClients drops the least recently
 *   seen one (documented in docs/DESIGN.md).
 */
import type { Progress, StoreLimits, TransferStart } from './progress-store.js';

interface ClientEntry {
  lastSeen: number;
  files: Map<string, Progress> | undefined;
}

export class SessionTable {
  private readonly clients = new Map<string, ClientEntry>();
  private fileCount = 0;

  constructor(readonly limits: StoreLimits) {}

  get clientCount(): number {
    return this.clients.size;
  }

  get progressCount(): number {
    return this.fileCount;
  }

  /** Adds a client; returns the ids evicted to respect maxClients. */
  create(clientId: string, now: number): string[] {
    const evicted: string[] = [];
    this.remove(clientId);
    while (this.clients.size >= this.limits.maxClients) {
      const oldest = this.clients.keys().next().value as string | undefined;
      if (oldest === undefined) break;
      this.remove(oldest);
      evicted.push(oldest);
    }
    this.clients.set(clientId, { lastSeen: now, files: undefined });
    return evicted;
  }

  /** Replay: the client was seen at `time` (creates it if needed). */
  seen(clientId: string, time: number): void {
    const entry = this.clients.get(clientId);
    if (!entry) {
      this.create(clientId, time);
      return;
    }
    entry.lastSeen = Math.max(entry.lastSeen, time);
    this.clients.delete(clientId);
    this.clients.set(clientId, entry);
  }

  /** Refreshes lastSeen; false (and forgets it) if unknown or expired. */
  touch(clientId: string, now: number): boolean {
    const entry = this.live(clientId, now);
    if (!entry) return false;
    entry.lastSeen = Math.max(entry.lastSeen, now);
    this.clients.delete(clientId);
    this.clients.set(clientId, entry);
    return true;
  }

  get(clientId: string, path: string): Progress | undefined {
    return this.clients.get(clientId)?.files?.get(path);
  }

  /** Sets an entry outright (replay and begin). Unknown clients are ignored. */
  put(clientId: string, path: string, progress: Progress): boolean {
    const entry = this.clients.get(clientId);
    if (!entry) return false;
    if (!entry.files) entry.files = new Map();
    if (!entry.files.has(path)) this.fileCount++;
    entry.files.set(path, progress);
    return true;
  }

  begin(clientId: string, path: string, start: TransferStart): Progress | undefined {
    if (!this.clients.has(clientId)) return undefined;
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

  /** Drops expired clients from the front; returns their ids. */
  sweep(now: number): string[] {
    const gone: string[] = [];
    for (const [id, entry] of this.clients) {
      if (now - entry.lastSeen <= this.limits.ttlMs) break;
      this.remove(id);
      gone.push(id);
    }
    return gone;
  }

  /** Every live client with its files, oldest first (for snapshots). */
  *entries(): IterableIterator<[string, number, Iterable<[string, Progress]>]> {
    for (const [id, entry] of this.clients) yield [id, entry.lastSeen, entry.files ?? []];
  }

  private live(clientId: string, now: number): ClientEntry | undefined {
    const entry = this.clients.get(clientId);
    if (!entry) return undefined;
    if (now - entry.lastSeen > this.limits.ttlMs) {
      this.remove(clientId);
      return undefined;
    }
    return entry;
  }

  private remove(clientId: string): void {
    const entry = this.clients.get(clientId);
    if (!entry) return;
    this.fileCount -= entry.files?.size ?? 0;
    this.clients.delete(clientId);
  }
}
