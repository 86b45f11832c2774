/**
 * Sizes and durations as people type them. Pure; bad input returns an error
 * message (for a person) instead of throwing.
 */

// "i"/"ib" only after a multiple ("20ki", "1MiB"); a lone "b" is bytes.
const SIZE = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])i?b?|b)?$/i;
const SIZE_FACTORS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * "512" → 512, "20k" → 20480, "1m"/"1MiB"/"1MB" → 1048576. Binary multiples
 * throughout: a "k" of a file is 1024 bytes, as `ls -h` and curl show it.
 */
export function parseSize(text: string): number | { error: string } {
  const m = SIZE.exec(text.trim());
  if (!m) return { error: `"${text}" is not a size (examples: 512, 20k, 1m, 2g)` };
  const value = Number(m[1]) * SIZE_FACTORS[(m[2] ?? '').toLowerCase()]!;
  if (!Number.isFinite(value) || value > Number.MAX_SAFE_INTEGER) return { error: `"${text}" is too large` };
  return Math.floor(value);
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i;
const DURATION_FACTORS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "250ms", "30s", "15m", "24h", "7d"; a bare number is seconds. Returns ms. */
export function parseDuration(text: string): number | { error: string } {
  const m = DURATION.exec(text.trim());
  if (!m) return { error: `"${text}" is not a duration (examples: 30s, 15m, 24h, 7d)` };
  const ms = Math.round(Number(m[1]) * DURATION_FACTORS[(m[2] ?? 's').toLowerCase()]!);
  if (!Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) return { error: `"${text}" is too long` };
  return ms;
}

/** 100352 → "98.0 KiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  // Promote when the rounded figure would read "1024.0" (1048575 → "1.0 MiB").
  while (Number(v.toFixed(1)) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
