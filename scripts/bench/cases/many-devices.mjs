// Case 4, many devices: 1,000 concurrent downloads of word.doc through the
// client library, each with random drops (its own seed), against one
// mobserve with the memory ledger. Every file is checked against the source
// by SHA-256; the server's peak RSS comes from VmHWM in /proc/<pid>/status.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stop } from '../lib/processes.mjs';
import { CLIENT_LIB, startMobserve } from '../lib/servers.mjs';

const DEVICES = 1000;
const DROP_CHANCE = 0.1;

function peakRssMiB(pid) {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function manyDevices(ctx) {
  const { files, runs, log } = ctx;
  const { download } = await import(pathToFileURL(CLIENT_LIB).href);
  const wall = [];
  const verified = [];
  const failures = [];
  const drops = [];
  const rss = [];
  const errors = [];
  for (let i = 0; i < runs; i++) {
    // A fresh server per run: VmHWM is the peak of this run only.
    const dir = fs.mkdtempSync(path.join(ctx.tmp, 'devices-'));
    let mob;
    try {
      mob = await startMobserve(files.root, 'memory');
      const t0 = performance.now();
      const results = await Promise.allSettled(
        Array.from({ length: DEVICES }, (_, d) =>
          download({ target: 'word.doc', server: mob.url, output: path.join(dir, `device-${d}.doc`), dropChance: DROP_CHANCE, seed: i * DEVICES + d + 1 }),
        ),
      );
      const seconds = (performance.now() - t0) / 1000;
      let ok = 0;
      let bad = 0;
      let dropCount = 0;
      for (const [d, r] of results.entries()) {
        if (r.status === 'rejected') {
          bad++;
          if (errors.length < 5) errors.push(`device ${d}: ${r.reason?.code ?? ''} ${r.reason?.message ?? r.reason}`);
          continue;
        }
        dropCount += r.value.drops;
        const sha = createHash('sha256').update(fs.readFileSync(r.value.output)).digest('hex');
        if (sha === files.wordSha) ok++;
        else {
          bad++;
          if (errors.length < 5) errors.push(`device ${d}: sha256 ${sha} differs from the source`);
        }
      }
      wall.push(seconds);
      verified.push(ok);
      failures.push(bad);
      drops.push(dropCount);
      rss.push(peakRssMiB(mob.pid));
      log(`  run ${i + 1}/${runs}: ${ok}/${DEVICES} verified, ${bad} failed, ${dropCount} drops, ${seconds.toFixed(2)} s, server peak RSS ${rss.at(-1).toFixed(1)} MiB`);
    } finally {
      await stop(mob?.child);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const group = `4. many devices: ${DEVICES} concurrent word.doc downloads, drop chance ${DROP_CHANCE} per 16 KiB (memory ledger)`;
  return [
    { id: 'devices.verified', group, name: 'files verified by SHA-256', unit: `of ${DEVICES}`, samples: verified, target: { on: 'value', op: '>=', limit: DEVICES, text: `all ${DEVICES}, every run` }, judge: 'worst', extra: { errors } },
    { id: 'devices.failures', name: 'failed downloads', unit: '', samples: failures, lowerIsBetter: true },
    { id: 'devices.drops', name: 'simulated drops, total', unit: '', samples: drops },
    { id: 'devices.wall', name: 'wall time', unit: 's', samples: wall, lowerIsBetter: true },
    { id: 'devices.rss', name: 'server peak RSS (VmHWM)', unit: 'MiB', samples: rss, lowerIsBetter: true, target: { on: 'value', op: '<', limit: 300, text: '< 300 MiB' } },
  ];
}
