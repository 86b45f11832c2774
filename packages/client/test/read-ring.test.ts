/**
 * ReadRing: where socket reads land. Regions never cover bytes still held,
 * the ring wraps instead of handing out a sliver, and held spans free in
 * ring order whatever order they are released in.
 */
import { ReadRing } from '../src/http/read-ring.js';

/** Simulates one read of `n` bytes (filled with `fill`) into the ring. */
function read(ring: ReadRing, n: number, fill: number): { chunk: Buffer; at: number } {
  expect(ring.hasRoom()).toBe(true);
  const region = ring.region();
  expect(region.length).toBeGreaterThanOrEqual(n);
  region.fill(fill, 0, n);
  return ring.filled(n);
}

describe('ReadRing', () => {
  it('reads are a quarter of the ring at most and follow each other', () => {
    const ring = new ReadRing(64 * 1024);
    expect(ring.region().length).toBe(16 * 1024);
    const a = read(ring, 1000, 1);
    const b = read(ring, 2000, 2);
    expect(a.at).toBe(0);
    expect(b.at).toBe(1000);
    expect(b.chunk.byteOffset).toBe(1000);
    expect(ring.owns(b.chunk)).toBe(true);
    expect(ring.owns(Buffer.alloc(10))).toBe(false);
  });

  it('unheld bytes are free at once: the ring goes round without waiting', () => {
    const ring = new ReadRing(64 * 1024);
    for (let i = 0; i < 100; i++) {
      expect(ring.hasRoom()).toBe(true);
      read(ring, 16 * 1024, i);
    }
    expect(ring.heldBytes).toBe(0);
  });

  it('a held span keeps its bytes: the ring says "no room" before it would overwrite them', () => {
    const ring = new ReadRing(64 * 1024);
    const first = read(ring, 16 * 1024, 0xaa);
    const release = ring.hold(first.chunk, first.chunk, first.at);
    read(ring, 16 * 1024, 1);
    read(ring, 16 * 1024, 2);
    expect(ring.hasRoom()).toBe(true); // the last quarter is free
    read(ring, 16 * 1024, 3);
    // The next region is the first quarter again, still held.
    expect(ring.hasRoom()).toBe(false);
    expect(first.chunk.every((b) => b === 0xaa)).toBe(true);
    let woke = 0;
    ring.whenRoom(() => woke++);
    expect(woke).toBe(0);
    release();
    expect(woke).toBe(1);
    expect(ring.hasRoom()).toBe(true);
    expect(ring.region().byteOffset).toBe(0);
    release(); // twice is harmless
    expect(ring.heldBytes).toBe(0);
  });

  it('spans released out of order free only up to the oldest one still held', () => {
    const ring = new ReadRing(64 * 1024);
    const r1 = read(ring, 16 * 1024, 1);
    const r2 = read(ring, 16 * 1024, 2);
    const h1 = ring.hold(r1.chunk, r1.chunk, r1.at);
    const h2 = ring.hold(r2.chunk, r2.chunk, r2.at);
    read(ring, 16 * 1024, 3);
    read(ring, 16 * 1024, 4);
    h2();
    expect(ring.hasRoom()).toBe(false);
    expect(ring.heldBytes).toBe(16 * 1024);
    h1();
    expect(ring.hasRoom()).toBe(true);
    expect(ring.heldBytes).toBe(0);
  });

  it('a span inside a chunk is held from its own first byte (the body after a head)', () => {
    const ring = new ReadRing(64 * 1024);
    const r = read(ring, 10_000, 7);
    const body = r.chunk.subarray(300);
    ring.hold(body, r.chunk, r.at);
    expect(ring.heldBytes).toBe(9_700);
  });

  it('wraps to the start rather than hand out less than the minimum read', () => {
    const ring = new ReadRing(64 * 1024); // max read 16 KiB, min read 16 KiB
    read(ring, 16 * 1024, 1);
    read(ring, 16 * 1024, 1);
    read(ring, 16 * 1024, 1);
    read(ring, 10 * 1024, 1); // 6 KiB left before the end: too little
    const next = ring.region();
    expect(next.byteOffset).toBe(0);
    const r = ring.filled(100);
    expect(r.at).toBe(64 * 1024);
    expect(r.chunk.byteOffset).toBe(0);
  });

  it('a wrapped region waits for the span at the start of the ring', () => {
    const ring = new ReadRing(64 * 1024);
    const r = read(ring, 1000, 1);
    const release = ring.hold(r.chunk, r.chunk, r.at);
    read(ring, 16 * 1024, 2);
    read(ring, 16 * 1024, 3);
    read(ring, 16 * 1024, 4);
    // 64 KiB - 1000 - 48 KiB = 15384 bytes left, less than a 16 KiB read: wrap
    expect(ring.region().byteOffset).toBe(0);
    expect(ring.hasRoom()).toBe(false);
    release();
    expect(ring.hasRoom()).toBe(true);
  });

  it('with less than a full read free, the region is what is free (at least 64 KiB), so a small head gets in', () => {
    const MiB = 1024 * 1024;
    const ring = new ReadRing(4 * MiB); // reads of 1 MiB, at least 64 KiB
    read(ring, 100 * 1024, 1); // not held: free again at once
    const held = read(ring, 200 * 1024, 2);
    const release = ring.hold(held.chunk, held.chunk, held.at);
    for (let i = 0; i < 3; i++) read(ring, MiB, 3);
    // 4 MiB - 300 KiB - 3 MiB = 724 KiB to the end of the ring, all free.
    expect(ring.region().length).toBe(724 * 1024);
    read(ring, 724 * 1024, 4);
    // Wrapped: 100 KiB free before the held span; a read gets those, not a full MiB.
    expect(ring.hasRoom()).toBe(true);
    expect(ring.region().byteOffset).toBe(0);
    expect(ring.region().length).toBe(100 * 1024);
    read(ring, 100 * 1024, 5);
    // Now nothing is free: the region is the minimum read, still held, and waited for.
    expect(ring.hasRoom()).toBe(false);
    expect(ring.region().length).toBe(64 * 1024);
    expect(held.chunk.every((b) => b === 2)).toBe(true);
    release();
    expect(ring.hasRoom()).toBe(true);
    expect(ring.region().length).toBe(MiB);
  });
});
