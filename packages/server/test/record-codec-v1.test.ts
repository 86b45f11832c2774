/**
 * The first on-disk format (MOBLEDG1), still read to migrate old ledgers: MAGIC, then (u32 length, u32 CRC-32, payload)*.
 * A torn or corrupted tail must be cut at the last whole, checked frame,
 * never trusted.
 */
import { crc32 } from 'node:zlib';
import { decodeLog, encodeRecord, MAGIC_V1 as MAGIC, type LedgerRecord } from '../src/ledger/record-codec-v1.js';

const A = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const B = 'ffffffff-0000-4000-8000-000000000001';

const records: LedgerRecord[] = [
  { type: 'seen', clientId: A, time: 1_700_000_000_123 },
  { type: 'progress', clientId: A, time: 1_700_000_000_456, path: 'dir/word.doc', offset: 4096, size: 1 << 20, etag: '"abc-_XYZ"', ticket: 1 },
  { type: 'seen', clientId: B, time: 0 },
  { type: 'progress', clientId: B, time: 1.5, path: 'caf\u00e9/\u6587\u4ef6.bin', offset: 0, size: 0, etag: '""', ticket: 4_294_967_295 },
  // offsets and sizes beyond 2^32 survive (doubles)
  { type: 'progress', clientId: B, time: 2, path: 'big.iso', offset: 2 ** 40 + 3, size: 2 ** 41, etag: '"big"', ticket: 7 },
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

/** A frame with a correct length and CRC around any payload. */
function frame(payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(payload.length, 0);
  head.writeUInt32BE(crc32(payload), 4);
  return Buffer.concat([head, payload]);
}

describe('record codec: round trip', () => {
  it.each(records.map((r) => [r.type, r] as const))('%s record %#', (_type, r) => {
    const { buf } = log(r);
    expect(decodeLog(buf)).toEqual({ records: [r], goodBytes: buf.length, problem: 'none' });
  });

  it('a log of every record decodes to the same records in order', () => {
    const { buf } = log(...records);
    expect(decodeLog(buf)).toEqual({ records, goodBytes: buf.length, problem: 'none' });
  });

  it('client ids come back lower-case', () => {
    const { buf } = log({ type: 'seen', clientId: A.toUpperCase(), time: 1 });
    expect(decodeLog(buf).records).toEqual([{ type: 'seen', clientId: A, time: 1 }]);
  });

  it('frame header holds the payload length and its CRC-32', () => {
    const f = encodeRecord(records[1]!);
    const payload = f.subarray(8);
    expect(f.readUInt32BE(0)).toBe(payload.length);
    expect(f.readUInt32BE(4)).toBe(crc32(payload));
  });

  it('an empty file is an empty ledger', () => {
    expect(decodeLog(Buffer.alloc(0))).toEqual({ records: [], goodBytes: 0, problem: 'none' });
  });

  it('MAGIC alone is an empty ledger', () => {
    expect(decodeLog(MAGIC)).toEqual({ records: [], goodBytes: MAGIC.length, problem: 'none' });
  });

  it('refuses record fields that cannot be framed (programmer error)', () => {
    expect(() => encodeRecord({ ...(records[1] as Extract<LedgerRecord, { type: 'progress' }>), etag: `"${'x'.repeat(300)}"` })).toThrow(RangeError);
    expect(() => encodeRecord({ ...(records[1] as Extract<LedgerRecord, { type: 'progress' }>), path: 'p'.repeat(0x10000) })).toThrow(RangeError);
  });
});

describe('record codec: torn and corrupted logs', () => {
  const { buf, starts } = log(...records);
  const lastStart = starts[starts.length - 1]!;
  const before = records.slice(0, -1);

  // A write torn by SIGKILL or power loss: every cut inside the last frame.
  const cuts = Array.from({ length: buf.length - lastStart - 1 }, (_, i) => lastStart + 1 + i);
  it.each(cuts)('cut at byte %i of the log: the earlier records, torn-frame', (cut) => {
    expect(decodeLog(buf.subarray(0, cut))).toEqual({ records: before, goodBytes: lastStart, problem: 'torn-frame' });
  });

  it('a cut exactly between frames is a clean, shorter log', () => {
    expect(decodeLog(buf.subarray(0, lastStart))).toEqual({ records: before, goodBytes: lastStart, problem: 'none' });
  });

  it.each(Array.from({ length: MAGIC.length - 1 }, (_, i) => i + 1))('a log cut to %i bytes of MAGIC is bad-magic', (cut) => {
    expect(decodeLog(buf.subarray(0, cut))).toMatchObject({ records: [], goodBytes: 0, problem: 'bad-magic' });
  });

  it.each([
    ['a flipped byte in the last payload', buf.length - 1],
    ['a flipped first payload byte', lastStart + 8],
    ['a flipped CRC byte', lastStart + 5],
  ])('%s → bad-crc, earlier records kept', (_name, at) => {
    const bad = Buffer.from(buf);
    bad[at] = bad[at]! ^ 0x01;
    expect(decodeLog(bad)).toEqual({ records: before, goodBytes: lastStart, problem: 'bad-crc' });
  });

  it('a flipped byte in the middle frame cuts everything after it', () => {
    const bad = Buffer.from(buf);
    bad[starts[2]! + 12] = bad[starts[2]! + 12]! ^ 0x80;
    expect(decodeLog(bad)).toEqual({ records: records.slice(0, 2), goodBytes: starts[2], problem: 'bad-crc' });
  });

  it('a length pointing past the end is a torn frame', () => {
    const bad = Buffer.from(buf);
    bad.writeUInt32BE(bad.readUInt32BE(lastStart) + 1, lastStart);
    expect(decodeLog(bad)).toEqual({ records: before, goodBytes: lastStart, problem: 'torn-frame' });
  });

  it.each([
    ['zero-length frame', Buffer.alloc(8)],
    ['absurd length', Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3])],
  ])('%s after good frames → torn-frame', (_name, tail) => {
    expect(decodeLog(Buffer.concat([buf, tail]))).toEqual({ records, goodBytes: buf.length, problem: 'torn-frame' });
  });

  it.each([
    ['unknown record type', Buffer.from([9, 1, 2, 3])],
    ['seen record of the wrong length', Buffer.concat([encodeRecord(records[0]!).subarray(8), Buffer.from([0])])],
    ['progress record with a path length past its end', (() => {
      const p = Buffer.from(encodeRecord(records[1]!).subarray(8));
      p.writeUInt16BE(p.readUInt16BE(p.length - 'dir/word.doc'.length - 2) + 1, p.length - 'dir/word.doc'.length - 2);
      return p;
    })()],
  ])('%s with a valid CRC → bad-record', (_name, payload) => {
    expect(decodeLog(Buffer.concat([buf, frame(payload)]))).toEqual({ records, goodBytes: buf.length, problem: 'bad-record' });
  });

  it.each([
    ['another file', Buffer.from('{"clients":[]}\n')],
    ['an older format', Buffer.concat([Buffer.from('MOBLEDG0'), buf.subarray(MAGIC.length)])],
  ])('%s → bad-magic, nothing trusted', (_name, bytes) => {
    expect(decodeLog(bytes)).toEqual({ records: [], goodBytes: 0, problem: 'bad-magic' });
  });
});
