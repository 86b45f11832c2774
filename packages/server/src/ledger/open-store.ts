/** `--store memory` | `--store file:<dir>` → a ProgressStore. */
import { FileStore } from './file-store.js';
import { MemoryStore } from './memory-store.js';
import type { ProgressStore, StoreLimits } from './progress-store.js';

export type StoreSpec = { kind: 'memory' } | { kind: 'file'; dir: string };

/** Parses a store spec; returns an error message for a person on bad input. */
export function parseStoreSpec(spec: string): StoreSpec | { error: string } {
  if (spec === 'memory') return { kind: 'memory' };
  if (spec.startsWith('file:') && spec.length > 5) return { kind: 'file', dir: spec.slice(5) };
  return { error: `unknown store "${spec}": use "memory" or "file:<dir>"` };
}

export async function openStore(spec: StoreSpec, limits: Partial<StoreLimits> = {}): Promise<ProgressStore> {
  if (spec.kind === 'memory') return new MemoryStore(limits);
  return FileStore.open({ dir: spec.dir, ...limits });
}
