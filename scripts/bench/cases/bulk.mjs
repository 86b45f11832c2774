// Case 1, bulk throughput: one large download over loopback.
// Server side: mobserve vs nginx vs node:http, each read by curl to /dev/null.
// Client side: mobget vs curl vs wget, each fetching from nginx to a file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runOk, stop } from '../lib/processes.mjs';
import { mobgetJson, startMobserve, startNginx, startNodeHttp } from '../lib/servers.mjs';
import { mbps } from '../lib/stats.mjs';

async function curlSpeed(curl, url) {
  const r = await runOk(curl, ['-s', '-o', '/dev/null', '-w', '%{speed_download} %{size_download} %{http_code}', url]);
  const [speed, size, status] = r.stdout.trim().split(/\s+/).map(Number);
  return { mbps: speed / 1e6, size, status };
}

export async function bulk(ctx) {
  const { tools, files, runs, log } = ctx;
  const name = path.basename(files.big);
  const started = [];
  try {
    const mob = await startMobserve(files.root, 'memory');
    started.push(mob);
    const nginx = await startNginx(tools.nginx, files.root, path.join(ctx.tmp, 'nginx-bulk'));
    started.push(nginx);
    const node = await startNodeHttp(files.root);
    started.push(node);
    const servers = [
      ['mobserve', mob.url],
      ['nginx', nginx.url],
      ['node-http', node.url],
    ];

    // Warm-up: mobserve hashes the file on its first request; every server
    // gets the file into the page cache the same way.
    for (const [label, url] of servers) {
      const w = await curlSpeed(tools.curl, `${url}/${name}`);
      if (w.status !== 200 || w.size !== files.bigSize) throw new Error(`${label} warm-up: HTTP ${w.status}, ${w.size} bytes of ${files.bigSize}`);
    }

    const serverSide = Object.fromEntries(servers.map(([l]) => [l, []]));
    const clientSide = { curl: [], mobget: [], wget: [] };
    const mobgetOwn = [];
    const out = path.join(ctx.tmp, `bulk-${name}`);
    const fileUrl = `${nginx.url}/${name}`;
    const clients = {
      curl: () => runOk(tools.curl, ['-s', '-o', out, fileUrl]),
      wget: () => runOk(tools.wget, ['-q', '-O', out, fileUrl]),
      mobget: async () => {
        const { s, r } = await mobgetJson([fileUrl, '-o', out]);
        if (s.sha256 !== files.bigSha) throw new Error(`mobget wrote the wrong bytes (sha256 ${s.sha256})`);
        mobgetOwn.push(mbps(s.bytes, s.seconds));
        return r;
      },
    };
    for (let i = 0; i < runs; i++) {
      for (const [label, url] of servers) {
        const r = await curlSpeed(tools.curl, `${url}/${name}`);
        if (r.size !== files.bigSize) throw new Error(`${label}: curl read ${r.size} bytes of ${files.bigSize}`);
        serverSide[label].push(r.mbps);
      }
      for (const [label, go] of Object.entries(clients)) {
        fs.rmSync(out, { force: true });
        const r = await go();
        const size = fs.statSync(out).size;
        if (size !== files.bigSize) throw new Error(`${label} wrote ${size} bytes of ${files.bigSize}`);
        // Wall time of the whole command, process start included, for all three.
        clientSide[label].push(mbps(size, r.ms / 1000));
        fs.rmSync(out, { force: true });
      }
      log(`  run ${i + 1}/${runs}: ${servers.map(([l]) => `${l} ${serverSide[l].at(-1).toFixed(0)}`).join(', ')} MB/s; ${Object.keys(clients).map((l) => `${l} ${clientSide[l].at(-1).toFixed(0)}`).join(', ')} MB/s`);
    }

    const size = `${(files.bigSize / 2 ** 20).toFixed(0)} MiB`;
    return [
      { id: 'bulk.server.nginx', group: `1. bulk ${size}, server side (curl → /dev/null)`, name: 'nginx, 1 worker, sendfile', short: 'nginx', unit: 'MB/s', samples: serverSide.nginx, reference: true },
      { id: 'bulk.server.mobserve', name: 'mobserve, plain path', unit: 'MB/s', samples: serverSide.mobserve, ref: 'bulk.server.nginx', target: { on: 'ratio', op: '>=', limit: 0.9, text: '≥ 0.9× nginx' } },
      { id: 'bulk.server.node', name: 'node:http + createReadStream', unit: 'MB/s', samples: serverSide['node-http'], ref: 'bulk.server.nginx' },
      { id: 'bulk.client.curl', group: `1. bulk ${size}, client side (from nginx to disk, wall time)`, name: 'curl -o file', short: 'curl', unit: 'MB/s', samples: clientSide.curl, reference: true },
      { id: 'bulk.client.mobget', name: 'mobget fetch URL --json', unit: 'MB/s', samples: clientSide.mobget, ref: 'bulk.client.curl', target: { on: 'ratio', op: '>=', limit: 0.9, text: '≥ 0.9× curl' } },
      { id: 'bulk.client.wget', name: 'wget -q -O file', unit: 'MB/s', samples: clientSide.wget, ref: 'bulk.client.curl' },
      { id: 'bulk.client.mobget-own', name: "mobget, its own timer (no process start)", unit: 'MB/s', samples: mobgetOwn, ref: 'bulk.client.curl' },
    ];
  } finally {
    for (const s of started) await stop(s.child);
  }
}
