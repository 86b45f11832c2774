/** MemoryStore: the contract, nothing else (it has no I/O of its own). */
import { MemoryStore } from '../src/ledger/memory-store.js';
import { progressStoreContract } from './progress-store.contract.js';

progressStoreContract(
  'MemoryStore',
  async (opts) => ({
    store: new MemoryStore(opts),
    cleanup: async () => {},
  }),
  { nonUuidIds: 'refused' },
);

describe('MemoryStore', () => {
  it('describes itself as "memory"', () => {
    expect(new MemoryStore().description).toBe('memory');
  });
});
