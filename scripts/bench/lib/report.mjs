// Turns the cases' samples into the figures: the median of each measure, its
// ratio to the reference measured in the same run of the benchmark, and the
// issue's target with PASS or MISS. Prints them as a table.
import { median } from './stats.mjs';

function holds(x, op, limit) {
  if (!Number.isFinite(x)) return false;
  return op === '>=' ? x >= limit : op === '<=' ? x <= limit : op === '<' ? x < limit : x > limit;
}

/** Adds median, ratio and verdict to every measure. */
export function finalize(measures) {
  const byId = new Map(measures.map((m) => [m.id, m]));
  let group;
  return measures.map((m) => {
    group = m.group ?? group;
    const med = median(m.samples);
    const ref = m.ref ? byId.get(m.ref) : undefined;
    const ratio = ref ? med / median(ref.samples) : undefined;
    let verdict;
    if (m.target) {
      let x = m.target.on === 'ratio' ? ratio : med;
      if (m.judge === 'worst') x = m.lowerIsBetter ? Math.max(...m.samples) : Math.min(...m.samples);
      verdict = holds(x, m.target.op, m.target.limit) ? 'PASS' : 'MISS';
    }
    return { ...m, group, median: med, refName: ref ? (ref.short ?? shortName(ref.name)) : undefined, ratio, verdict };
  });
}

function fmt(x, unit) {
  if (!Number.isFinite(x)) return 'n/a';
  const digits = unit === 'ms' ? 3 : unit === 's' ? 2 : unit === 'B' ? 1 : 0;
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const pad = (s, n) => s + ' '.repeat(Math.max(0, n - [...s].length));
const padStart = (s, n) => ' '.repeat(Math.max(0, n - [...s].length)) + s;

/** The table, as lines of text (no colour: it goes to logs and files as is). */
export function table(figures) {
  const rows = figures.map((f) => ({
    group: f.group,
    name: f.name,
    value: `${fmt(f.median, f.unit)}${f.unit ? ` ${f.unit}` : ''}`,
    ratio: f.reference ? 'reference' : f.ratio !== undefined ? `${f.ratio.toFixed(2)}× ${f.refName}` : '',
    target: f.target?.text ?? '',
    verdict: f.verdict ?? '',
    detail: f.error ?? f.detail ?? '',
  }));
  const w = {
    name: Math.max(...rows.map((r) => [...r.name].length), 7),
    value: Math.max(...rows.map((r) => [...r.value].length), 6),
    ratio: Math.max(...rows.map((r) => [...r.ratio].length), 5),
    target: Math.max(...rows.map((r) => [...r.target].length), 6),
  };
  const lines = [];
  const header = `  ${pad('measure', w.name)}  ${padStart('median', w.value)}  ${pad('ratio', w.ratio)}  ${pad('target', w.target)}  verdict`;
  let group;
  for (const r of rows) {
    if (r.group !== group) {
      group = r.group;
      lines.push('', group, header);
    }
    lines.push(`  ${pad(r.name, w.name)}  ${padStart(r.value, w.value)}  ${pad(r.ratio, w.ratio)}  ${pad(r.target, w.target)}  ${pad(r.verdict, 7)}${r.detail ? `  ${r.detail}` : ''}`.trimEnd());
  }
  return lines;
}

function shortName(name = '') {
  return name.split(/[,(]/)[0].trim();
}
