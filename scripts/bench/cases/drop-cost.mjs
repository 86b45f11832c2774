// Case 3, the cost of a drop: mobget on the big file from mobserve's
// client-ID path with --drop-every 1m vs without drops (throughput ratio),
// and the dead time of a drop measured in-process with the client library:
// the 'drop' event to the next 'progress' event (the first body bytes of the
// resumed response), next to a bare TCP connect on loopback.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stop } from '../lib/processes.mjs';
import { CLIENT_LIB, mobgetJson, startMobserve } from '../lib/servers.mjs';
import { mbps, median, percentile } from '../lib/stats.mjs';

const DROP_EVERY = 1024 * 1024;

async function mobgetCli(url, name, out, extra) {
  fs.rmSync(out, { force: true });
  try {
    return (await mobgetJson([name, '--server', url, '-o', out, ...extra], `mobget ${extra.join(' ')}`)).s;
  } finally {
    fs.rmSync(out, { force: true });
  }
}

/** Milliseconds of `n` bare TCP connects to the server's port (connect → 'connect'). */
async function connectTimes(url, n) {
  const { port } = new URL(url);
  const times = [];
  for (let i = 0; i < n; i++) {
    times.push(
      await new Promise((resolve, reject) => {
        const t0 = performance.now();
        const s = net.connect({ host: '127.0.0.1', port: Number(port) });
        s.once('connect', () => {
          const t = performance.now() - t0;
          s.destroy();
          resolve(t);
        });
        s.once('error', reject);
      }),
    );
  }
  return times;
}

export async function dropCost(ctx) {
  const { files, runs, log } = ctx;
  const { download } = await import(pathToFileURL(CLIENT_LIB).href);
  const name = path.basename(files.big);
  const out = path.join(ctx.tmp, `drop-${name}`);
  let mob;
  try {
    mob = await startMobserve(files.root, 'memory');
    await mobgetCli(mob.url, name, out, []); // warm-up: mobserve hashes the file once

    const plain = [];
    const dropping = [];
    const dropsPerRun = [];
    const dead = [];
    const connect = [];
    const phases = { toConnect: [], toResponse: [], toBody: [] };
    for (let i = 0; i < runs; i++) {
      const a = await mobgetCli(mob.url, name, out, []);
      plain.push(mbps(a.bytes, a.seconds));
      const b = await mobgetCli(mob.url, name, out, ['--drop-every', '1m']);
      dropping.push(mbps(b.bytes, b.seconds));
      dropsPerRun.push(b.drops);

      // In-process: drop → first body bytes of the resumed response.
      fs.rmSync(out, { force: true });
      // Where the time goes: drop → 'connect' (the client decides to
      // reconnect) → 'response' (TCP connect, request, the server's answer,
      // the head parsed) → 'progress' (first body bytes written).
      let droppedAt;
      let connectAt;
      let responseAt;
      const gaps = [];
      const s = await download({
        target: name,
        server: mob.url,
        output: out,
        dropEvery: DROP_EVERY,
        onEvent: (e) => {
          const t = performance.now();
          if (e.type === 'drop') droppedAt = t;
          else if (droppedAt === undefined) return;
          else if (e.type === 'connect') connectAt = t;
          else if (e.type === 'response') responseAt = t;
          else if (e.type === 'progress') {
            gaps.push(t - droppedAt);
            phases.toConnect.push(connectAt - droppedAt);
            phases.toResponse.push(responseAt - connectAt);
            phases.toBody.push(t - responseAt);
            droppedAt = undefined;
          }
        },
      });
      fs.rmSync(out, { force: true });
      if (!s.verified || s.sha256 !== files.bigSha) throw new Error('in-process download with drops did not verify');
      dead.push(...gaps);
      connect.push(...(await connectTimes(mob.url, 100)));
      log(`  run ${i + 1}/${runs}: no drops ${plain.at(-1).toFixed(0)} MB/s, drop every 1m ${dropping.at(-1).toFixed(0)} MB/s (${b.drops} drops); drop → first byte median ${median(gaps).toFixed(3)} ms over ${gaps.length} drops`);
    }

    const connectMedian = median(connect);
    const deadMedian = median(dead);
    const group = `3. cost of a drop (${(files.bigSize / 2 ** 20).toFixed(0)} MiB from mobserve, client-ID path)`;
    return [
      { id: 'drop.none', group, name: 'mobget, no drops', short: 'no drops', unit: 'MB/s', samples: plain, reference: true },
      { id: 'drop.every1m', name: `mobget --drop-every 1m (${median(dropsPerRun)} drops)`, unit: 'MB/s', samples: dropping, ref: 'drop.none', target: { on: 'ratio', op: '>=', limit: 0.8, text: '≥ 0.8× no drops' } },
      {
        id: 'drop.dead.p50',
        name: `drop → first byte of resumed body, median (${dead.length} drops)`,
        unit: 'ms',
        samples: [deadMedian],
        lowerIsBetter: true,
        detail: `medians: drop → connect ${median(phases.toConnect).toFixed(3)} ms, → response head ${median(phases.toResponse).toFixed(3)} ms, → first body bytes ${median(phases.toBody).toFixed(3)} ms`,
        extra: { allMs: dead, phasesMs: phases },
      },
      { id: 'drop.dead.p99', name: 'drop → first byte of resumed body, p99', unit: 'ms', samples: [percentile(dead, 99)], lowerIsBetter: true },
      { id: 'drop.connect', name: `bare TCP connect on loopback, median (${connect.length})`, unit: 'ms', samples: [connectMedian], lowerIsBetter: true },
      { id: 'drop.beyond', name: 'dead time beyond the handshake (median − connect)', unit: 'ms', samples: [deadMedian - connectMedian], lowerIsBetter: true, target: { on: 'value', op: '<', limit: 1, text: '< 1 ms' } },
    ];
  } finally {
    fs.rmSync(out, { force: true });
    await stop(mob?.child);
  }
}
