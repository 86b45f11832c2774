// Case 6, scale-out: the resume request of case 2 against mobserve with its
// ledger in Redis, one process against `--workers 2` (node:cluster), on the
// plain path and on the client-ID path (an id per request in flight); then
// Redis's memory per session; then 1,000 downloads handing off between two
// instances on the one Redis at every drop. What the second core buys, and
// what a shared ledger costs, in one run.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runOk, startServer, stop } from '../lib/processes.mjs';
import { sha256File } from '../lib/files.mjs';
import { canConnect, freePort } from '../lib/net.mjs';
import { CLIENT_LIB, startMobserve } from '../lib/servers.mjs';
import { CONNECTIONS, IDS, LUA, makeIds, parseWrk, RANGE_FROM, THREADS } from './resume-rate.mjs';

/** One Redis command over a raw socket (INFO memory, FLUSHALL): enough for a benchmark. */
function redisCommand(port, ...words) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`));
    let out = '';
    s.on('data', (d) => {
      out += d;
      const bulk = /^\$(\d+)\r\n/.exec(out);
      if ((bulk && out.length >= bulk[0].length + Number(bulk[1])) || /^[+-:].*\r\n/.test(out)) {
        s.destroy();
        resolve(out);
      }
    });
    s.on('error', reject);
  });
}

async function usedMemory(port) {
  return Number(/used_memory:(\d+)/.exec(await redisCommand(port, 'INFO', 'memory'))?.[1]);
}

export async function scaleOut(ctx) {
  const { tools, files, runs, log, quick } = ctx;
  const seconds = quick ? 3 : 10;
  const redisPort = await freePort();
  const redisDir = path.join(ctx.tmp, 'redis');
  fs.mkdirSync(redisDir, { recursive: true });
  const started = [];
  try {
    const redis = await startServer('redis-server', tools['redis-server'], ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir], {
      probe: () => canConnect(redisPort),
    });
    started.push(redis);
    const store = `redis://127.0.0.1:${redisPort}`;
    const got = {};
    let bytesPerSession = NaN;
    for (const workers of [1, 2]) {
      const mob = await startMobserve(files.root, store, { workers });
      started.push(mob);
      const url = mob.url;
      const before = await usedMemory(redisPort);
      const ids = await makeIds(url, IDS);
      // Each id resumes once, so the ledger holds one file entry per session.
      for (let i = 0; i < ids.length; i += 50) {
        await Promise.all(ids.slice(i, i + 50).map((id) => fetch(`${url}/${id}/word.doc`, { headers: { Range: `bytes=0-99` } }).then((r) => r.arrayBuffer())));
      }
      if (workers === 1) bytesPerSession = ((await usedMemory(redisPort)) - before) / ids.length;
      const idsFile = path.join(ctx.tmp, `scale-ids-${workers}.txt`);
      fs.writeFileSync(idsFile, `${ids.join('\n')}\n`);
      const common = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Range: bytes=${RANGE_FROM}-`];
      const configs = [
        [`plain-${workers}`, [...common, `${url}/word.doc`]],
        [`client-${workers}`, [...common, '-s', LUA, `${url}/`, '--', idsFile, 'word.doc', String(THREADS)]],
      ];
      for (const [label] of configs) got[label] = [];
      for (let i = 0; i < runs; i++) {
        for (const [label, args] of configs) {
          const w = parseWrk((await runOk(tools.wrk, args, { timeoutMs: (seconds + 30) * 1000 })).stdout);
          if (!Number.isFinite(w.rps)) throw new Error(`cannot read wrk's output for ${label}`);
          got[label].push(w);
        }
        log(`  ${workers} worker(s), run ${i + 1}/${runs}: ${configs.map(([l]) => `${l} ${got[l].at(-1).rps.toFixed(0)}`).join(', ')} req/s`);
      }
      await stop(mob.child);
      started.pop();
    }
    // 1,000 devices, each handing off between two instances at every drop.
    const { download } = await import(pathToFileURL(CLIENT_LIB).href);
    const a = await startMobserve(files.root, store);
    const b = await startMobserve(files.root, store);
    started.push(a, b);
    const dir = fs.mkdtempSync(path.join(ctx.tmp, 'handoff-'));
    const t0 = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, d) => download({ target: 'word.doc', server: [a.url, b.url], output: path.join(dir, `d${d}.doc`), dropChance: 0.1, seed: d + 1, retries: 20 })),
    );
    const handoffSeconds = (performance.now() - t0) / 1000;
    let verified = 0;
    let handoffs = 0;
    for (const [d, r] of results.entries()) {
      if (r.status !== 'fulfilled') continue;
      handoffs += r.value.drops;
      if (sha256File(path.join(dir, `d${d}.doc`)) === files.wordSha) verified++;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    log(`  1000 downloads over 2 instances: ${verified} verified, ${handoffs} handoffs, ${handoffSeconds.toFixed(2)} s`);

    const group = `6. scale-out: the resume of case 2, ledger in Redis, ${CONNECTIONS} conns, ${seconds} s (wrk)`;
    const rps = (label) => got[label].map((w) => w.rps);
    return [
      { id: 'scale.plain.1', group, name: 'mobserve, plain path, 1 process', unit: 'req/s', samples: rps('plain-1'), reference: true },
      { id: 'scale.plain.2', group, name: 'mobserve, plain path, --workers 2', unit: 'req/s', samples: rps('plain-2'), ref: 'scale.plain.1', refName: '1 process' },
      { id: 'scale.client.1', group, name: `mobserve, client-ID path, 1 process (${IDS} ids)`, unit: 'req/s', samples: rps('client-1') },
      { id: 'scale.client.2', group, name: 'mobserve, client-ID path, --workers 2', unit: 'req/s', samples: rps('client-2'), ref: 'scale.client.1', refName: '1 process' },
      { id: 'scale.redis.bytes', group, name: 'Redis memory per session (used_memory delta, one file entry each)', unit: 'B', samples: [bytesPerSession] },
      { id: 'scale.handoff.verified', group, name: '1,000 downloads handing off between 2 instances: verified', unit: 'of 1000', samples: [verified], target: { on: 'value', op: '>=', limit: 1000, text: 'all 1000' } },
      { id: 'scale.handoff.wall', group, name: '… wall time', unit: 's', samples: [handoffSeconds], detail: `${handoffs} drops, each a handoff to the other instance` },
    ];
  } finally {
    for (const s of started.reverse()) await stop(s.child);
  }
}
