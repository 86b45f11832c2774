/**
 * 50 mobget processes at once, each with random drops, against one server:
 * every file byte-identical, and the server still answers afterwards.
 */
import * as path from 'node:path';
import { FIXTURES } from '../helpers/paths.js';
import { killAll, mobget, startServer } from '../helpers/processes.js';
import { request } from '../helpers/raw-http.js';
import { sha256File, tempDir } from '../helpers/tmp.js';

afterAll(killAll);

test('50 concurrent clients with random drops all end byte-identical', async () => {
  const server = await startServer(['--store', 'memory']);
  const tmp = tempDir();
  try {
    const want = sha256File(path.join(FIXTURES, 'word.doc'));
    const runs = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        mobget(['fetch', 'word.doc', '--server', server.url, '--drop-chance', '0.2', '--seed', String(1000 + i), '-o', `w${i}.doc`, '--json'], {
          cwd: tmp.dir,
          timeoutMs: 90_000,
        }),
      ),
    );
    let drops = 0;
    for (const [i, r] of runs.entries()) {
      expect({ i, code: r.code, stderr: r.stderr }).toEqual({ i, code: 0, stderr: '' });
      expect(sha256File(path.join(tmp.dir, `w${i}.doc`))).toBe(want);
      drops += r.json.drops;
    }
    // With p = 0.2 per 16 KiB block over 7 blocks, some runs must have dropped.
    expect(drops).toBeGreaterThan(20);
    const ids = new Set(runs.map((r) => r.json.clientId));
    expect(ids.size).toBe(50);
    const after = await request(server.port, '/word.doc', { Range: 'bytes=0-9' });
    expect(after.status).toBe(206);
  } finally {
    tmp.cleanup();
  }
}, 120_000);
