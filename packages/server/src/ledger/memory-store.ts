/**
 * The ledger in this process's memory: fast, and gone when it exits. Client
 * IDs must be canonical UUIDs (session-table.ts): createClient throws
 * InvalidClientIdError for any other string.
 */
import { DEFAULT_STORE_LIMITS, type Progress, type ProgressStore, type StoreCounts, type StoreLimits, type TransferStart } from './progress-store.js';
import { SessionTable } from './session-table.js';

export class MemoryStore implements ProgressStore {
  readonly description = 'memory';
  private readonly table: SessionTable;

  constructor(limits: Partial<StoreLimits> = {}) {
    this.table = new SessionTable({ ...DEFAULT_STORE_LIMITS, ...limits });
  }

  async createClient(clientId: string, now: number): Promise<void> {
    this.table.create(clientId, now);
  }

  async touchClient(clientId: string, now: number): Promise<boolean> {
    return this.table.touch(clientId, now);
  }

  async getProgress(clientId: string, path: string): Promise<Progress | undefined> {
    // A fresh object each time: the table holds no Progress objects.
    return this.table.get(clientId, path);
  }

  async beginTransfer(clientId: string, path: string, start: TransferStart): Promise<number> {
    return this.table.begin(clientId, path, start);
  }

  async recordProgress(clientId: string, path: string, ticket: number, offset: number): Promise<boolean> {
    return this.table.advance(clientId, path, ticket, offset);
  }

  async sweep(now: number): Promise<number> {
    return this.table.sweep(now);
  }

  async counts(): Promise<StoreCounts> {
    return { clients: this.table.clientCount, files: this.table.progressCount };
  }

  async close(): Promise<void> {}
}
