// Case 5, the ledger: N paused sessions in the memory store and in the file
// store, measured in a fresh `node --expose-gc` process per store and run
// (cases/ledger-child.mjs), so the heap holds nothing but the store. Heap is
// heapUsed + external (the table's typed arrays live outside the JS heap);
// disk is every file in the ledger directory, after close and after a
// snapshot; reopen is timed on both.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk } from '../lib/processes.mjs';
import { median } from '../lib/stats.mjs';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ledger-child.mjs');

export async function ledger(ctx) {
  const { runs, log, quick } = ctx;
  const n = quick ? 100_000 : 1_000_000;
  const got = { memory: [], file: [] };
  for (let i = 0; i < runs; i++) {
    for (const kind of ['memory', 'file']) {
      const dir = fs.mkdtempSync(path.join(ctx.tmp, `ledger-${kind}-`));
      try {
        const r = await runOk(process.execPath, ['--expose-gc', '--max-old-space-size=4096', CHILD, kind, String(n), dir], { timeoutMs: 15 * 60_000 });
        got[kind].push(JSON.parse(r.stdout.trim().split('\n').pop()));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    const m = got.memory.at(-1);
    const f = got.file.at(-1);
    log(`  run ${i + 1}/${runs}: memory ${m.heapBytesPerSession.toFixed(0)} B/session; file ${f.heapBytesPerSession.toFixed(0)} B heap, ${f.logBytesPerSession.toFixed(0)} B disk (${f.snapshotBytesPerSession.toFixed(0)} B as a snapshot), reopen ${f.reopenSeconds.toFixed(2)} s (${f.reopenSnapshotSeconds.toFixed(2)} s from the snapshot)`);
  }
  const col = (kind, key) => got[kind].map((r) => r[key]);
  // The reload target is for 1M sessions; with fewer, the time it allows is scaled down.
  const reloadLimit = 2 * (n / 1_000_000);
  const label = n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;
  return [
    { id: 'ledger.memory.heap', group: `5. the ledger: ${label} paused sessions (one file entry each)`, name: 'memory store: heap per session', unit: 'B', samples: col('memory', 'heapBytesPerSession'), lowerIsBetter: true, target: { on: 'value', op: '<=', limit: 100, text: '≤ 100 B' } },
    { id: 'ledger.memory.create', name: 'memory store: createClient', unit: 'ops/s', samples: col('memory', 'createPerSecond') },
    { id: 'ledger.memory.begin', name: 'memory store: beginTransfer', unit: 'ops/s', samples: col('memory', 'beginPerSecond') },
    { id: 'ledger.memory.update', name: 'memory store: recordProgress', unit: 'ops/s', samples: col('memory', 'updatePerSecond') },
    { id: 'ledger.file.heap', name: 'file store: heap per session', unit: 'B', samples: col('file', 'heapBytesPerSession'), lowerIsBetter: true, target: { on: 'value', op: '<=', limit: 100, text: '≤ 100 B' } },
    { id: 'ledger.file.disk', name: 'file store: ledger.log per session (after close)', unit: 'B', samples: col('file', 'logBytesPerSession'), lowerIsBetter: true, target: { on: 'value', op: '<=', limit: 64, text: '≤ 64 B' } },
    { id: 'ledger.file.snapshot', name: 'file store: ledger.log per session (after a snapshot)', unit: 'B', samples: col('file', 'snapshotBytesPerSession'), lowerIsBetter: true, target: { on: 'value', op: '<=', limit: 64, text: '≤ 64 B' } },
    { id: 'ledger.file.create', name: 'file store: createClient (batches of 10,000)', unit: 'ops/s', samples: col('file', 'createPerSecond') },
    { id: 'ledger.file.begin', name: 'file store: beginTransfer', unit: 'ops/s', samples: col('file', 'beginPerSecond') },
    { id: 'ledger.file.update', name: 'file store: recordProgress', unit: 'ops/s', samples: col('file', 'updatePerSecond') },
    { id: 'ledger.file.reopen.snapshot', name: 'file store: FileStore.open of the snapshot', unit: 's', samples: col('file', 'reopenSnapshotSeconds'), lowerIsBetter: true, target: { on: 'value', op: '<', limit: reloadLimit, text: n >= 1_000_000 ? '< 2 s' : `< ${reloadLimit} s (2 s per 1M)` } },
    { id: 'ledger.file.reopen', name: 'file store: FileStore.open after close', unit: 's', samples: col('file', 'reopenSeconds'), lowerIsBetter: true, detail: `CPU ${median(col('file', 'reopenCpuSeconds')).toFixed(2)} s (user + system)`, extra: { cpuSeconds: col('file', 'reopenCpuSeconds') }, target: { on: 'value', op: '<', limit: reloadLimit, text: n >= 1_000_000 ? '< 2 s' : `< ${reloadLimit} s (2 s per 1M)` } },
  ];
}
