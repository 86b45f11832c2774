// Small statistics over samples: the median (what the table shows) and
// nearest-rank percentiles (p99 of the drop-to-first-byte times).

export function percentile(values, p) {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  if (p === 50 && xs.length % 2 === 0) return (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
  const rank = Math.ceil((p / 100) * xs.length);
  return xs[Math.min(xs.length, Math.max(1, rank)) - 1];
}

export const median = (values) => percentile(values, 50);

/** Decimal megabytes per second. */
export const mbps = (bytes, seconds) => bytes / 1e6 / seconds;
