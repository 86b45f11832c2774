/**
 * Crash safety of the file ledger: the server is SIGKILLed again and again
 * while 30 devices download with drops (every request writes the ledger)
 * and new devices keep arriving. After each kill it restarts on the same
 * ledger. Every ID ever handed out must still be known, every paused
 * session must resume with the right bytes, and every download must end
 * byte-exact. A torn tail is cut, reported, and never trusted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { download, type DownloadSummary } from '@mobserve/client';
import { killAll, startServer, type ServerProcess } from '../helpers/processes.js';
import { request } from '../helpers/raw-http.js';
import { sha256, sha256File, tempDir } from '../helpers/tmp.js';
import { sleep } from '../helpers/wait.js';

afterAll(killAll);

test('12 SIGKILLs during heavy ledger writes: no ID lost, every session resumes, every download byte-exact', async () => {
  const tmp = tempDir();
  try {
    const root = path.join(tmp.dir, 'root');
    fs.mkdirSync(root);
    const data = randomBytes(2 * 1024 * 1024);
    fs.writeFileSync(path.join(root, 'file.bin'), data);
    const ledgerDir = path.join(tmp.dir, 'ledger');
    const args = ['--root', root, '--store', `file:${ledgerDir}`, '--rate', '2m', '-q'];
    let server: ServerProcess = await startServer(args);
    const port = server.port;

    // Devices that know their IDs and a ledger position (Range 0-N, then no more):
    // after every crash, a no-Range request must continue from a position the
    // device really reached, with the right bytes.
    const paused: Array<{ id: string; at: number }> = [];
    let handshakes = 0;
    let stopLoad = false;
    const loadLoop = async () => {
      while (!stopLoad) {
        try {
          const id = (await request(port, '/')).body.toString();
          if (id.length !== 36) continue;
          handshakes++;
          const at = 1 + Math.floor(Math.random() * (data.length - 2));
          const r = await request(port, `/${id}/file.bin`, { Range: `bytes=0-${at - 1}` });
          if (r.status === 206 && r.body.length === at) paused.push({ id, at });
        } catch {
          await sleep(20); // the server is down; try again
        }
      }
    };
    const load = Promise.all([loadLoop(), loadLoop(), loadLoop(), loadLoop()]);

    const outs = Array.from({ length: 30 }, (_, i) => path.join(tmp.dir, `out${i}.bin`));
    let handshakeEvents = 0;
    const downloads: Array<Promise<DownloadSummary>> = outs.map((output, i) =>
      download({
        target: 'file.bin',
        server: `http://127.0.0.1:${port}`,
        output,
        dropChance: 0.05,
        seed: 7000 + i,
        retries: 60,
        timeoutMs: 3000,
        onEvent: (e) => {
          if (e.type === 'handshake') handshakeEvents++;
        },
      }),
    );

    const kills = 12;
    for (let k = 0; k < kills; k++) {
      await sleep(300 + Math.floor(Math.random() * 300));
      await server.kill('SIGKILL');
      server = await startServer([...args, '--port', String(port)]);
    }
    stopLoad = true;
    await load;
    const results = await Promise.all(downloads);

    // No download lost its ID: one handshake each, despite 12 crashes.
    expect(handshakeEvents).toBe(30);
    for (const [i, s] of results.entries()) {
      expect(s.verified).toBe(true);
      expect(sha256File(outs[i]!)).toBe(sha256(data));
    }
    // Every ID acknowledged before a crash is still known, and resumes from
    // where that device got to, or (if the crash fell inside the 5 ms group
    // commit of its last progress record) from an earlier position of it, and
    // always with exactly the file's bytes from that position on.
    expect(paused.length).toBeGreaterThan(10);
    let exact = 0;
    for (const p of paused) {
      const r = await request(port, `/${p.id}/file.bin`);
      expect(r.status).toBe(200);
      const from = Number(r.headers.get('mob-resume-from'));
      expect(from).toBeLessThanOrEqual(p.at);
      if (from === p.at) exact++;
      expect(r.body.equals(data.subarray(from))).toBe(true);
    }
    console.log(
      `[reliability] ledger crash: ${kills} SIGKILLs, ${handshakes} handshakes, all IDs kept; ${exact} of ${paused.length} paused sessions resumed at the exact byte; 30 downloads byte-exact over ${results.reduce((n, s) => n + s.connections, 0)} connections`,
    );
  } finally {
    await killAll();
    tmp.cleanup();
  }
}, 120_000);

test('a torn tail (half a record) is cut at start, reported, and the records before it survive', async () => {
  const tmp = tempDir();
  try {
    const store = `file:${path.join(tmp.dir, 'ledger')}`;
    const first = await startServer(['--store', store, '-q']);
    const id = (await request(first.port, '/')).body.toString();
    expect((await request(first.port, `/${id}/word.doc`, { Range: 'bytes=0-4095' })).status).toBe(206);
    await sleep(50); // one group commit
    await first.kill('SIGKILL');
    // A write torn by the crash: the start of a frame that never finished.
    fs.appendFileSync(path.join(tmp.dir, 'ledger', 'ledger.log'), Buffer.from([0, 0, 0, 60, 1, 2, 3, 4, 2, 9, 9]));
    const second = await startServer(['--store', store, '--port', String(first.port)]);
    expect(second.output()).toMatch(/ledger recovered: \d+ records kept, 11 bytes of a torn or corrupt tail cut \(torn-frame\)/);
    const r = await request(second.port, `/${id}/word.doc`);
    expect(r.headers.get('mob-resume-from')).toBe('4096');
  } finally {
    await killAll();
    tmp.cleanup();
  }
}, 30_000);
