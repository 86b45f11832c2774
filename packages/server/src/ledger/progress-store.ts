/**
 * The progress ledger: which devices exist, and how far each one got in each
 * file. Every store (memory, file, and any later one) implements this and
 * passes the one contract suite in test/progress-store.contract.ts.
 */

/** Where a device stands in one file, for one version of it. */
export interface Progress {
  /** Bytes of the file the device holds (the next byte to send). */
  offset: number;
  /** Size of the version the offset refers to. */
  size: number;
  /** Strong ETag of that version: an offset into another version is worthless. */
  etag: string;
  /** Ticket of the transfer that owns the entry; the newest request wins. */
  ticket: number;
}

export interface TransferStart {
  offset: number;
  size: number;
  etag: string;
}

export interface StoreCounts {
  clients: number;
  files: number;
}

export interface ProgressStore {
  /** For logs: "memory", "file:/path". */
  readonly description: string;
  /** Registers a new client id. Resolves once the id would survive a crash of this process. */
  createClient(clientId: string, now: number): Promise<void>;
  /** Marks the client as seen now; false if it is unknown or has expired. */
  touchClient(clientId: string, now: number): Promise<boolean>;
  getProgress(clientId: string, path: string): Promise<Progress | undefined>;
  /**
   * Opens a transfer for (client, path) at `start` and returns its ticket,
   * greater than every earlier ticket for that pair. From now on only this
   * ticket may move the entry: an older transfer still running is a zombie.
   */
  beginTransfer(clientId: string, path: string, start: TransferStart, now: number): Promise<number>;
  /** Moves the entry to `offset` if `ticket` still owns it; false otherwise. */
  recordProgress(clientId: string, path: string, ticket: number, offset: number, now: number): Promise<boolean>;
  /** Forgets clients idle for longer than the TTL; returns how many. */
  sweep(now: number): Promise<number>;
  counts(): Promise<StoreCounts>;
  /** Makes everything recorded so far durable and releases the store. */
  close(): Promise<void>;
}

export interface StoreLimits {
  /** A client unseen for this long is forgotten (ms). */
  ttlMs: number;
  /** At most this many clients; creating one more evicts the least recently seen. */
  maxClients: number;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = Object.freeze({
  ttlMs: 24 * 60 * 60 * 1000,
  maxClients: 1_000_000,
});
