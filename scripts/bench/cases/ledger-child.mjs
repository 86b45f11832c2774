// Case 5's measuring process (run.mjs starts it with --expose-gc, one per
// store and run, so nothing else lives in its heap):
//   node --expose-gc ledger-child.mjs memory|file N DIR
// Makes N paused sessions (a client id with one file entry at an offset) and
// prints one JSON line: heap bytes per session (heapUsed + external, after gc()), create/begin/update rates,
// and for the file store the log size and the time to reopen it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [kind, nText, dir] = process.argv.slice(2);
const N = Number(nText);
const BATCH = 10_000;
const { MemoryStore, FileStore } = await import(pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../packages/server/dist/index.js')).href);

if (typeof global.gc !== 'function') {
  console.error('ledger-child: run with node --expose-gc');
  process.exit(2);
}

// Ids are made from the index each time they are needed, so the store holds
// the only copy of each id string (as in the server, where randomUUID()
// makes it), and no array of ids sits in the heap being measured.
const hex = (n, w) => n.toString(16).padStart(w, '0');
const idOf = (i) => `${hex(i >>> 0, 8)}-${hex((i * 7919) & 0xffff, 4)}-4${hex((i * 31) & 0xfff, 3)}-8${hex((i * 131) & 0xfff, 3)}-${hex(i * 2654435761 % 2 ** 48, 12)}`;
// The path and ETag come from the server's file catalog: one string per file.
const FILE = 'word.doc';
const START = { offset: 0, size: 100352, etag: '"1880c-18f3a2b4c5d-e13991904f8ebac"' };

// The JS heap plus memory outside it: the table keeps its slots in typed
// arrays, whose backing stores V8 counts in `external` (with `arrayBuffers`),
// not in heapUsed.
const heap = () => {
  global.gc();
  global.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

async function inBatches(fn) {
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const ps = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) ps.push(fn(j));
    await Promise.all(ps);
  }
  return N / ((performance.now() - t0) / 1000);
}

// FileStore's group-commit timer is unref'd (it must not keep a server
// alive), so with nothing else pending this process would exit while
// createClient() still waits for its batch. Hold the event loop open.
const keepAlive = setInterval(() => {}, 60_000);

const now = Date.now();
const before = heap();
const store = kind === 'memory' ? new MemoryStore() : await FileStore.open({ dir });
const createRate = await inBatches((i) => store.createClient(idOf(i), now));
const tickets = new Uint32Array(N); // 4 bytes a session, subtracted below
const beginRate = await inBatches(async (i) => {
  tickets[i] = await store.beginTransfer(idOf(i), FILE, START, now);
});
const updateRate = await inBatches((i) => store.recordProgress(idOf(i), FILE, tickets[i], 50_000, now));
if (kind === 'file') store.flush();
const after = heap();
const counts = await store.counts();
if (counts.clients !== N || counts.files !== N) throw new Error(`expected ${N} sessions, the store holds ${JSON.stringify(counts)}`);
const result = {
  kind,
  sessions: N,
  heapBytesPerSession: (after - before - tickets.byteLength) / N,
  createPerSecond: createRate,
  beginPerSecond: beginRate,
  updatePerSecond: updateRate,
};
// Disk: every file in the ledger directory (the log, the lock, any leftover).
const dirBytes = () => fs.readdirSync(dir).reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0);
if (kind === 'file') {
  await store.close();
  result.logBytesPerSession = dirBytes() / N;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const reopened = await FileStore.open({ dir });
  result.reopenSeconds = (performance.now() - t0) / 1000;
  // CPU time too: on a shared machine the wall time also counts the waits.
  const cpu = process.cpuUsage(cpu0);
  result.reopenCpuSeconds = (cpu.user + cpu.system) / 1e6;
  const c = await reopened.counts();
  if (c.clients !== N || c.files !== N) throw new Error(`reopened store holds ${JSON.stringify(c)}, expected ${N} sessions`);
  const sample = await reopened.getProgress(idOf(N - 1), FILE);
  if (sample?.offset !== 50_000 || sample.etag !== START.etag) throw new Error(`reopened store lost a session: ${JSON.stringify(sample)}`);
  // Opening replays the log and appends to it; a snapshot (fixed slots, one
  // per live client and file entry) is written when the log is due for
  // compaction. Force one to measure it, as its own figure.
  const s0 = performance.now();
  reopened.compact();
  result.snapshotSeconds = (performance.now() - s0) / 1000;
  result.snapshotBytesPerSession = dirBytes() / N;
  await reopened.close();
  const r0 = performance.now();
  const fromSnapshot = await FileStore.open({ dir });
  result.reopenSnapshotSeconds = (performance.now() - r0) / 1000;
  const c2 = await fromSnapshot.counts();
  if (c2.clients !== N || c2.files !== N) throw new Error(`store reopened from its snapshot holds ${JSON.stringify(c2)}, expected ${N} sessions`);
  await fromSnapshot.close();
}
clearInterval(keepAlive);
process.stdout.write(`${JSON.stringify(result)}\n`);
