/**
 * Client IDs are UUIDs, 8-4-4-4-12 hex digits in either case (RFC 9562 §4):
 * the router recognises them in a path, and the ledger keeps them as four
 * u32 words (big-endian bytes) instead of 36 characters. One parser for both.
 */

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

/** Hex value of `n` digits of `s` from `at`, or -1. */
function hexWord(s: string, at: number, n: number): number {
  let w = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? HEX[c]! : -1;
    if (v < 0) return -1;
    w = (w << 4) | v;
  }
  return w >>> 0;
}

/** Parses a UUID into `out[0..3]`; false if it is not one. */
export function parseClientId(s: string, out: Uint32Array): boolean {
  if (typeof s !== 'string' || s.length !== 36) return false;
  if (s.charCodeAt(8) !== 45 || s.charCodeAt(13) !== 45 || s.charCodeAt(18) !== 45 || s.charCodeAt(23) !== 45) return false;
  const w0 = hexWord(s, 0, 8);
  const a = hexWord(s, 9, 4);
  const b = hexWord(s, 14, 4);
  const c = hexWord(s, 19, 4);
  const d = hexWord(s, 24, 4);
  const w3 = hexWord(s, 28, 8);
  if (w0 < 0 || a < 0 || b < 0 || c < 0 || d < 0 || w3 < 0) return false;
  out[0] = w0;
  out[1] = (a << 16) | b;
  out[2] = (c << 16) | d;
  out[3] = w3;
  return true;
}

/** The canonical (lower-case) text of an ID held as four words. */
export function formatClientId(w: ArrayLike<number>): string {
  const h = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  const s = h(w[0]!) + h(w[1]!) + h(w[2]!) + h(w[3]!);
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** Scratch for isClientId: no allocation per request. */
const scratch = new Uint32Array(4);

/** Whether `s` is a client ID (a UUID, either case). */
export function isClientId(s: string): boolean {
  return parseClientId(s, scratch);
}
