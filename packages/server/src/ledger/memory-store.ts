/** The ledger in this process's memory: fast, and gone when it exits. */
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
    const p = this.table.get(clientId, path);
    return p && { ...p };
  }

  async beginTransfer(clientId: string, path: string, start: TransferStart): Promise<number> {
    return this.table.begin(clientId, path, start)?.ticket ?? 0;
  }

  async recordProgress(clientId: string, path: string, ticket: number, offset: number): Promise<boolean> {
    return this.table.advance(clientId, path, ticket, offset) !== undefined;
  }

  async sweep(now: number): Promise<number> {
    return this.table.sweep(now).length;
  }

  async counts(): Promise<StoreCounts> {
    return { clients: this.table.clientCount, files: this.table.progressCount };
  }

  async close(): Promise<void> {}
}
