// Case 4, many devices: 1,000 concurrent downloads of word.doc through the
// client library's swarm() (what `mobget swarm --devices 1000 word.doc`
// runs), each device with random drops (its own seed), against one
// mobserve with the memory ledger. Every file is checked against the source
// by SHA-256; the server's peak RSS comes from VmHWM in /proc/<pid>/status.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sha256File } from '../lib/files.mjs';
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
  // The same code as `mobget swarm --devices 1000 word.doc`, called in-process.
  const { swarm } = await import(pathToFileURL(CLIENT_LIB).href);
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
      const s = await swarm({ target: 'word.doc', server: mob.url, devices: DEVICES, dropChance: DROP_CHANCE, seed: i * DEVICES + 1, outputDir: dir, keep: true });
      // swarm() verified each file against Repr-Digest; check the bytes against the source too.
      let ok = 0;
      for (const f of fs.readdirSync(dir)) {
        if (!f.endsWith('word.doc')) continue;
        const sha = sha256File(path.join(dir, f));
        if (sha === files.wordSha) ok++;
        else if (errors.length < 5) errors.push(`${f}: sha256 ${sha} differs from the source`);
      }
      for (const f of s.failures) if (errors.length < 5) errors.push(`device ${f.device}: ${f.code} ${f.message}`);
      const bad = DEVICES - ok;
      wall.push(s.seconds);
      verified.push(ok);
      failures.push(bad);
      drops.push(s.drops);
      rss.push(peakRssMiB(mob.pid));
      log(`  run ${i + 1}/${runs}: ${ok}/${DEVICES} verified, ${bad} failed, ${s.drops} drops, ${s.seconds.toFixed(2)} s, server peak RSS ${rss.at(-1).toFixed(1)} MiB`);
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
