#!/usr/bin/env node
// The benchmark of the issue "Performance: as fast as nginx, and cheap per
// device". One command, after `pnpm run build` (`pnpm bench` does both):
//
//   node scripts/bench/run.mjs [--runs N] [--quick] [--only 1,3] [--json-out FILE]
//
// It installs nginx, wrk, curl and wget when missing (apt-get, as root on
// Debian), makes its files in a tmp dir, starts every server on 127.0.0.1,
// runs each case N times (default 5), prints the medians with the ratio to
// the reference measured in the same run and the issue's targets (PASS or
// MISS), and writes the same figures as JSON. Everything it starts is
// stopped at the end, whatever happens.
//
// Cases: 1 bulk throughput, 2 resume rate, 3 cost of a drop, 4 many
// devices, 5 the ledger (see cases/*.mjs).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { makeFixture } from '../make-fixture.mjs';
import { bulk } from './cases/bulk.mjs';
import { dropCost } from './cases/drop-cost.mjs';
import { ledger } from './cases/ledger.mjs';
import { manyDevices } from './cases/many-devices.mjs';
import { resumeRate } from './cases/resume-rate.mjs';
import { scaleOut } from './cases/scale-out.mjs';
import { sha256File } from './lib/files.mjs';
import { shutdown, stopAll } from './lib/processes.mjs';
import { finalize, table } from './lib/report.mjs';
import { CLIENT_LIB, MOBGET, MOBSERVE, REPO, SERVER_LIB } from './lib/servers.mjs';
import { ensureTools, machine, versions } from './lib/tools.mjs';

const USAGE = `usage: node scripts/bench/run.mjs [--runs N] [--quick] [--only 1,2,3,4,5,6] [--json-out FILE]
  --runs N         runs of each case (default 5; 1 with --quick)
  --quick          smoke mode: 32 MiB file, 3 s wrk runs, 100,000 ledger sessions
  --only LIST      run only these cases (1 bulk, 2 resume rate, 3 drop cost, 4 many devices, 5 ledger, 6 scale-out with Redis)
  --json-out FILE  where to write the figures (default: bench-results.json in the tmp dir)`;

const CASES = [
  [1, 'bulk throughput', bulk],
  [2, 'resume rate', resumeRate],
  [3, 'cost of a drop', dropCost],
  [4, 'many devices', manyDevices],
  [5, 'the ledger', ledger],
  [6, 'scale-out with Redis', scaleOut],
];

function options() {
  let v;
  try {
    v = parseArgs({
      options: {
        runs: { type: 'string' },
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        'json-out': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (e) {
    console.error(`bench: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const runs = v.runs === undefined ? (v.quick ? 1 : 5) : Number(v.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`bench: --runs must be a whole number above 0\n${USAGE}`);
    process.exit(2);
  }
  const only = v.only ? v.only.split(',').map(Number) : CASES.map(([n]) => n);
  if (only.some((n) => !CASES.some(([k]) => k === n))) {
    console.error(`bench: --only takes case numbers 1 to 6\n${USAGE}`);
    process.exit(2);
  }
  return { runs, quick: v.quick, only, jsonOut: v['json-out'] && path.resolve(v['json-out']) };
}

const log = (s) => process.stderr.write(`${s}\n`);
// The tmp dir: at the end only the big files go (the JSON and the nginx
// configs and logs stay); after a signal, all of it.
let tmp;
const scratch = [];
const removeScratch = () => {
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
};

async function main() {
  const opts = options();
  for (const f of [MOBSERVE, MOBGET, CLIENT_LIB, SERVER_LIB]) {
    if (!fs.existsSync(f)) throw new Error(`${path.relative(REPO, f)} is missing: run \`pnpm run build\` first (\`pnpm bench\` builds, then runs this)`);
  }
  const tools = ensureTools(log);
  const info = { machine: machine(), versions: versions(tools) };
  const m = info.machine;
  const machineLines = [
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}, load average ${m.loadAverage.join(' ')} at start`,
    `versions: node ${info.versions.node}, nginx ${info.versions.nginx}, curl ${info.versions.curl}, wget ${info.versions.wget}, wrk ${info.versions.wrk}`,
  ];
  for (const l of machineLines) log(l);

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobserve-bench-'));
  const jsonOut = opts.jsonOut ?? path.join(tmp, 'bench-results.json');
  const root = path.join(tmp, 'root');
  scratch.push(root);
  const figures = [];
  const failed = [];
  try {
    const bigSize = (opts.quick ? 32 : 256) * 1024 * 1024;
    const big = path.join(root, 'big.bin');
    log(`files: ${tmp}`);
    if (opts.only.some((n) => n === 1 || n === 3)) {
      log(`making ${bigSize / 2 ** 20} MiB big.bin (scripts/make-fixture.mjs)`);
      makeFixture(big, bigSize);
    }
    const word = path.join(root, 'word.doc');
    fs.mkdirSync(root, { recursive: true });
    fs.copyFileSync(path.join(REPO, 'fixtures', 'word.doc'), word);
    const files = {
      root,
      big,
      bigSize,
      bigSha: fs.existsSync(big) ? sha256File(big) : undefined,
      word,
      wordSize: fs.statSync(word).size,
      wordSha: sha256File(word),
    };
    const ctx = { tmp, runs: opts.runs, quick: opts.quick, tools, files, log };

    for (const [n, title, fn] of CASES) {
      if (!opts.only.includes(n)) continue;
      log(`\ncase ${n}: ${title} (${opts.runs} run${opts.runs > 1 ? 's' : ''})`);
      const t0 = performance.now();
      try {
        figures.push(...(await fn(ctx)));
      } catch (e) {
        // One broken case must not hide the others' figures.
        log(`  case ${n} failed: ${e.stack ?? e}`);
        failed.push({ case: n, title, error: String(e.message ?? e) });
        figures.push({ id: `case${n}.error`, group: `${n}. ${title}`, name: 'FAILED', unit: '', samples: [], error: String(e.message ?? e).split('\n')[0] });
      } finally {
        await stopAll(); // nothing a case started outlives it
      }
      log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
  } finally {
    await stopAll();
    removeScratch();
  }

  const final = finalize(figures);
  const out = [
    '',
    `mobserve benchmark: medians of ${opts.runs} run${opts.runs > 1 ? 's' : ''}${opts.quick ? ' (--quick: smaller sizes, shorter runs; targets are for the full run)' : ''}; ratios are to the reference measured in this same run`,
    ...machineLines,
    `load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the end (${m.cores} cores: above that, other work shared the machine and the figures are noisy)`,
    ...table(final),
    '',
  ];
  const passes = final.filter((f) => f.verdict === 'PASS').length;
  const misses = final.filter((f) => f.verdict === 'MISS').length;
  out.push(`targets: ${passes} PASS, ${misses} MISS${failed.length ? `; ${failed.length} case(s) FAILED: ${failed.map((f) => f.case).join(', ')}` : ''}`);
  fs.mkdirSync(path.dirname(jsonOut), { recursive: true });
  fs.writeFileSync(
    jsonOut,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        options: { runs: opts.runs, quick: opts.quick, only: opts.only },
        ...info,
        loadAverageAtEnd: os.loadavg(),
        figures: final.map(({ group, id, name, unit, median, samples, refName, ref, ratio, target, verdict, detail, extra, error }) => ({ group, id, name, unit, median, samples, ref, refName, ratio, target, verdict, detail, extra, error })),
        failed,
      },
      null,
      2,
    )}\n`,
  );
  out.push(`JSON: ${jsonOut}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return failed.length === 0 ? 0 : 1;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`\nbench: ${signal}, stopping everything it started`);
    shutdown().finally(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

main().then(
  (code) => process.exit(code),
  async (e) => {
    await stopAll();
    log(`bench: ${e.message ?? e}`);
    process.exit(1);
  },
);
