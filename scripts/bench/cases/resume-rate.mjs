// Case 2, resume rate: the request a reconnecting device makes,
// GET /<id>/word.doc with Range: bytes=50000-, over 50 keep-alive
// connections, driven by wrk. mobserve client-ID path (one id per request in
// flight, see resume.lua) and with all connections on one id (the "newest
// request wins" rule at work), mobserve plain path, nginx, node:http.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk, stop } from '../lib/processes.mjs';
import { startMobserve, startNginx, startNodeHttp } from '../lib/servers.mjs';
import { median } from '../lib/stats.mjs';

export const LUA = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'resume.lua');
export const RANGE_FROM = 50000;
export const CONNECTIONS = 50;
export const THREADS = 2;
export const IDS = 5000;

const UNIT_MS = { us: 1e-3, ms: 1, s: 1000, m: 60_000 };
const ms = (text) => {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
};

/** Parses wrk --latency output. */
export function parseWrk(out) {
  const num = (re) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : 0;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    p99: ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    requests: num(/(\d+) requests in/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** Asks mobserve for `n` client ids (GET /), 50 at a time. */
export async function makeIds(base, n) {
  const ids = [];
  while (ids.length < n) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - ids.length) }, async () => {
        const r = await fetch(`${base}/`);
        if (r.status !== 200) throw new Error(`GET / answered ${r.status}`);
        return (await r.text()).trim();
      }),
    );
    ids.push(...batch);
  }
  return ids;
}

export async function resumeRate(ctx) {
  const { tools, files, runs, log, quick } = ctx;
  const seconds = quick ? 3 : 10;
  const started = [];
  try {
    const mob = await startMobserve(files.root, 'memory');
    started.push(mob);
    const nginx = await startNginx(tools.nginx, files.root, path.join(ctx.tmp, 'nginx-resume'));
    started.push(nginx);
    const node = await startNodeHttp(files.root);
    started.push(node);

    const ids = await makeIds(mob.url, IDS);
    const idsFile = path.join(ctx.tmp, 'resume-ids.txt');
    fs.writeFileSync(idsFile, `${ids.join('\n')}\n`);
    const oneIdFile = path.join(ctx.tmp, 'resume-one-id.txt');
    fs.writeFileSync(oneIdFile, `${ids[0]}\n`);
    // The plain path through the same Lua script ("-" lines): the client-ID
    // path is compared with this, so both pay wrk's per-request Lua on the
    // same two cores and differ only in the server's work.
    const plainFile = path.join(ctx.tmp, 'resume-plain.txt');
    fs.writeFileSync(plainFile, `${Array(IDS).fill('-').join('\n')}\n`);

    const common = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Range: bytes=${RANGE_FROM}-`];
    const word = 'word.doc';
    const configs = [
      ['nginx', [...common, `${nginx.url}/${word}`]],
      ['mobserve-plain', [...common, `${mob.url}/${word}`]],
      ['mobserve-plain-lua', [...common, '-s', LUA, `${mob.url}/`, '--', plainFile, word, String(THREADS)]],
      ['mobserve-client', [...common, '-s', LUA, `${mob.url}/`, '--', idsFile, word, String(THREADS)]],
      ['mobserve-one-id', [...common, '-s', LUA, `${mob.url}/`, '--', oneIdFile, word, String(THREADS)]],
      ['node-http', [...common, `${node.url}/${word}`]],
    ];
    // Each URL answers 206 before it is measured.
    for (const u of [`${nginx.url}/${word}`, `${mob.url}/${word}`, `${mob.url}/${ids[0]}/${word}`, `${node.url}/${word}`]) {
      const r = await fetch(u, { headers: { Range: `bytes=${RANGE_FROM}-` } });
      const body = Buffer.from(await r.arrayBuffer());
      if (r.status !== 206 || body.length !== files.wordSize - RANGE_FROM) throw new Error(`${u} answered ${r.status} with ${body.length} bytes to Range: bytes=${RANGE_FROM}-`);
    }

    const got = Object.fromEntries(configs.map(([l]) => [l, []]));
    for (let i = 0; i < runs; i++) {
      for (const [label, args] of configs) {
        const r = await runOk(tools.wrk, args, { timeoutMs: (seconds + 30) * 1000 });
        const w = parseWrk(r.stdout);
        if (!Number.isFinite(w.rps)) throw new Error(`cannot read wrk's output for ${label}:\n${r.stdout}${r.stderr}`);
        got[label].push(w);
      }
      log(`  run ${i + 1}/${runs}: ${configs.map(([l]) => `${l} ${got[l].at(-1).rps.toFixed(0)}`).join(', ')} req/s`);
    }

    const rows = (label) => got[label].map((w) => w.rps);
    const detail = (label) => {
      const ws = got[label];
      const med = (k) => median(ws.map((w) => w[k]));
      const errs = ws.reduce((a, w) => a + w.non2xx + w.socketErrors, 0);
      return `p50 ${med('p50').toFixed(2)} ms, p99 ${med('p99').toFixed(2)} ms${errs ? `, ${errs} errors/non-2xx` : ''}`;
    };
    const extra = (label) => ({
      p50ms: got[label].map((w) => w.p50),
      p99ms: got[label].map((w) => w.p99),
      requests: got[label].map((w) => w.requests),
      non2xx: got[label].map((w) => w.non2xx),
      socketErrors: got[label].map((w) => w.socketErrors),
    });
    const group = `2. resume rate: GET word.doc, Range: bytes=${RANGE_FROM}-, ${CONNECTIONS} conns, ${seconds} s (wrk)`;
    return [
      { id: 'resume.nginx', group, name: 'nginx, 1 worker', short: 'nginx', unit: 'req/s', samples: rows('nginx'), reference: true, detail: detail('nginx'), extra: extra('nginx') },
      { id: 'resume.mobserve-plain', name: 'mobserve, plain path', short: 'plain path', unit: 'req/s', samples: rows('mobserve-plain'), ref: 'resume.nginx', target: { on: 'ratio', op: '>=', limit: 0.7, text: '≥ 0.7× nginx' }, detail: detail('mobserve-plain'), extra: extra('mobserve-plain') },
      { id: 'resume.mobserve-plain-lua', name: 'mobserve, plain path, requests made by the Lua script', short: 'plain path (Lua)', unit: 'req/s', samples: rows('mobserve-plain-lua'), ref: 'resume.mobserve-plain', detail: detail('mobserve-plain-lua'), extra: extra('mobserve-plain-lua') },
      { id: 'resume.mobserve-client', name: `mobserve, client-ID path (${IDS} ids, Lua script)`, unit: 'req/s', samples: rows('mobserve-client'), ref: 'resume.mobserve-plain-lua', target: { on: 'ratio', op: '>=', limit: 0.9, text: 'within 10% of plain' }, detail: `${detail('mobserve-client')}; ${(median(rows('mobserve-client')) / median(rows('mobserve-plain'))).toFixed(2)}× the plain path without Lua`, extra: extra('mobserve-client') },
      { id: 'resume.mobserve-one-id', name: 'mobserve, client-ID path, 1 id shared', unit: 'req/s', samples: rows('mobserve-one-id'), ref: 'resume.mobserve-plain', detail: detail('mobserve-one-id'), extra: extra('mobserve-one-id') },
      { id: 'resume.node', name: 'node:http + createReadStream', unit: 'req/s', samples: rows('node-http'), ref: 'resume.nginx', detail: detail('node-http'), extra: extra('node-http') },
    ];
  } finally {
    for (const s of started) await stop(s.child);
  }
}
