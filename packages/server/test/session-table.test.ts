/**
 * The compact session table (typed-array slots, hash index, LRU lists,
 * dictionaries): the ID parser as a table of forms, then the table against
 * a plain Map-based model (the ledger as it was before it was made compact)
 * over long random runs, then what only the compact structure can get
 * wrong: slot and index reuse, growth, dictionaries, replay by bytes.
 */
import { formatClientId, parseClientId } from '../src/http/client-id.js';
import { FRESH, InvalidClientIdError, NO_SLOT, SessionTable, USED } from '../src/ledger/session-table.js';
import type { Progress, StoreLimits, TransferStart } from '../src/ledger/progress-store.js';

const A = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

describe('client ids', () => {
  it.each([
    [A, true],
    [A.toUpperCase(), true],
    ['00000000-0000-0000-0000-000000000000', true],
    ['ffffffff-ffff-ffff-ffff-ffffffffffff', true],
    [A.replace(/-/g, ''), false],
    [`${A}0`, false],
    [A.slice(1), false],
    [A.replace('-', '_'), false],
    [A.replace('3', 'g'), false],
    [A.replace('3', '\u0663'), false], // an Arabic-Indic digit three
    ['', false],
  ])('%j parses: %s', (id, expected) => {
    const words = new Uint32Array(4);
    expect(parseClientId(id, words)).toBe(expected);
    if (expected) expect(formatClientId(words)).toBe(id.toLowerCase());
  });
});

/** The ledger before it was compact: Maps in insertion order. The reference for behaviour. */
class Model {
  readonly fresh = new Map<string, { lastSeen: number; files: Map<string, Progress> }>();
  readonly used = new Map<string, { lastSeen: number; files: Map<string, Progress> }>();
  constructor(readonly limits: StoreLimits) {}
  private find(id: string) {
    return this.used.get(id) ?? this.fresh.get(id);
  }
  private remove(id: string) {
    this.fresh.delete(id);
    this.used.delete(id);
  }
  create(id: string, now: number): void {
    this.remove(id);
    while (this.fresh.size + this.used.size >= this.limits.maxClients) {
      const victim = this.fresh.keys().next().value ?? this.used.keys().next().value;
      if (victim === undefined) break;
      this.remove(victim);
    }
    this.fresh.set(id, { lastSeen: now, files: new Map() });
  }
  touch(id: string, now: number): boolean {
    const e = this.find(id);
    if (!e) return false;
    if (now - e.lastSeen > this.limits.ttlMs) {
      this.remove(id);
      return false;
    }
    e.lastSeen = Math.max(e.lastSeen, now);
    const map = this.used.has(id) ? this.used : this.fresh;
    map.delete(id);
    map.set(id, e);
    return true;
  }
  begin(id: string, path: string, start: TransferStart): number {
    const e = this.find(id);
    if (!e) return 0;
    const ticket = (e.files.get(path)?.ticket ?? 0) + 1;
    e.files.set(path, { ...start, ticket });
    if (this.fresh.has(id)) {
      this.fresh.delete(id);
      this.used.set(id, e);
    }
    return ticket;
  }
  advance(id: string, path: string, ticket: number, offset: number): boolean {
    const p = this.find(id)?.files.get(path);
    if (!p || p.ticket !== ticket) return false;
    p.offset = Math.min(offset, p.size);
    return true;
  }
  get(id: string, path: string): Progress | undefined {
    const p = this.find(id)?.files.get(path);
    return p && { ...p };
  }
  sweep(now: number): number {
    let n = 0;
    for (const map of [this.fresh, this.used]) {
      for (const [id, e] of map) {
        if (now - e.lastSeen <= this.limits.ttlMs) break;
        map.delete(id);
        n++;
      }
    }
    return n;
  }
  view() {
    const out = [];
    for (const [map, used] of [[this.fresh, false], [this.used, true]] as const) {
      for (const [id, e] of map) out.push({ id, lastSeen: e.lastSeen, used, files: [...e.files].sort(byPath) });
    }
    return out;
  }
}

const byPath = (a: [string, Progress], b: [string, Progress]) => (a[0] < b[0] ? -1 : 1);

function view(t: SessionTable) {
  return [...t.entries()].map((e) => ({ ...e, files: e.files.sort(byPath) }));
}

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('SessionTable against the Map model', () => {
  it.each([
    [1, { ttlMs: 50, maxClients: 40 }],
    [2, { ttlMs: 1_000_000, maxClients: 300 }],
    [3, { ttlMs: 20, maxClients: 5 }],
    [4, { ttlMs: 400, maxClients: 1_000_000 }],
  ])('seed %i, limits %j: 20,000 random operations agree, step by step', (seed, limits) => {
    const random = rng(seed);
    const table = new SessionTable(limits);
    const model = new Model(limits);
    // IDs that differ only in one word each, to crowd the hash index.
    const ids = Array.from({ length: 400 }, (_, i) => {
      const w = (i * 0x01000193) >>> 0;
      const words = i % 4 === 0 ? [w, 0, 0, 0] : i % 4 === 1 ? [0, w, 0, 0] : i % 4 === 2 ? [0, 0, w, 0] : [0, 0, 0, w];
      return formatClientId(words);
    });
    const paths = ['a', 'b', 'dir/c', 'caf\u00e9'];
    const etags = ['"1"', '"2"'];
    const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
    let now = 1_000;
    const tickets = new Map<string, number>();
    for (let step = 0; step < 20_000; step++) {
      now += Math.floor(random() * 3);
      const id = pick(ids);
      const path = pick(paths);
      const r = random();
      if (r < 0.25) {
        table.create(id, now);
        model.create(id, now);
      } else if (r < 0.45) {
        expect(table.touch(id, now)).toBe(model.touch(id, now));
      } else if (r < 0.6) {
        const start = { offset: Math.floor(random() * 100), size: 100, etag: pick(etags) };
        const t = table.begin(id, path, start);
        expect(t).toBe(model.begin(id, path, start));
        tickets.set(`${id} ${path}`, t);
      } else if (r < 0.9) {
        // mostly the current ticket, sometimes a stale or unknown one
        const t = (tickets.get(`${id} ${path}`) ?? 1) - (random() < 0.2 ? 1 : 0);
        const offset = Math.floor(random() * 150);
        expect(table.advance(id, path, t, offset)).toBe(model.advance(id, path, t, offset));
      } else if (r < 0.95) {
        expect(table.get(id, path)).toEqual(model.get(id, path));
      } else {
        expect(table.sweep(now)).toBe(model.sweep(now));
      }
      if (step % 500 === 0) expect(view(table)).toEqual(model.view());
    }
    expect(view(table)).toEqual(model.view());
    expect(table.clientCount).toBe(model.fresh.size + model.used.size);
    expect(table.progressCount).toBe([...model.used.values()].reduce((n, e) => n + e.files.size, 0));
    // Every path string still held is in the dictionary, and no other.
    const held = new Set(model.view().flatMap((e) => e.files.map(([p]) => p)));
    expect([...table.paths.entries()].map(([, p]) => p).sort()).toEqual([...held].sort());
  });
});

describe('SessionTable: the compact structure', () => {
  const limits = { ttlMs: 1000, maxClients: 1_000_000 };
  const id = (i: number) => formatClientId([i, i * 7, 0xabcd, i ^ 0x5555]);
  const V = { offset: 0, size: 10, etag: '"v"' };

  it('grows past its first capacity and finds every client afterwards; freed slots are reused', () => {
    const t = new SessionTable(limits);
    for (let i = 0; i < 5000; i++) t.create(id(i), i);
    for (let i = 0; i < 5000; i += 2) t.begin(id(i), 'f', V);
    expect(t.clientCount).toBe(5000);
    expect(t.progressCount).toBe(2500);
    // Expire the first 2,000 of each list (the fresh and used fronts).
    expect(t.sweep(4000 - 1 + 1000 + 1)).toBe(4000);
    for (let i = 0; i < 5000; i++) expect(t.touch(id(i), 4999)).toBe(i >= 4000);
    for (let i = 4000; i < 5000; i += 2) expect(t.get(id(i), 'f')).toEqual({ ...V, ticket: 1 });
    // Create as many again: their slots come from the free list, and nothing is confused.
    for (let i = 10_000; i < 14_000; i++) t.create(id(i), 5000);
    expect(t.clientCount).toBe(5000);
    for (let i = 10_000; i < 14_000; i++) expect(t.touch(id(i), 5000)).toBe(true);
    for (let i = 0; i < 4000; i++) expect(t.touch(id(i), 5000)).toBe(false);
  });

  it('an upper-case spelling of an ID is the same client', () => {
    const t = new SessionTable(limits);
    t.create(A, 1);
    expect(t.touch(A.toUpperCase(), 2)).toBe(true);
    const ticket = t.begin(A.toUpperCase(), 'x', V);
    expect(t.get(A, 'x')).toEqual({ ...V, ticket });
    expect([...t.entries()].map((e) => e.id)).toEqual([A]);
  });

  it('creating a non-UUID id is a programmer error; looking one up finds nothing', () => {
    const t = new SessionTable(limits);
    expect(() => t.create('device-1', 1)).toThrow(InvalidClientIdError);
    expect(() => t.create('device-1', 1)).toThrow(expect.objectContaining({ code: 'INVALID_CLIENT_ID' }));
    expect(t.touch('device-1', 1)).toBe(false);
    expect(t.begin('device-1', 'x', V)).toBe(0);
    expect(t.clientCount).toBe(0);
  });

  it.each([
    ['a fractional offset', { ...V, offset: 1.5 }],
    ['a negative size', { ...V, size: -1 }],
    ['an offset past 2^53', { ...V, offset: 2 ** 53 }],
  ])('begin refuses %s (RangeError)', (_name, start) => {
    const t = new SessionTable(limits);
    t.create(A, 1);
    expect(() => t.begin(A, 'x', start)).toThrow(RangeError);
    expect(t.get(A, 'x')).toBeUndefined();
  });

  it('paths and ETags are interned: one dictionary entry per string, freed with the last holder', () => {
    const t = new SessionTable(limits);
    for (let i = 0; i < 100; i++) {
      t.create(id(i), 1);
      t.begin(id(i), 'word.doc', { ...V, etag: i < 50 ? '"a"' : '"b"' });
    }
    expect(t.paths.size).toBe(1);
    expect(t.etags.size).toBe(2);
    // A new version replaces the ETag of the 50 "a" entries: "a" is gone.
    for (let i = 0; i < 50; i++) t.begin(id(i), 'word.doc', { ...V, etag: '"b"' });
    expect([...t.etags.entries()].map(([, e]) => e)).toEqual(['"b"']);
    expect(t.sweep(2000)).toBe(100);
    expect(t.paths.size).toBe(0);
    expect(t.etags.size).toBe(0);
    // The freed index is reused by the next string.
    t.create(A, 3000);
    t.begin(A, 'other', V);
    expect([...t.paths.entries()]).toEqual([[0, 'other']]);
  });

  it('lists: fresh and used, each least recently seen first; a first download moves a client to the end of used', () => {
    const t = new SessionTable(limits);
    const [a, b, c] = [id(1), id(2), id(3)];
    t.create(a, 1);
    t.create(b, 2);
    t.create(c, 3);
    t.begin(b, 'x', V);
    t.touch(a, 4);
    const order = (list: typeof FRESH | typeof USED) => [...t.listSlots(list)].map((s) => t.clientId(s));
    expect(order(FRESH)).toEqual([c, a]);
    expect(order(USED)).toEqual([b]);
    t.begin(c, 'x', V);
    expect(order(USED)).toEqual([b, c]);
    expect(t.listHead(FRESH)).not.toBe(NO_SLOT);
  });

  it('replay by bytes reaches the same clients and entries as calls by text', () => {
    const t = new SessionTable(limits);
    const bytes = Buffer.from(A.replace(/-/g, ''), 'hex');
    const frame = Buffer.concat([Buffer.from([9, 9]), bytes]);
    const slot = t.seenBytes(frame, 2, 5);
    expect(t.touch(A, 6)).toBe(true);
    expect(t.putBytes(frame, 2, 'x', '"v"', 3, 10, 4)).toBe(true);
    expect(t.get(A, 'x')).toEqual({ offset: 3, size: 10, etag: '"v"', ticket: 4 });
    // newest wins at replay too: a stale ticket moves nothing
    expect(t.advanceBytes(frame, 2, 'x', 9, 3)).toBe(false);
    expect(t.advanceBytes(frame, 2, 'x', 9, 4)).toBe(true);
    expect(t.get(A, 'x')?.offset).toBe(9);
    const copy = new Uint8Array(16);
    t.copyId(slot, copy, 0);
    expect(Buffer.from(copy)).toEqual(bytes);
  });

  it('replay (seenBytes) does not evict; trim() then evicts fresh clients first', () => {
    const t = new SessionTable({ ttlMs: 1000, maxClients: 2 });
    const rec = (i: number) => Buffer.from(id(i).replace(/-/g, ''), 'hex');
    const slots = [1, 2, 3, 4].map((i) => t.seenBytes(rec(i), 0, i));
    expect(t.clientCount).toBe(4);
    t.putSlot(slots[0]!, 'x', '"v"', 0, 10, 1);
    expect(t.trim()).toBe(2);
    expect([...t.entries()].map((e) => e.id)).toEqual([id(4), id(1)]);
  });
});
