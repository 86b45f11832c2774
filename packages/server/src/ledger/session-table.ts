/**
 * The in-memory ledger shared by the memory and file stores. Pure data
 * structure: no I/O, no clock (callers pass `now`).
 *
 * Compact: a paused session costs 83 bytes at 1M sessions (docs/PERFORMANCE.md,
 * case 5; it was 377 B as Maps of objects), and there is no object per
 * session for the GC to trace. Everything lives in typed arrays (37 + 36
 * bytes of slots and 8 of hash index per paused session, plus the slack of
 * doubling):
 *
 * - Client IDs are canonical UUIDs (http/client-id.ts; the server
 *   makes them with crypto.randomUUID), kept as 16 bytes (four u32 words).
 *   Any other string is a programmer error (InvalidClientIdError) when
 *   created, and simply unknown when looked up. Hex case does not matter.
 * - Client slots (37 B): id, lastSeen, prev/next links of its LRU list,
 *   first file slot, state (free, fresh, used).
 * - File slots (36 B): client, path index, ETag index, offset, size, ticket
 *   (u32, saturating: see begin), next file of the same client.
 * - An open-addressing hash index (linear probing, load ≤ 1/2, deletion by
 *   backward shift, so no tombstones) maps an ID to its client slot.
 * - Paths and ETags are interned in two small refcounted dictionaries: one
 *   string per file of the catalog, shared by every session.
 * - Freed slots go on free lists; arrays grow by doubling, the client arrays
 *   no further than maxClients (the table never holds more).
 *
 * Clients sit in one of two doubly linked lists, each kept in
 * least-recently-seen order (a touch moves the client to the end): `fresh`
 * holds IDs that never started a download, `used` those with at least one
 * file entry. Expiry and eviction pop from the fronts:
 * - expiry: a client unseen for longer than ttlMs is gone;
 * - eviction: creating a client beyond maxClients drops the least recently
 *   seen *fresh* client, and only when there is none, the least recently
 *   seen used one. A flood of `GET /` therefore evicts only other
 *   never-used IDs, never a device's paused download, until the table holds
 *   nothing but paused downloads (docs/DESIGN.md).
 */
import { formatClientId, parseClientId } from '../http/client-id.js';
import type { Progress, StoreLimits, TransferStart } from './progress-store.js';

/** A client ID that is not a canonical UUID was handed to a store: a programmer error. */
export class InvalidClientIdError extends TypeError {
  readonly code = 'INVALID_CLIENT_ID';
  constructor(id: unknown) {
    super(`client id must be a canonical UUID (8-4-4-4-12 hex digits), got ${JSON.stringify(id)}`);
  }
}

/** "No slot": an empty list, hash bucket or link. */
export const NO_SLOT = -1;
const NONE = NO_SLOT;
/** Client slot states; FRESH and USED also name the LRU lists. */
const FREE = 0;
export const FRESH = 1;
export const USED = 2;

const MIN_CAPACITY = 64;
/** Tickets saturate here (u32). */
export const MAX_TICKET = 0xffff_ffff;

function hashWords(w0: number, w1: number, w2: number, w3: number): number {
  // Random v4 UUIDs need little mixing, but IDs made by hand (tests, the
  // bench) differ only in a few bits: mix all four words.
  let h = Math.imul(w0 ^ Math.imul(w1, 0x9e3779b1) ^ Math.imul(w2, 0x85ebca77) ^ Math.imul(w3, 0xc2b2ae3d), 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x165667b1);
  return h ^ (h >>> 13);
}

// ---- Dictionaries: interned, refcounted strings ----

/** Strings shared by many entries, by index. An index is reused once no entry holds it. */
export class StringDictionary {
  private readonly strings: Array<string | undefined> = [];
  private readonly refs: number[] = [];
  private readonly byText = new Map<string, number>();
  private readonly free: number[] = [];

  get size(): number {
    return this.byText.size;
  }

  /** Index of `s` if some entry holds it. */
  find(s: string): number | undefined {
    return this.byText.get(s);
  }

  /** Index of `s`, with one more reference. */
  acquire(s: string): number {
    let i = this.byText.get(s);
    if (i === undefined) {
      i = this.free.pop() ?? this.strings.length;
      this.strings[i] = s;
      this.refs[i] = 0;
      this.byText.set(s, i);
    }
    this.refs[i]!++;
    return i;
  }

  release(i: number): void {
    if (--this.refs[i]! > 0) return;
    this.byText.delete(this.strings[i]!);
    this.strings[i] = undefined;
    this.free.push(i);
  }

  text(i: number): string {
    return this.strings[i]!;
  }

  /** Live (index, text) pairs, for snapshots. */
  *entries(): IterableIterator<[number, string]> {
    for (const [s, i] of this.byText) yield [i, s];
  }
}

/** One client as plain data (tests, debugging). */
export interface ClientEntryView {
  id: string;
  lastSeen: number;
  used: boolean;
  files: Array<[string, Progress]>;
}

export class SessionTable {
  // Client slots, struct of arrays.
  private ids = new Uint32Array(0);
  private lastSeen = new Float64Array(0);
  private prev = new Int32Array(0);
  private next = new Int32Array(0);
  private firstFile = new Int32Array(0);
  private state = new Uint8Array(0);
  private clientCap = 0;
  private clientTop = 0;
  private clientFree = NONE;
  /** Head and tail of the fresh and used lists, by state. */
  private readonly head = new Int32Array([NONE, NONE, NONE]);
  private readonly tail = new Int32Array([NONE, NONE, NONE]);

  // The hash index: slot per bucket, NONE when empty.
  private index = new Int32Array(0);
  private mask = 0;

  // File slots, struct of arrays.
  private fClient = new Int32Array(0);
  private fPath = new Uint32Array(0);
  private fEtag = new Uint32Array(0);
  private fOffset = new Float64Array(0);
  private fSize = new Float64Array(0);
  private fTicket = new Uint32Array(0);
  private fNext = new Int32Array(0);
  private fileCap = 0;
  private fileTop = 0;
  private fileFree = NONE;

  private clients = 0;
  private files = 0;
  readonly paths = new StringDictionary();
  readonly etags = new StringDictionary();

  /** The ID being looked up (scratch: no allocation per call). */
  private readonly key = new Uint32Array(4);
  /**
   * Called with a client's slot just before the table forgets it by itself:
   * evicted by create, expired by touch or sweep, replaced by create of the
   * same ID, trimmed. The file store logs a DROP frame from it. Not called by
   * drop() (replay applies DROP frames).
   */
  onRemove: ((c: number) => void) | undefined;

  constructor(readonly limits: StoreLimits) {
    this.growClients();
    this.growFiles();
  }

  get clientCount(): number {
    return this.clients;
  }

  get progressCount(): number {
    return this.files;
  }

  // ---- The operations of ProgressStore ----

  /**
   * Adds a client and returns its slot. An existing client with the same ID
   * is replaced: forgotten with its files, as if expired (replay agrees: the
   * file store logs a DROP before the new client's SEEN). Clients beyond
   * maxClients are evicted first (makeRoom).
   */
  create(clientId: string, now: number): number {
    if (!parseClientId(clientId, this.key)) throw new InvalidClientIdError(clientId);
    const existing = this.findKey();
    if (existing !== NONE) this.forget(existing);
    this.makeRoom();
    return this.insertKey(now);
  }

  /** Refreshes lastSeen; false (and forgets it) if unknown or expired. */
  touch(clientId: string, now: number): boolean {
    return this.touchSlot(clientId, now) !== NONE;
  }

  /** touch(), returning the client's slot or NO_SLOT. */
  touchSlot(clientId: string, now: number): number {
    const c = this.findId(clientId);
    if (c === NONE) return NONE;
    if (now - this.lastSeen[c]! > this.limits.ttlMs) {
      this.forget(c);
      return NONE;
    }
    this.see(c, now);
    return c;
  }

  get(clientId: string, path: string): Progress | undefined {
    const f = this.findFile(this.findId(clientId), path);
    if (f === NONE) return undefined;
    return { offset: this.fOffset[f]!, size: this.fSize[f]!, etag: this.etags.text(this.fEtag[f]!), ticket: this.fTicket[f]! };
  }

  /**
   * Opens a transfer; returns the entry's file slot (its ticket is
   * fileTicket(slot)), or NO_SLOT for an unknown client. Throws RangeError
   * for an offset or size that is not a whole number of bytes, before
   * changing anything.
   */
  beginSlot(clientId: string, path: string, start: TransferStart): number {
    checkCount(start.offset, 'offset');
    checkCount(start.size, 'size');
    const c = this.findId(clientId);
    if (c === NONE) return NONE;
    const f = this.findFile(c, path);
    // Tickets are u32 (also in snapshots): after 4 billion transfers of one
    // file by one device they stay at MAX_TICKET instead of wrapping to 0
    // (then a transfer no longer outranks the one before it).
    const ticket = f === NONE ? 1 : Math.min(this.fTicket[f]! + 1, MAX_TICKET);
    return this.setFile(c, f, path, start.etag, start.offset, start.size, ticket);
  }

  /** Opens a transfer; returns its ticket, or 0 for an unknown client (see beginSlot). */
  begin(clientId: string, path: string, start: TransferStart): number {
    const f = this.beginSlot(clientId, path, start);
    return f === NONE ? 0 : this.fTicket[f]!;
  }

  /**
   * Moves an entry if `ticket` still owns it; returns its file slot, or
   * NO_SLOT. Throws RangeError for an offset that is not a whole number of
   * bytes (a programmer error, caught here and not when a store writes it).
   */
  advanceSlot(clientId: string, path: string, ticket: number, offset: number): number {
    checkCount(offset, 'offset');
    return this.moveIfOwned(this.findFile(this.findId(clientId), path), ticket, offset);
  }

  /** The rule of advance, live and in replay: only the ticket that owns file slot `f` moves it, never past the size. */
  private moveIfOwned(f: number, ticket: number, offset: number): number {
    if (f === NONE || this.fTicket[f] !== ticket) return NONE;
    this.fOffset[f] = Math.min(offset, this.fSize[f]!);
    return f;
  }

  /** Moves an entry if `ticket` still owns it (see advanceSlot). */
  advance(clientId: string, path: string, ticket: number, offset: number): boolean {
    return this.advanceSlot(clientId, path, ticket, offset) !== NONE;
  }

  /** Drops clients unseen for longer than ttlMs at `now`, from the fronts; returns how many. */
  sweep(now: number): number {
    let gone = 0;
    for (const list of [FRESH, USED]) {
      for (let c = this.head[list]!; c !== NONE; c = this.head[list]!) {
        if (now - this.lastSeen[c]! <= this.limits.ttlMs) break;
        this.forget(c);
        gone++;
      }
    }
    return gone;
  }

  // ---- Replay (file store): the same facts, by 16-byte ID ----

  /**
   * Replay of a first-format log: the client was seen at `time` (creates it
   * if needed, evicting as create does: that format has no DROP records).
   */
  seen(clientId: string, time: number): void {
    if (!parseClientId(clientId, this.key)) return;
    const c = this.findKey();
    if (c !== NONE) return this.see(c, time);
    this.makeRoom();
    this.insertKey(time);
  }

  /** Replay of a first-format log: sets an entry outright; false if the client is unknown. */
  put(clientId: string, path: string, progress: Progress): boolean {
    return this.putSlot(this.findId(clientId), path, progress.etag, progress.offset, progress.size, progress.ticket);
  }

  /**
   * Replay and snapshot load: the client `bytes[at..at+16]` was seen at
   * `time`: moved to the end of its list, or created at the end of the fresh
   * list. Never evicts: every eviction and expiry is in the log as a DROP
   * frame, and a table left over maxClients (a lower limit than the log was
   * written with, or a log from before DROP frames) is trimmed at the end
   * (trim()). Returns the client's slot.
   */
  seenBytes(bytes: Uint8Array, at: number, time: number): number {
    this.keyFromBytes(bytes, at);
    const c = this.findKey();
    if (c === NONE) return this.insertKey(time);
    this.see(c, time);
    return c;
  }

  /** Replay of a DROP frame: forgets the client `bytes[at..at+16]` with its files, if known. */
  dropBytes(bytes: Uint8Array, at: number): void {
    this.keyFromBytes(bytes, at);
    const c = this.findKey();
    if (c !== NONE) this.removeClient(c);
  }

  /** Replay: sets an entry outright; false if the client is unknown. */
  putBytes(bytes: Uint8Array, at: number, path: string, etag: string, offset: number, size: number, ticket: number): boolean {
    this.keyFromBytes(bytes, at);
    return this.putSlot(this.findKey(), path, etag, offset, size, ticket);
  }

  /** Snapshot load and replay: sets an entry of client slot `c`. */
  putSlot(c: number, path: string, etag: string, offset: number, size: number, ticket: number): boolean {
    if (c < 0 || c >= this.clientTop || this.state[c] === FREE) return false;
    this.setFile(c, this.findFile(c, path), path, etag, offset, size, ticket);
    return true;
  }

  /** Replay: moves an entry if `ticket` owns it (newest wins, as live). */
  advanceBytes(bytes: Uint8Array, at: number, path: string, offset: number, ticket: number): boolean {
    this.keyFromBytes(bytes, at);
    return this.moveIfOwned(this.findFile(this.findKey(), path), ticket, offset) !== NONE;
  }

  /**
   * Evicts by the rule of create (fresh first, least recently seen first)
   * until at most maxClients remain; after replay, when the limit is lower
   * than the one the log was written with. Returns how many.
   */
  trim(): number {
    return this.evictDownTo(this.limits.maxClients);
  }

  // ---- Reading slots (file store: log frames and snapshots) ----

  /** Client slots of one list, least recently seen first. */
  *listSlots(list: typeof FRESH | typeof USED): IterableIterator<number> {
    for (let c = this.head[list]!; c !== NONE; c = this.next[c]!) yield c;
  }

  /** First client slot of a list (NONE when empty), least recently seen first. */
  listHead(list: typeof FRESH | typeof USED): number {
    return this.head[list]!;
  }

  /** The client after `c` in its list, or NONE. */
  nextInList(c: number): number {
    return this.next[c]!;
  }

  /** First file slot of client `c`, or NONE. */
  firstFileOf(c: number): number {
    return this.firstFile[c]!;
  }

  /** The next file slot of the same client, or NONE. */
  nextFileOf(f: number): number {
    return this.fNext[f]!;
  }

  isLiveClient(c: number): boolean {
    return c >= 0 && c < this.clientTop && this.state[c] !== FREE;
  }

  isLiveFile(f: number): boolean {
    return f >= 0 && f < this.fileTop && this.fClient[f] !== NONE;
  }

  /** Writes the client's 16-byte ID at `out[at]`. */
  copyId(c: number, out: Uint8Array, at: number): void {
    for (let i = 0; i < 4; i++) {
      const w = this.ids[c * 4 + i]!;
      out[at + i * 4] = w >>> 24;
      out[at + i * 4 + 1] = w >>> 16;
      out[at + i * 4 + 2] = w >>> 8;
      out[at + i * 4 + 3] = w;
    }
  }

  clientId(c: number): string {
    return formatClientId(this.ids.subarray(c * 4, c * 4 + 4));
  }

  clientLastSeen(c: number): number {
    return this.lastSeen[c]!;
  }

  /** File slots of client `c`, newest first. */
  *fileSlots(c: number): IterableIterator<number> {
    for (let f = this.firstFile[c]!; f !== NONE; f = this.fNext[f]!) yield f;
  }

  fileClient(f: number): number {
    return this.fClient[f]!;
  }
  filePathIndex(f: number): number {
    return this.fPath[f]!;
  }
  fileEtagIndex(f: number): number {
    return this.fEtag[f]!;
  }
  fileOffset(f: number): number {
    return this.fOffset[f]!;
  }
  fileSize(f: number): number {
    return this.fSize[f]!;
  }
  fileTicket(f: number): number {
    return this.fTicket[f]!;
  }

  /** Every live client with its files, fresh list first, each least recently seen first (tests, debugging). */
  *entries(): IterableIterator<ClientEntryView> {
    for (const list of [FRESH, USED] as const) {
      for (const c of this.listSlots(list)) {
        const files: Array<[string, Progress]> = [];
        for (const f of this.fileSlots(c)) {
          files.push([this.paths.text(this.fPath[f]!), { offset: this.fOffset[f]!, size: this.fSize[f]!, etag: this.etags.text(this.fEtag[f]!), ticket: this.fTicket[f]! }]);
        }
        yield { id: this.clientId(c), lastSeen: this.lastSeen[c]!, used: list === USED, files };
      }
    }
  }

  // ---- Internals ----

  private findId(clientId: string): number {
    if (!parseClientId(clientId, this.key)) return NONE;
    return this.findKey();
  }

  private keyFromBytes(b: Uint8Array, at: number): void {
    for (let i = 0; i < 4; i++) {
      const j = at + i * 4;
      this.key[i] = ((b[j]! << 24) | (b[j + 1]! << 16) | (b[j + 2]! << 8) | b[j + 3]!) >>> 0;
    }
  }

  private findKey(): number {
    const k = this.key;
    const k0 = k[0]!;
    const k1 = k[1]!;
    const k2 = k[2]!;
    const k3 = k[3]!;
    const ids = this.ids;
    const index = this.index;
    for (let i = hashWords(k0, k1, k2, k3) & this.mask; ; i = (i + 1) & this.mask) {
      const c = index[i]!;
      if (c === NONE) return NONE;
      const o = c * 4;
      if (ids[o] === k0 && ids[o + 1] === k1 && ids[o + 2] === k2 && ids[o + 3] === k3) return c;
    }
  }

  /** Room for one more client: evicts until fewer than maxClients remain. */
  private makeRoom(): void {
    this.evictDownTo(this.limits.maxClients - 1);
  }

  /** Evicts the least recently seen fresh client, else used one, until at most `n` remain; returns how many. */
  private evictDownTo(n: number): number {
    let evicted = 0;
    while (this.clients > Math.max(0, n)) {
      const victim = this.head[FRESH] !== NONE ? this.head[FRESH]! : this.head[USED]!;
      this.forget(victim);
      evicted++;
    }
    return evicted;
  }

  /** Adds the client in `key` (which the caller found absent) at the end of the fresh list; returns its slot. */
  private insertKey(now: number): number {
    const c = this.allocClient();
    this.ids.set(this.key, c * 4);
    this.lastSeen[c] = now;
    this.firstFile[c] = NONE;
    this.state[c] = FRESH;
    this.append(c, FRESH);
    this.indexInsert(c);
    this.clients++;
    return c;
  }

  /** Removes a client the table drops by itself, telling onRemove first. */
  private forget(c: number): void {
    this.onRemove?.(c);
    this.removeClient(c);
  }

  private see(c: number, time: number): void {
    this.lastSeen[c] = Math.max(this.lastSeen[c]!, time);
    const list = this.state[c]!;
    this.unlink(c, list);
    this.append(c, list);
  }

  /** The file slot of (client slot, path), or NONE. */
  private findFile(c: number, path: string): number {
    if (c === NONE || this.firstFile[c] === NONE) return NONE;
    const p = this.paths.find(path);
    if (p === undefined) return NONE;
    for (let f = this.firstFile[c]!; f !== NONE; f = this.fNext[f]!) if (this.fPath[f] === p) return f;
    return NONE;
  }

  /** Writes an entry into file slot `f` of client `c`, or into a new one when f is NONE; returns the slot. */
  private setFile(c: number, f: number, path: string, etag: string, offset: number, size: number, ticket: number): number {
    if (f === NONE) {
      f = this.allocFile();
      this.fClient[f] = c;
      this.fPath[f] = this.paths.acquire(path);
      this.fEtag[f] = this.etags.acquire(etag);
      this.fNext[f] = this.firstFile[c]!;
      this.firstFile[c] = f;
      this.files++;
      if (this.state[c] === FRESH) {
        // First download: the client moves to the end of the used list.
        this.unlink(c, FRESH);
        this.state[c] = USED;
        this.append(c, USED);
      }
    } else if (this.etags.text(this.fEtag[f]!) !== etag) {
      const e = this.etags.acquire(etag);
      this.etags.release(this.fEtag[f]!);
      this.fEtag[f] = e;
    }
    this.fOffset[f] = offset;
    this.fSize[f] = size;
    this.fTicket[f] = ticket;
    return f;
  }

  private removeClient(c: number): void {
    for (let f = this.firstFile[c]!; f !== NONE; ) {
      const nextFile = this.fNext[f]!;
      this.paths.release(this.fPath[f]!);
      this.etags.release(this.fEtag[f]!);
      this.fClient[f] = NONE;
      this.fNext[f] = this.fileFree;
      this.fileFree = f;
      this.files--;
      f = nextFile;
    }
    this.firstFile[c] = NONE;
    this.unlink(c, this.state[c]!);
    this.indexDelete(c);
    this.state[c] = FREE;
    this.next[c] = this.clientFree;
    this.clientFree = c;
    this.clients--;
  }

  // LRU lists: doubly linked through prev/next.

  private append(c: number, list: number): void {
    const t = this.tail[list]!;
    this.prev[c] = t;
    this.next[c] = NONE;
    if (t === NONE) this.head[list] = c;
    else this.next[t] = c;
    this.tail[list] = c;
  }

  private unlink(c: number, list: number): void {
    const p = this.prev[c]!;
    const n = this.next[c]!;
    if (p === NONE) this.head[list] = n;
    else this.next[p] = n;
    if (n === NONE) this.tail[list] = p;
    else this.prev[n] = p;
  }

  // The hash index.

  private home(c: number): number {
    const o = c * 4;
    return hashWords(this.ids[o]!, this.ids[o + 1]!, this.ids[o + 2]!, this.ids[o + 3]!) & this.mask;
  }

  private indexInsert(c: number): void {
    let i = this.home(c);
    while (this.index[i] !== NONE) i = (i + 1) & this.mask;
    this.index[i] = c;
  }

  /** Backward-shift deletion: later entries of the probe run move up, so lookups never need tombstones. */
  private indexDelete(c: number): void {
    const index = this.index;
    const mask = this.mask;
    let i = this.home(c);
    while (index[i] !== c) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; index[j] !== NONE; j = (j + 1) & mask) {
      const h = this.home(index[j]!);
      // The entry at j may fill the hole at i unless its home lies in (i, j].
      const stays = i <= j ? i < h && h <= j : i < h || h <= j;
      if (!stays) {
        index[i] = index[j]!;
        i = j;
      }
    }
    index[i] = NONE;
  }

  // Slot allocation and growth.

  private allocClient(): number {
    if (this.clientFree !== NONE) {
      const c = this.clientFree;
      this.clientFree = this.next[c]!;
      return c;
    }
    if (this.clientTop === this.clientCap) this.growClients();
    return this.clientTop++;
  }

  /**
   * Makes room for `clients` clients and `files` file entries at once (the
   * file store, before a replay): growing 64 → 1M by doubling copies every
   * array 14 times and rehashes the index each time, about a fifth of a
   * 1M-session reopen (0.45 of 2.4 s).
   */
  reserve(clients: number, files: number): void {
    if (clients > this.clientCap) this.growClients(Math.min(clients, Math.max(this.limits.maxClients, this.clientCap + 1)));
    if (files > this.fileCap) this.growFiles(files);
  }

  /**
   * Gives back what reserve() took beyond need (after a replay: a log of
   * many ADVANCE frames is long for the sessions it holds): a client or file
   * column more than twice as long as its used part is cut to 5/4 of it.
   */
  fit(): void {
    const want = (top: number) => Math.max(MIN_CAPACITY, Math.ceil(top * 1.25));
    if (this.clientCap > 2 * want(this.clientTop)) this.resizeClients(want(this.clientTop));
    if (this.fileCap > 2 * want(this.fileTop)) this.resizeFiles(want(this.fileTop));
  }

  /** Client and file capacity (tests). */
  get capacity(): { clients: number; files: number } {
    return { clients: this.clientCap, files: this.fileCap };
  }

  private growClients(atLeast = 0): void {
    // Doubling, but no further than maxClients when that leaves room: at the
    // default 1,000,000 the arrays fill exactly instead of to 1,048,576.
    let cap = Math.max(MIN_CAPACITY, this.clientCap * 2);
    if (cap > this.limits.maxClients && this.limits.maxClients > this.clientCap) cap = this.limits.maxClients;
    this.resizeClients(Math.max(cap, atLeast));
  }

  /** Client columns of `cap` slots (at least clientTop), and the hash index to match. */
  private resizeClients(cap: number): void {
    this.ids = growU32(this.ids, cap * 4);
    this.lastSeen = growF64(this.lastSeen, cap);
    this.prev = growI32(this.prev, cap);
    this.next = growI32(this.next, cap);
    this.firstFile = growI32(this.firstFile, cap);
    const state = new Uint8Array(cap);
    state.set(this.state.subarray(0, cap));
    this.state = state;
    this.clientCap = cap;
    // Load factor at most 1/2.
    let size = 1;
    while (size < cap * 2) size *= 2;
    if (size !== this.index.length) {
      this.index = new Int32Array(size).fill(NONE);
      this.mask = size - 1;
      for (let c = 0; c < this.clientTop; c++) if (this.state[c] !== FREE) this.indexInsert(c);
    }
  }

  private allocFile(): number {
    if (this.fileFree !== NONE) {
      const f = this.fileFree;
      this.fileFree = this.fNext[f]!;
      return f;
    }
    if (this.fileTop === this.fileCap) this.growFiles();
    return this.fileTop++;
  }

  private growFiles(atLeast = 0): void {
    this.resizeFiles(Math.max(MIN_CAPACITY, this.fileCap * 2, atLeast));
  }

  /** File columns of `cap` slots (at least fileTop). */
  private resizeFiles(cap: number): void {
    this.fClient = growI32(this.fClient, cap);
    this.fPath = growU32(this.fPath, cap);
    this.fEtag = growU32(this.fEtag, cap);
    this.fOffset = growF64(this.fOffset, cap);
    this.fSize = growF64(this.fSize, cap);
    this.fTicket = growU32(this.fTicket, cap);
    this.fNext = growI32(this.fNext, cap);
    this.fileCap = cap;
  }
}

/** Offsets and sizes are byte counts: whole numbers up to 2^53. */
function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a whole number of bytes, got ${n}`);
}

function growU32(a: Uint32Array, n: number): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(n);
  b.set(a.length > n ? a.subarray(0, n) : a);
  return b;
}
function growI32(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a.length > n ? a.subarray(0, n) : a);
  return b;
}
function growF64(a: Float64Array, n: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(n);
  b.set(a.length > n ? a.subarray(0, n) : a);
  return b;
}
