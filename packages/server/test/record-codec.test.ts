/**
 * The ledger's on-disk frames (format 2): MAGIC, then (kind, body, CRC-32)*.
 * Round trips, sizes, and the rule that a torn or corrupted tail is cut at
 * the last whole, checked frame, never trusted.
 */
import { randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32, decodeLedger, decodeRecords, encodeRecord, MAGIC, RECORDS_PER_FRAME, type LedgerRecord, type LedgerSink } from '../src/ledger/record-codec.js';
import { MAGIC_V1 } from '../src/ledger/record-codec-v1.js';

const A = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const B = 'ffffffff-0000-4000-8000-000000000001';

const records: LedgerRecord[] = [
  { type: 'path', index: 0, text: 'dir/word.doc' },
  { type: 'etag', index: 0, text: '"abc-_XYZ"' },
  { type: 'seen', clientId: A, time: 1_700_000_000_123 },
  { type: 'begin', clientId: A, path: 0, etag: 0, size: 1 << 20, offset: 4096, ticket: 1 },
  { type: 'path', index: 300, text: 'caf\u00e9/\u6587\u4ef6.bin' },
  { type: 'seen', clientId: B, time: 1.5 },
  { type: 'begin', clientId: B, path: 300, etag: 0, size: 0, offset: 0, ticket: 4_294_967_295 },
  // offsets and sizes up to 2^53 survive
  { type: 'advance', clientId: A, path: 0, offset: 2 ** 53 - 1, ticket: 2 },
  { type: 'clients', clients: [{ clientId: A, lastSeen: 5 }, { clientId: B, lastSeen: 2 ** 41 + 0.5 }] },
  { type: 'files', files: [{ client: 1, path: 300, etag: 0, offset: 2 ** 40 + 3, size: 2 ** 41, ticket: 7 }] },
];

function log(...recs: LedgerRecord[]): { buf: Buffer; starts: number[] } {
  const parts: Buffer[] = [MAGIC];
  const starts: number[] = [];
  let at = MAGIC.length;
  for (const r of recs) {
    const f = encodeRecord(r);
    starts.push(at);
    parts.push(f);
    at += f.length;
  }
  return { buf: Buffer.concat(parts), starts };
}

/** How many records a list holds as counted by the decoder (slots of CLIENTS and FILES each count). */
function count(recs: LedgerRecord[]): number {
  return recs.reduce((n, r) => n + (r.type === 'clients' ? r.clients.length : r.type === 'files' ? r.files.length : 1), 0);
}

/** A frame of any kind and body, with a correct CRC. */
function frame(kind: number, body: Buffer): Buffer {
  const f = Buffer.concat([Buffer.from([kind]), body, Buffer.alloc(4)]);
  f.writeUInt32BE(zlibCrc32(f.subarray(0, f.length - 4)), f.length - 4);
  return f;
}

describe('record codec: round trip', () => {
  it.each(records.map((r) => [r.type, r] as const))('%s record %#', (_type, r) => {
    const { buf } = log(r);
    expect(decodeRecords(buf)).toEqual({ list: [r], records: count([r]), goodBytes: buf.length, problem: 'none' });
  });

  it('a log of every record decodes to the same records in order', () => {
    const { buf } = log(...records);
    expect(decodeRecords(buf)).toEqual({ list: records, records: count(records), goodBytes: buf.length, problem: 'none' });
  });

  it('client ids come back lower-case', () => {
    const { buf } = log({ type: 'seen', clientId: A.toUpperCase(), time: 1 });
    expect(decodeRecords(buf).list).toEqual([{ type: 'seen', clientId: A, time: 1 }]);
  });

  it.each([0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1])('varint %i round-trips', (n) => {
    const r: LedgerRecord = { type: 'advance', clientId: A, path: n, offset: n, ticket: n };
    expect(decodeRecords(log(r).buf).list).toEqual([r]);
  });

  it.each([2 ** 53, -1, 0.5, NaN, Infinity])('refuses %p where a whole number up to 2^53 belongs (programmer error)', (n) => {
    expect(() => encodeRecord({ type: 'advance', clientId: A, path: 0, offset: n, ticket: 1 })).toThrow(RangeError);
  });

  it('refuses a path longer than a frame may hold', () => {
    expect(() => encodeRecord({ type: 'path', index: 0, text: 'p'.repeat(0x10000) })).toThrow(RangeError);
    expect(encodeRecord({ type: 'path', index: 0, text: 'p'.repeat(0xffff) }).length).toBeGreaterThan(0xffff);
  });

  it('frames are short: SEEN 29 B, a progress update under 30 B, a snapshot slot 24 + 32 B', () => {
    expect(encodeRecord({ type: 'seen', clientId: A, time: Date.now() }).length).toBe(29);
    // 1 kind + 16 id + path index (1) + offset 100 MiB (4) + ticket (1) + 4 CRC
    expect(encodeRecord({ type: 'advance', clientId: A, path: 3, offset: 100 * 2 ** 20, ticket: 9 }).length).toBe(27);
    expect(encodeRecord({ type: 'begin', clientId: A, path: 3, etag: 3, size: 100_352, offset: 50_000, ticket: 1 }).length).toBe(30);
    const one = encodeRecord({ type: 'clients', clients: [{ clientId: A, lastSeen: 1 }] }).length;
    const two = encodeRecord({ type: 'clients', clients: [{ clientId: A, lastSeen: 1 }, { clientId: B, lastSeen: 1 }] }).length;
    expect(two - one).toBe(24);
    const f = { client: 0, path: 0, etag: 0, offset: 0, size: 0, ticket: 1 };
    expect(encodeRecord({ type: 'files', files: [f, f] }).length - encodeRecord({ type: 'files', files: [f] }).length).toBe(32);
  });

  it('every frame ends with the CRC-32 of its kind and body', () => {
    for (const r of records) {
      const f = encodeRecord(r);
      expect(f.readUInt32BE(f.length - 4)).toBe(zlibCrc32(f.subarray(0, f.length - 4)));
    }
  });

  it('the JavaScript CRC-32 agrees with zlib at every length', () => {
    const data = randomBytes(600);
    for (let len = 0; len <= data.length; len += 7) expect(crc32(data, 0, len)).toBe(zlibCrc32(data.subarray(0, len)));
    expect(crc32(data, 100, 150)).toBe(zlibCrc32(data.subarray(100, 150)));
  });

  it('an empty file is an empty ledger; MAGIC alone too', () => {
    expect(decodeRecords(Buffer.alloc(0))).toEqual({ list: [], records: 0, goodBytes: 0, problem: 'none' });
    expect(decodeRecords(MAGIC)).toEqual({ list: [], records: 0, goodBytes: MAGIC.length, problem: 'none' });
  });
});

describe('record codec: torn and corrupted logs', () => {
  const { buf, starts } = log(...records);
  const lastStart = starts[starts.length - 1]!;
  const before = records.slice(0, -1);
  const ok = (list: LedgerRecord[], goodBytes: number, problem: string) => ({ list, records: count(list), goodBytes, problem });

  // A write torn by SIGKILL or power loss: every cut inside the last frame.
  const cuts = Array.from({ length: buf.length - lastStart - 1 }, (_, i) => lastStart + 1 + i);
  it.each(cuts)('cut at byte %i of the log: the earlier records, torn-frame', (cut) => {
    expect(decodeRecords(buf.subarray(0, cut))).toEqual(ok(before, lastStart, 'torn-frame'));
  });

  // The same for a small frame (a SEEN in the middle of the log, cut inside it).
  const seenAt = starts[5]!;
  it.each(Array.from({ length: 28 }, (_, i) => seenAt + 1 + i))('cut inside a SEEN frame at byte %i: torn-frame', (cut) => {
    expect(decodeRecords(buf.subarray(0, cut))).toEqual(ok(records.slice(0, 5), seenAt, 'torn-frame'));
  });

  it('a cut exactly between frames is a clean, shorter log', () => {
    expect(decodeRecords(buf.subarray(0, lastStart))).toEqual(ok(before, lastStart, 'none'));
  });

  it.each(Array.from({ length: MAGIC.length - 1 }, (_, i) => i + 1))('a log cut to %i bytes of MAGIC is bad-magic', (cut) => {
    expect(decodeRecords(buf.subarray(0, cut))).toMatchObject({ list: [], goodBytes: 0, problem: 'bad-magic' });
  });

  it.each([
    ['a flipped byte in the last fixed record', buf.length - 6],
    ['a flipped kind byte (FILES → CLIENTS) of the last frame', lastStart],
    ['a flipped CRC byte', buf.length - 2],
  ])('%s → bad-crc or torn-frame, earlier records kept', (_name, at) => {
    const bad = Buffer.from(buf);
    bad[at] = bad[at]! ^ (at === lastStart ? 0x01 : 0x10);
    const got = decodeRecords(bad);
    expect(got.list).toEqual(before);
    expect(got.goodBytes).toBe(lastStart);
    expect(['bad-crc', 'torn-frame']).toContain(got.problem);
  });

  it('a flipped byte in a middle frame cuts everything after it', () => {
    const bad = Buffer.from(buf);
    bad[starts[2]! + 5] = bad[starts[2]! + 5]! ^ 0x80; // inside the ID of the first SEEN
    expect(decodeRecords(bad)).toEqual(ok(records.slice(0, 2), starts[2]!, 'bad-crc'));
  });

  it.each([
    ['zeros (the file grew, its data never came)', Buffer.alloc(16)],
    ['a lone kind byte', Buffer.from([1])],
  ])('%s after good frames → torn-frame', (_name, tail) => {
    expect(decodeRecords(Buffer.concat([buf, tail]))).toEqual(ok(records, buf.length, 'torn-frame'));
  });

  it.each([
    ['unknown kind', frame(9, Buffer.from([1, 2, 3]))],
    ['a varint beyond 2^53', frame(3, Buffer.concat([Buffer.alloc(16), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Buffer.from([0, 1])]))],
    ['a CLIENTS frame claiming too many slots', frame(6, (() => { const b = Buffer.alloc(4); b.writeUInt32BE(RECORDS_PER_FRAME + 1); return b; })())],
  ])('%s with a valid CRC → bad-record', (_name, f) => {
    expect(decodeRecords(Buffer.concat([buf, f]))).toEqual(ok(records, buf.length, 'bad-record'));
  });

  it('a frame the sink refuses (say, an unknown dictionary index) stops decoding with bad-record', () => {
    const seen: number[] = [];
    const sink: LedgerSink = {
      seen: () => void seen.push(1),
      begin: (_b, _at, path) => path !== 300,
      advance: () => true,
      drop: () => true,
      text: () => true,
      clients: () => true,
      files: () => true,
    };
    expect(decodeLedger(buf, sink)).toEqual({ records: 6, goodBytes: starts[6], problem: 'bad-record' });
    expect(seen).toHaveLength(2);
  });

  it.each([
    ['another file', Buffer.from('{"clients":[]}\n')],
    ['the first format (MOBLEDG1): read by record-codec-v1.ts, not here', Buffer.concat([MAGIC_V1, buf.subarray(MAGIC.length)])],
  ])('%s → bad-magic, nothing trusted', (_name, bytes) => {
    expect(decodeRecords(bytes)).toEqual({ list: [], records: 0, goodBytes: 0, problem: 'bad-magic' });
  });
});

describe('CRC-32 without zlib.crc32 (Node before 20.15, which package.json allows)', () => {
  it('loads, and checks large frames with the table loop, giving the same sums', () => {
    const zlib = jest.requireActual<typeof import('node:zlib')>('node:zlib');
    const big = Buffer.alloc(100_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    jest.isolateModules(() => {
      jest.doMock('node:zlib', () => ({ ...zlib, crc32: undefined }));
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const codec = require('../src/ledger/record-codec.js') as typeof import('../src/ledger/record-codec.js');
      expect(codec.crc32(big, 0, big.length)).toBe(zlib.crc32(big));
      expect(codec.crc32(big, 10, 5000)).toBe(zlib.crc32(big.subarray(10, 5000)));
      const snapshot = codec.encodeRecord({ type: 'clients', clients: Array.from({ length: 50 }, (_, i) => ({ clientId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, lastSeen: i })) }, true);
      expect(codec.decodeRecords(snapshot)).toMatchObject({ problem: 'none', records: 50 });
      jest.dontMock('node:zlib');
    });
  });
});
