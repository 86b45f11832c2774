/**
 * DropPlan: where mobget cuts its own connection. Drop points are file
 * offsets fixed by the options and the seed, whatever offsets the
 * download happens to ask about.
 */
import { CHANCE_BLOCK, DropPlan, mulberry32, type DropPlanOptions } from '../src/drop-plan.js';

/** What download() does: ask at the offset reached, cut there, record, repeat. */
function walk(opts: DropPlanOptions, size: number | undefined, start = 0): number[] {
  const plan = new DropPlan(opts);
  const drops: number[] = [];
  let from = start;
  for (;;) {
    const at = plan.nextDrop(from, size);
    if (at === undefined) break;
    expect(at).toBeGreaterThan(from);
    drops.push(at);
    plan.record();
    from = at;
    if (drops.length > 10_000) throw new Error('runaway plan');
  }
  expect(plan.drops).toBe(drops.length);
  return drops;
}

/** The smallest point above `from`, as the plan should answer it. */
function firstAbove(points: number[], from: number): number | undefined {
  return points.find((p) => p > from);
}

describe('DropPlan: every N bytes', () => {
  it('100352 bytes, every 20480 → cuts at 20480, 40960, 61440, 81920 and none at or after the end', () => {
    expect(walk({ every: 20480, seed: 1 }, 100352)).toEqual([20480, 40960, 61440, 81920]);
  });

  it.each<[number, number, number[]]>([
    // a drop exactly at the end would cut a finished transfer
    [100, 50, [50]],
    [101, 50, [50, 100]],
    [100, 100, []],
    [100, 1000, []],
    [10, 3, [3, 6, 9]],
    [1, 1, []],
    [2, 1, [1]],
  ])('size %p, every %p → %p', (size, every, expected) => {
    expect(walk({ every, seed: 1 }, size)).toEqual(expected);
  });

  it('counts from where the connection starts, not from a grid', () => {
    const plan = new DropPlan({ every: 20480, seed: 1 });
    expect(plan.nextDrop(1000, 100352)).toBe(21480);
    expect(plan.nextDrop(90000, 100352)).toBeUndefined();
  });

  it('without a known size it keeps cutting', () => {
    const plan = new DropPlan({ every: 1000, seed: 1 });
    expect(plan.nextDrop(0, undefined)).toBe(1000);
    expect(plan.nextDrop(10 ** 12, undefined)).toBe(10 ** 12 + 1000);
  });

  it.each<[number | undefined, number[]]>([
    [0, []],
    [1, [20480]],
    [2, [20480, 40960]],
    [4, [20480, 40960, 61440, 81920]],
    [10, [20480, 40960, 61440, 81920]],
    [undefined, [20480, 40960, 61440, 81920]],
  ])('maxDrops %p caps the cuts → %p', (maxDrops, expected) => {
    expect(walk({ every: 20480, seed: 1, maxDrops }, 100352)).toEqual(expected);
  });

  it('maxDrops counts recorded drops, not questions asked', () => {
    const plan = new DropPlan({ every: 10, seed: 1, maxDrops: 1 });
    expect(plan.nextDrop(0, 100)).toBe(10);
    expect(plan.nextDrop(0, 100)).toBe(10);
    plan.record();
    expect(plan.drops).toBe(1);
    expect(plan.nextDrop(10, 100)).toBeUndefined();
  });

  it.each<[string, DropPlanOptions]>([
    ['no options', { seed: 1 }],
    ['every 0', { every: 0, seed: 1 }],
    ['chance 0', { chance: 0, seed: 1 }],
    ['every 0 and chance 0', { every: 0, chance: 0, seed: 1 }],
  ])('%s → never drops', (_name, opts) => {
    const plan = new DropPlan(opts);
    for (const from of [0, 1, CHANCE_BLOCK, 10 ** 6]) {
      expect(plan.nextDrop(from, 10 ** 7)).toBeUndefined();
      expect(plan.nextDrop(from, undefined)).toBeUndefined();
    }
  });
});

describe('DropPlan: chance per 16 KiB block', () => {
  const SIZE = 48 * CHANCE_BLOCK + 1234;

  it('CHANCE_BLOCK is 16 KiB', () => {
    expect(CHANCE_BLOCK).toBe(16 * 1024);
  });

  it.each([1, 2, 42, 0x7fffffff])('seed %p: the points are the same whatever offsets are asked about', (seed) => {
    const opts: DropPlanOptions = { chance: 0.3, seed };
    const points = walk(opts, SIZE);
    expect(points.length).toBeGreaterThan(0);

    // one byte at a time, from a fresh plan
    const byByte = new DropPlan(opts);
    const seen = new Set<number>();
    const wrong: number[] = [];
    for (let from = 0, next = 0; from < SIZE; from++) {
      while (next < points.length && points[next]! <= from) next++;
      const at = byByte.nextDrop(from, SIZE);
      if (at !== points[next]) wrong.push(from);
      if (at !== undefined) seen.add(at);
    }
    expect(wrong).toEqual([]);
    expect([...seen]).toEqual(points);

    // seeded random offsets in no order, including a first question far into the file
    const rnd = mulberry32(seed ^ 0x5eed);
    const shuffled = new DropPlan(opts);
    expect(shuffled.nextDrop(SIZE - 2 * CHANCE_BLOCK, SIZE)).toBe(firstAbove(points, SIZE - 2 * CHANCE_BLOCK));
    const asked = Array.from({ length: 2000 }, () => Math.floor(rnd() * SIZE));
    expect(asked.map((from) => shuffled.nextDrop(from, SIZE))).toEqual(asked.map((from) => firstAbove(points, from)));

    // big steps: the walk from an offset inside the file finds the tail of the same set
    const mid = 20 * CHANCE_BLOCK + 77;
    expect(walk(opts, SIZE, mid)).toEqual(points.filter((p) => p > mid));
  });

  it('a smaller size asked of the same seed gives a prefix of the same points', () => {
    const opts: DropPlanOptions = { chance: 0.5, seed: 9 };
    const all = walk(opts, SIZE);
    const half = 30 * CHANCE_BLOCK;
    expect(walk(opts, half)).toEqual(all.filter((p) => p < half));
  });

  it('different seeds give different points', () => {
    const a = walk({ chance: 0.5, seed: 1 }, SIZE);
    const b = walk({ chance: 0.5, seed: 2 }, SIZE);
    const c = walk({ chance: 0.5, seed: 3 }, SIZE);
    expect(a).not.toEqual(b);
    expect(b).not.toEqual(c);
    expect(a).not.toEqual(c);
  });

  it('chance 1 puts one point inside every block, never on its first byte', () => {
    const blocks = 40;
    const points = walk({ chance: 1, seed: 5 }, blocks * CHANCE_BLOCK);
    expect(points).toHaveLength(blocks);
    points.forEach((p, k) => {
      expect(p).toBeGreaterThan(k * CHANCE_BLOCK);
      expect(p).toBeLessThan((k + 1) * CHANCE_BLOCK);
    });
  });

  it.each([1, 7, 1234, 99999])('seed %p: points never fall on a block start, and stay below the size', (seed) => {
    for (const chance of [0.05, 0.5, 1]) {
      const size = 200 * CHANCE_BLOCK + 5;
      const points = walk({ chance, seed }, size);
      for (const p of points) {
        expect(p % CHANCE_BLOCK).not.toBe(0);
        expect(p).toBeLessThan(size);
      }
      // at most one point per block, ascending
      const blocks = points.map((p) => Math.floor(p / CHANCE_BLOCK));
      expect(new Set(blocks).size).toBe(points.length);
      expect([...points].sort((x, y) => x - y)).toEqual(points);
    }
  });

  it('the share of blocks holding a point follows the chance', () => {
    const blocks = 2000;
    const points = walk({ chance: 0.25, seed: 3 }, blocks * CHANCE_BLOCK);
    expect(points.length / blocks).toBeGreaterThan(0.2);
    expect(points.length / blocks).toBeLessThan(0.3);
  });

  it('maxDrops caps random cuts too', () => {
    const all = walk({ chance: 1, seed: 5 }, 40 * CHANCE_BLOCK);
    expect(walk({ chance: 1, seed: 5, maxDrops: 3 }, 40 * CHANCE_BLOCK)).toEqual(all.slice(0, 3));
  });

  it('without a known size it still finds the next point', () => {
    const known = walk({ chance: 0.5, seed: 11 }, SIZE);
    const plan = new DropPlan({ chance: 0.5, seed: 11 });
    expect(plan.nextDrop(0, undefined)).toBe(known[0]);
    expect(plan.nextDrop(known[2]!, undefined)).toBe(known[3]);
  });

  it('with every N as well, the earlier of the two cuts wins', () => {
    const every = 3 * CHANCE_BLOCK;
    const random = walk({ chance: 0.2, seed: 4 }, SIZE);
    const both = walk({ chance: 0.2, seed: 4, every }, SIZE);
    // replay the rule: from each cut, the next is min(from + every, first random point above from)
    const expected: number[] = [];
    let from = 0;
    for (;;) {
      const r = firstAbove(random, from);
      const at = Math.min(from + every, r ?? Infinity);
      if (at >= SIZE) break;
      expected.push(at);
      from = at;
    }
    expect(both).toEqual(expected);
    expect(both.some((p) => random.includes(p))).toBe(true);
    expect(both.some((p) => !random.includes(p))).toBe(true);
  });
});

describe('mulberry32', () => {
  it('is deterministic for a seed', () => {
    const a = mulberry32(12345);
    const b = mulberry32(12345);
    const xs = Array.from({ length: 100 }, () => a());
    const ys = Array.from({ length: 100 }, () => b());
    expect(xs).toEqual(ys);
    expect(new Set(xs).size).toBe(100);
  });

  it.each([0, 1, -1, 0xffffffff, 2 ** 31, 123456789])('seed %p: values are in [0, 1)', (seed) => {
    const r = mulberry32(seed);
    const values = Array.from({ length: 10_000 }, () => r());
    expect(values.filter((v) => !(v >= 0 && v < 1))).toEqual([]);
  });

  it('seeds are taken as 32-bit unsigned integers', () => {
    const a = mulberry32(-1);
    const b = mulberry32(0xffffffff);
    for (let i = 0; i < 10; i++) expect(a()).toBe(b());
  });

  it('different seeds give different sequences', () => {
    expect(mulberry32(1)()).not.toBe(mulberry32(2)());
  });

  it('is roughly uniform', () => {
    const r = mulberry32(7);
    const buckets = new Array<number>(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) buckets[Math.floor(r() * 10)]!++;
    for (const count of buckets) expect(Math.abs(count - n / 10)).toBeLessThan(n / 100);
  });
});
