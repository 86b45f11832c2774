/**
 * The file store's on-disk format, version 2. Pure: records to bytes and back.
 *
 * File  = MAGIC ("MOBLEDG2") frame*
 * frame = kind (u8), body, CRC-32 (u32 BE) of kind and body
 *
 * Bodies (n = unsigned LEB128 varint, up to 2^53; id = 16 bytes of the UUID):
 *   1 SEEN     id, time f64                 the client was created or seen (29 B)
 *   2 BEGIN    id, path n, etag n, size n, offset n, ticket n
 *                                           a transfer opened (about 30 B)
 *   3 ADVANCE  id, path n, offset n, ticket n
 *                                           a transfer moved (about 26 B)
 *   4 PATH     index n, length n, UTF-8     defines a path dictionary index
 *   5 ETAG     index n, length n, UTF-8     defines an ETag dictionary index
 *   6 CLIENTS  count u32, count × (id, lastSeen f64)                 24 B each
 *   7 FILES    count u32, count × (client u32, path u32, etag u32,
 *                                  offset f64, size f64, ticket u32)  32 B each
 *   8 DROP     id                           the client was evicted, expired or
 *                                           replaced: forget it (21 B)
 * (multi-byte fixed fields big-endian)
 *
 * A snapshot is PATH and ETAG frames, then CLIENTS frames (the fresh list,
 * then the used list, each least recently seen first), then FILES frames
 * whose `client` is the position of the client in the CLIENTS records: fixed
 * slots read in a tight loop. The log that follows is SEEN, BEGIN, ADVANCE
 * and DROP frames, with PATH and ETAG frames defining each new string once.
 * Replay applies them in order and never evicts by itself: the writer logs
 * every client it forgets as a DROP (file-store.ts).
 *
 * A frame is trusted only if it is complete and its CRC matches. Decoding
 * stops at the first frame that is not and reports how many bytes were good:
 * a write torn by SIGKILL or power loss leaves a tail that is cut, never
 * trusted. Problems: 'torn-frame' (the buffer ends inside a frame, or a
 * zero kind byte: a file extended without its data), 'bad-crc', 'bad-record'
 * (a checked frame that makes no sense: unknown kind, unknown dictionary
 * index), 'bad-magic' (not this format).
 */
import * as zlib from 'node:zlib';

export const MAGIC = Buffer.from('MOBLEDG2', 'latin1');
/** What every version of the format starts with; the digit after it is the version. */
export const MAGIC_FAMILY = Buffer.from('MOBLEDG', 'latin1');

export const SEEN = 1;
export const BEGIN = 2;
export const ADVANCE = 3;
export const PATH = 4;
export const ETAG = 5;
export const CLIENTS = 6;
export const FILES = 7;
export const DROP = 8;

export const ID_BYTES = 16;
export const CLIENT_RECORD = 24;
export const FILE_RECORD = 32;
/** Records per CLIENTS or FILES frame: frames stay under 2 MiB. */
export const RECORDS_PER_FRAME = 65_536;
/** Longest path or ETag a frame may hold (bytes). */
export const MAX_TEXT = 0xffff;
/** No valid frame is longer: a FILES frame of RECORDS_PER_FRAME slots. */
export const MAX_FRAME = 1 + 4 + RECORDS_PER_FRAME * 32 + 4;

// ---- CRC-32 (the zlib polynomial) ----

const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

/**
 * CRC-32 of `b[start..end)`. Small frames in JavaScript: a call into zlib
 * plus the subarray it needs cost more than the 25 bytes themselves (2M
 * frames of 25 B, as in a 1M-session log: 0.30–0.35 s through zlib, 0.13–0.16 s
 * with this loop, measured here). Large frames (snapshots) go to zlib.
 */
export function crc32(b: Uint8Array, start: number, end: number): number {
  if (end - start > 256 && zlibCrc32 !== undefined) return zlibCrc32(b.subarray(start, end));
  return crc32Loop(b, start, end);
}

/**
 * zlib.crc32 appeared in Node 20.15; package.json allows 20.12, where the
 * table loop does every frame. Read from the namespace (not a named import,
 * which would fail to link on a Node without it).
 */
const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 of `b[start..end)` in JavaScript, byte by byte through the table. */
function crc32Loop(b: Uint8Array, start: number, end: number): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

// ---- Records as plain data (tests, tools) ----

export type LedgerRecord =
  | { type: 'seen'; clientId: string; time: number }
  | { type: 'begin'; clientId: string; path: number; etag: number; size: number; offset: number; ticket: number }
  | { type: 'advance'; clientId: string; path: number; offset: number; ticket: number }
  | { type: 'drop'; clientId: string }
  | { type: 'path' | 'etag'; index: number; text: string }
  | { type: 'clients'; clients: Array<{ clientId: string; lastSeen: number }> }
  | { type: 'files'; files: Array<{ client: number; path: number; etag: number; offset: number; size: number; ticket: number }> };

// ---- Encoding ----

/** Appends frames to one growing buffer: a batch or a snapshot becomes one write. */
export class FrameWriter {
  private buf: Buffer;
  private at = 0;
  private frameStart = 0;

  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** The bytes written so far; the writer starts over. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.at);
    this.buf = Buffer.allocUnsafe(Math.max(4096, Math.min(this.buf.length, 1 << 20)));
    this.at = 0;
    return out;
  }

  magic(): void {
    this.room(MAGIC.length);
    this.at += MAGIC.copy(this.buf, this.at);
  }

  /** `id` holds the 16 bytes of the client ID at `idAt`. */
  seen(id: Uint8Array, idAt: number, time: number): void {
    this.open(SEEN, 1 + ID_BYTES + 8);
    this.id(id, idAt);
    this.at = this.buf.writeDoubleBE(time, this.at);
    this.close();
  }

  begin(id: Uint8Array, idAt: number, path: number, etag: number, size: number, offset: number, ticket: number): void {
    this.open(BEGIN, 1 + ID_BYTES + 5 * 8);
    this.id(id, idAt);
    this.varint(path);
    this.varint(etag);
    this.varint(size);
    this.varint(offset);
    this.varint(ticket);
    this.close();
  }

  advance(id: Uint8Array, idAt: number, path: number, offset: number, ticket: number): void {
    this.open(ADVANCE, 1 + ID_BYTES + 3 * 8);
    this.id(id, idAt);
    this.varint(path);
    this.varint(offset);
    this.varint(ticket);
    this.close();
  }

  drop(id: Uint8Array, idAt: number): void {
    this.open(DROP, 1 + ID_BYTES);
    this.id(id, idAt);
    this.close();
  }

  /**
   * Drops everything from byte `length` on (a frame whose encoding threw, or
   * a batch given up): the next frame starts clean there.
   */
  truncate(length: number): void {
    if (length < this.at) this.at = length;
  }

  /** Defines dictionary `index` of PATH or ETAG. */
  text(kind: typeof PATH | typeof ETAG, index: number, text: string): void {
    const len = Buffer.byteLength(text, 'utf8');
    if (len > MAX_TEXT) throw new RangeError(`ledger ${kind === PATH ? 'path' : 'ETag'} longer than ${MAX_TEXT} bytes`);
    this.open(kind, 1 + 16 + len);
    this.varint(index);
    this.varint(len);
    this.at += this.buf.write(text, this.at, 'utf8');
    this.close();
  }

  /** Starts a CLIENTS or FILES frame of `count` fixed records; fill them with the record methods. */
  openRecords(kind: typeof CLIENTS | typeof FILES, count: number): void {
    this.open(kind, 1 + 4 + count * (kind === CLIENTS ? CLIENT_RECORD : FILE_RECORD));
    this.at = this.buf.writeUInt32BE(count, this.at);
  }

  clientRecord(id: Uint8Array, idAt: number, lastSeen: number): void {
    this.id(id, idAt);
    this.at = this.buf.writeDoubleBE(lastSeen, this.at);
  }

  fileRecord(client: number, path: number, etag: number, offset: number, size: number, ticket: number): void {
    const b = this.buf;
    let at = b.writeUInt32BE(client, this.at);
    at = b.writeUInt32BE(path, at);
    at = b.writeUInt32BE(etag, at);
    at = b.writeDoubleBE(offset, at);
    at = b.writeDoubleBE(size, at);
    this.at = b.writeUInt32BE(ticket, at);
  }

  /** Ends the frame begun by openRecords. */
  closeRecords(): void {
    this.close();
  }

  private open(kind: number, maxBody: number): void {
    this.room(maxBody + 4);
    this.frameStart = this.at;
    this.buf[this.at++] = kind;
  }

  private close(): void {
    this.at = this.buf.writeUInt32BE(crc32(this.buf, this.frameStart, this.at), this.at);
  }

  private id(id: Uint8Array, idAt: number): void {
    this.buf.set(id.subarray(idAt, idAt + ID_BYTES), this.at);
    this.at += ID_BYTES;
  }

  private varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`ledger field must be a whole number up to 2^53, got ${n}`);
    const b = this.buf;
    while (n >= 0x80) {
      b[this.at++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    b[this.at++] = n;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
}

/** One record as a whole log (MAGIC + frame) or, with `withMagic` false, just its frame. */
export function encodeRecord(r: LedgerRecord, withMagic = false): Buffer {
  const w = new FrameWriter();
  if (withMagic) w.magic();
  const id = Buffer.alloc(ID_BYTES);
  const idOf = (s: string) => {
    const hex = s.replace(/-/g, '');
    if (!/^[0-9a-f]{32}$/i.test(hex)) throw new TypeError(`not a UUID: ${s}`);
    id.write(hex, 0, 16, 'hex');
    return id;
  };
  switch (r.type) {
    case 'seen':
      w.seen(idOf(r.clientId), 0, r.time);
      break;
    case 'begin':
      w.begin(idOf(r.clientId), 0, r.path, r.etag, r.size, r.offset, r.ticket);
      break;
    case 'advance':
      w.advance(idOf(r.clientId), 0, r.path, r.offset, r.ticket);
      break;
    case 'drop':
      w.drop(idOf(r.clientId), 0);
      break;
    case 'path':
    case 'etag':
      w.text(r.type === 'path' ? PATH : ETAG, r.index, r.text);
      break;
    case 'clients':
      w.openRecords(CLIENTS, r.clients.length);
      for (const c of r.clients) w.clientRecord(idOf(c.clientId), 0, c.lastSeen);
      w.closeRecords();
      break;
    case 'files':
      w.openRecords(FILES, r.files.length);
      for (const f of r.files) w.fileRecord(f.client, f.path, f.etag, f.offset, f.size, f.ticket);
      w.closeRecords();
      break;
  }
  return w.take();
}

// ---- Decoding ----

/**
 * Receives each checked frame. IDs are passed as (bytes, offset of the 16
 * bytes), fixed records as (bytes, offset of the first, count): no object
 * per record. A method returning false stops decoding with 'bad-record'.
 */
export interface LedgerSink {
  seen(b: Uint8Array, idAt: number, time: number): boolean | void;
  begin(b: Uint8Array, idAt: number, path: number, etag: number, size: number, offset: number, ticket: number): boolean | void;
  advance(b: Uint8Array, idAt: number, path: number, offset: number, ticket: number): boolean | void;
  drop(b: Uint8Array, idAt: number): boolean | void;
  text(kind: typeof PATH | typeof ETAG, index: number, text: string): boolean | void;
  clients(b: Uint8Array, at: number, count: number): boolean | void;
  files(b: Uint8Array, at: number, count: number): boolean | void;
}

export type DecodeProblem = 'none' | 'bad-magic' | 'torn-frame' | 'bad-crc' | 'bad-record';

export interface DecodeResult {
  /** Records applied: one per small frame, one per slot of a CLIENTS or FILES frame. */
  records: number;
  /** Bytes from the start of the buffer that hold whole, checked frames. */
  goodBytes: number;
  /** Why decoding stopped early, if it did. */
  problem: DecodeProblem;
}

const TORN = -1;
const BAD = -2;

/**
 * Decodes a whole ledger file into `sink`; or, given `start`, the frames of
 * a piece of one from `start` on (no MAGIC: a reader going through a large
 * file in chunks; a frame cut by the chunk's end is 'torn-frame' at
 * `goodBytes`). Never throws on bad bytes.
 */
export function decodeLedger(buf: Uint8Array, sink: LedgerSink, start?: number): DecodeResult {
  if (start === undefined) {
    if (buf.length === 0) return { records: 0, goodBytes: 0, problem: 'none' };
    if (buf.length < MAGIC.length || !MAGIC.equals(buf.subarray(0, MAGIC.length))) return { records: 0, goodBytes: 0, problem: 'bad-magic' };
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const end = buf.length;
  let records = 0;
  let at = start ?? MAGIC.length;
  // Reads a varint at `p`; sets `p` past it. TORN past the end, BAD beyond 2^53.
  let p = 0;
  const varint = (): number => {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (p >= end) return TORN;
      const byte = buf[p++]!;
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) return n <= Number.MAX_SAFE_INTEGER ? n : BAD;
      scale *= 0x80;
    }
    // Too long for 2^53: skip to its end, so the CRC still covers the right bytes.
    while (p < end && buf[p++]! >= 0x80);
    return p >= end ? TORN : BAD;
  };
  const stop = (problem: DecodeProblem): DecodeResult => ({ records, goodBytes: at, problem });

  while (at < end) {
    const kind = buf[at]!;
    p = at + 1;
    let applied: boolean | void = true;
    let count = 1;
    // First find the frame's end (torn if past the buffer), then check its CRC, then apply it.
    if (kind === SEEN) {
      p += ID_BYTES + 8;
      if (p + 4 > end) return stop('torn-frame');
      if (!crcOk(buf, view, at, p)) return stop('bad-crc');
      applied = sink.seen(buf, at + 1, view.getFloat64(at + 1 + ID_BYTES));
    } else if (kind === DROP) {
      p += ID_BYTES;
      if (p + 4 > end) return stop('torn-frame');
      if (!crcOk(buf, view, at, p)) return stop('bad-crc');
      applied = sink.drop(buf, at + 1);
    } else if (kind === BEGIN || kind === ADVANCE) {
      p += ID_BYTES;
      const a = varint();
      const b = varint();
      const c = varint();
      const d = kind === BEGIN ? varint() : 0;
      const e = kind === BEGIN ? varint() : 0;
      if (a === TORN || b === TORN || c === TORN || d === TORN || e === TORN || p + 4 > end) return stop('torn-frame');
      if (!crcOk(buf, view, at, p)) return stop('bad-crc');
      if (a === BAD || b === BAD || c === BAD || d === BAD || e === BAD) return stop('bad-record');
      applied = kind === BEGIN ? sink.begin(buf, at + 1, a, b, c, d, e) : sink.advance(buf, at + 1, a, b, c);
    } else if (kind === PATH || kind === ETAG) {
      const index = varint();
      const len = varint();
      if (index === TORN || len === TORN) return stop('torn-frame');
      const textAt = p;
      if (len !== BAD) p += len;
      if (p + 4 > end) return stop('torn-frame');
      if (!crcOk(buf, view, at, p)) return stop('bad-crc');
      if (index === BAD || len === BAD || len > MAX_TEXT) return stop('bad-record');
      applied = sink.text(kind, index, Buffer.from(buf.buffer, buf.byteOffset + textAt, len).toString('utf8'));
    } else if (kind === CLIENTS || kind === FILES) {
      if (p + 4 > end) return stop('torn-frame');
      count = view.getUint32(p);
      if (count > RECORDS_PER_FRAME) return stop('bad-record');
      p += 4 + count * (kind === CLIENTS ? CLIENT_RECORD : FILE_RECORD);
      if (p + 4 > end) return stop('torn-frame');
      if (!crcOk(buf, view, at, p)) return stop('bad-crc');
      applied = kind === CLIENTS ? sink.clients(buf, at + 5, count) : sink.files(buf, at + 5, count);
    } else {
      return stop(kind === 0 ? 'torn-frame' : 'bad-record');
    }
    if (applied === false) return stop('bad-record');
    records += count;
    at = p + 4;
  }
  return stop('none');
}

function crcOk(buf: Uint8Array, view: DataView, start: number, end: number): boolean {
  return crc32(buf, start, end) === view.getUint32(end);
}

/** Decodes a whole ledger file into plain records (tests, tools). */
export function decodeRecords(buf: Uint8Array): DecodeResult & { list: LedgerRecord[] } {
  const list: LedgerRecord[] = [];
  const idAt = (b: Uint8Array, at: number) => {
    const h = Buffer.from(b.buffer, b.byteOffset + at, ID_BYTES).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const result = decodeLedger(buf, {
    seen: (b, at, time) => void list.push({ type: 'seen', clientId: idAt(b, at), time }),
    begin: (b, at, path, etag, size, offset, ticket) => void list.push({ type: 'begin', clientId: idAt(b, at), path, etag, size, offset, ticket }),
    advance: (b, at, path, offset, ticket) => void list.push({ type: 'advance', clientId: idAt(b, at), path, offset, ticket }),
    drop: (b, at) => void list.push({ type: 'drop', clientId: idAt(b, at) }),
    text: (kind, index, text) => void list.push({ type: kind === PATH ? 'path' : 'etag', index, text }),
    clients: (b, at, count) => {
      const clients = [];
      for (let i = 0; i < count; i++, at += CLIENT_RECORD) clients.push({ clientId: idAt(b, at), lastSeen: view.getFloat64(at + ID_BYTES) });
      list.push({ type: 'clients', clients });
    },
    files: (_b, at, count) => {
      const files = [];
      for (let i = 0; i < count; i++, at += FILE_RECORD) {
        files.push({ client: view.getUint32(at), path: view.getUint32(at + 4), etag: view.getUint32(at + 8), offset: view.getFloat64(at + 12), size: view.getFloat64(at + 20), ticket: view.getUint32(at + 28) });
      }
      list.push({ type: 'files', files });
    },
  });
  return { ...result, list };
}
