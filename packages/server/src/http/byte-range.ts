/**
 * Range header evaluation (RFC 9110 §14). Pure, never throws on client input.
 */

export type RangeResult =
  /** No usable Range: serve the whole representation (or the ledger's rest). */
  | { kind: 'none'; reason: 'absent' | 'other-unit' | 'multiple' }
  /** One satisfiable range, inclusive bounds. */
  | { kind: 'single'; start: number; end: number }
  /** §14.2: invalid or unsatisfiable ranges get 416. */
  | { kind: 'unsatisfiable'; reason: 'malformed' | 'invalid' | 'beyond-end' };

/** Largest offset we accept; beyond 2^53 JavaScript numbers lose integers. */
const MAX_POS_DIGITS = 15;

/**
 * Evaluates a Range field value against a representation of `size` bytes.
 *
 * - §14.1.1: `bytes=first-last`, `bytes=first-`, `bytes=-suffix`, a
 *   comma-separated list, optional whitespace around commas.
 * - §14.2: a range unit other than "bytes" MUST be ignored.
 * - §14.1.1: a range-spec is invalid if last < first; `bytes=-0` and
 *   ranges that start at or past the end are unsatisfiable → 416.
 * - More than one range: §14.2 allows the server to ignore Range; we do and
 *   send the whole representation (no multipart/byteranges).
 */
export function parseRange(size: number, header: string | undefined): RangeResult {
  if (header === undefined) return { kind: 'none', reason: 'absent' };
  const eq = header.indexOf('=');
  if (eq === -1) return { kind: 'unsatisfiable', reason: 'malformed' };
  const unit = header.slice(0, eq).trim().toLowerCase();
  if (unit !== 'bytes') {
    // A token unit we do not know: ignore. Garbage that is not a unit: 416.
    return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(unit) ? { kind: 'none', reason: 'other-unit' } : { kind: 'unsatisfiable', reason: 'malformed' };
  }
  const specs = header.slice(eq + 1).split(',');
  const parsed: Array<{ start: number; end: number } | 'unsatisfiable'> = [];
  for (const raw of specs) {
    const s = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    // §5.6.1: empty list elements are tolerated
    if (s === '') continue;
    const m = /^(\d*)-(\d*)$/.exec(s);
    if (!m || (m[1] === '' && m[2] === '')) return { kind: 'unsatisfiable', reason: 'malformed' };
    const [, a, b] = m as unknown as [string, string, string];
    // Positions this large are past any file we serve: a huge first-pos is
    // beyond the end; a huge last-pos or suffix length means "to the end".
    if (a.length > MAX_POS_DIGITS) {
      if (b !== '' && b.length <= MAX_POS_DIGITS) return { kind: 'unsatisfiable', reason: 'invalid' };
      parsed.push('unsatisfiable');
      continue;
    }
    if (a === '') {
      // suffix-range: the last N bytes (§14.1.1)
      const n = b.length > MAX_POS_DIGITS ? Number.MAX_SAFE_INTEGER : Number(b);
      if (n === 0 || size === 0) parsed.push('unsatisfiable');
      else parsed.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const first = Number(a);
    if (b !== '') {
      const last = b.length > MAX_POS_DIGITS ? Number.MAX_SAFE_INTEGER : Number(b);
      if (last < first) return { kind: 'unsatisfiable', reason: 'invalid' };
      if (first >= size) parsed.push('unsatisfiable');
      else parsed.push({ start: first, end: Math.min(last, size - 1) });
    } else if (first >= size) parsed.push('unsatisfiable');
    else parsed.push({ start: first, end: size - 1 });
  }
  if (parsed.length === 0) return { kind: 'unsatisfiable', reason: 'malformed' };
  // A set made only of empty elements is no range-set at all (§14.1.1).
  const satisfiable = parsed.filter((r): r is { start: number; end: number } => r !== 'unsatisfiable');
  if (satisfiable.length === 0) return { kind: 'unsatisfiable', reason: 'beyond-end' };
  if (parsed.length > 1) return { kind: 'none', reason: 'multiple' };
  const only = satisfiable[0]!;
  return { kind: 'single', start: only.start, end: only.end };
}

/** `Content-Range: bytes a-b/size` (RFC 9110 §14.4). */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** `Content-Range: bytes *\/size` for a 416 (RFC 9110 §15.5.17). */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}
