/**
 * The file store's first on-disk format ("MOBLEDG1"), kept as a reader so a
 * ledger directory written by an older mobserve is migrated at open, not
 * lost (file-store.ts). The current format is record-codec.ts. Pure.
 *
 * File  = MAGIC frame*
 * frame = u32 payload length, u32 CRC-32 of payload, payload   (big-endian)
 *
 * A frame is trusted only if it is complete and its CRC matches. Decoding
 * stops at the first frame that is not, and reports how many bytes were good:
 * a write torn by SIGKILL or power loss leaves a tail that is cut, never
 * trusted.
 */
import { crc32 as crc32Range } from './record-codec.js';

const crc32 = (b: Buffer): number => crc32Range(b, 0, b.length);

export const MAGIC_V1 = Buffer.from('MOBLEDG1', 'latin1');
const MAGIC = MAGIC_V1;
const FRAME_HEAD = 8;
const MAX_PAYLOAD = 1 << 16;

export type LedgerRecord =
  | { type: 'seen'; clientId: string; time: number }
  | { type: 'progress'; clientId: string; time: number; path: string; offset: number; size: number; etag: string; ticket: number };

const SEEN = 1;
const PROGRESS = 2;

function idToBytes(id: string, out: Buffer, at: number): void {
  out.write(id.replace(/-/g, ''), at, 16, 'hex');
}

function bytesToId(b: Buffer, at: number): string {
  const h = b.toString('hex', at, at + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function encodeRecord(r: LedgerRecord): Buffer {
  let payload: Buffer;
  if (r.type === 'seen') {
    payload = Buffer.allocUnsafe(25);
    payload[0] = SEEN;
    idToBytes(r.clientId, payload, 1);
    payload.writeDoubleBE(r.time, 17);
  } else {
    const etag = Buffer.from(r.etag, 'latin1');
    const path = Buffer.from(r.path, 'utf8');
    if (etag.length > 255 || path.length > 0xffff - 64) throw new RangeError('record field too long');
    payload = Buffer.allocUnsafe(1 + 16 + 8 + 8 + 8 + 4 + 1 + etag.length + 2 + path.length);
    let at = 0;
    payload[at++] = PROGRESS;
    idToBytes(r.clientId, payload, at);
    at += 16;
    at = payload.writeDoubleBE(r.time, at);
    at = payload.writeDoubleBE(r.offset, at);
    at = payload.writeDoubleBE(r.size, at);
    at = payload.writeUInt32BE(r.ticket >>> 0, at);
    payload[at++] = etag.length;
    at += etag.copy(payload, at);
    at = payload.writeUInt16BE(path.length, at);
    path.copy(payload, at);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEAD + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeUInt32BE(crc32(payload), 4);
  payload.copy(frame, FRAME_HEAD);
  return frame;
}

function decodePayload(p: Buffer): LedgerRecord | undefined {
  if (p[0] === SEEN && p.length === 25) return { type: 'seen', clientId: bytesToId(p, 1), time: p.readDoubleBE(17) };
  if (p[0] === PROGRESS && p.length >= 48) {
    let at = 1;
    const clientId = bytesToId(p, at);
    at += 16;
    const time = p.readDoubleBE(at);
    const offset = p.readDoubleBE(at + 8);
    const size = p.readDoubleBE(at + 16);
    const ticket = p.readUInt32BE(at + 24);
    at += 28;
    const etagLen = p[at++]!;
    if (at + etagLen + 2 > p.length) return undefined;
    const etag = p.toString('latin1', at, at + etagLen);
    at += etagLen;
    const pathLen = p.readUInt16BE(at);
    at += 2;
    if (at + pathLen !== p.length) return undefined;
    const path = p.toString('utf8', at, at + pathLen);
    return { type: 'progress', clientId, time, path, offset, size, etag, ticket };
  }
  return undefined;
}

export interface DecodeResult {
  records: LedgerRecord[];
  /** Bytes from the start of the buffer that hold whole, checked frames. */
  goodBytes: number;
  /** Why decoding stopped early, if it did. */
  problem: 'none' | 'bad-magic' | 'torn-frame' | 'bad-crc' | 'bad-record';
}

/** Decodes a whole ledger file. Never throws on bad bytes. */
export function decodeLog(buf: Buffer): DecodeResult {
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    return { records: [], goodBytes: 0, problem: buf.length === 0 ? 'none' : 'bad-magic' };
  }
  const records: LedgerRecord[] = [];
  let at = MAGIC.length;
  while (at < buf.length) {
    if (at + FRAME_HEAD > buf.length) return { records, goodBytes: at, problem: 'torn-frame' };
    const len = buf.readUInt32BE(at);
    if (len === 0 || len > MAX_PAYLOAD || at + FRAME_HEAD + len > buf.length) return { records, goodBytes: at, problem: 'torn-frame' };
    const payload = buf.subarray(at + FRAME_HEAD, at + FRAME_HEAD + len);
    if (crc32(payload) !== buf.readUInt32BE(at + 4)) return { records, goodBytes: at, problem: 'bad-crc' };
    const rec = decodePayload(payload);
    if (!rec) return { records, goodBytes: at, problem: 'bad-record' };
    records.push(rec);
    at += FRAME_HEAD + len;
  }
  return { records, goodBytes: at, problem: 'none' };
}
