/**
 * RunningHash, one contract for both implementations: the digest is the
 * SHA-256 of every byte added, in order, whether the bytes are plain Buffers
 * (copied to the worker's staging ring), shared memory (hashed in place) or
 * the file's existing prefix (read back by the worker).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InlineHash, WorkerHash, type RunningHash } from '../src/running-hash.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function shared(b: Buffer): Buffer {
  const s = Buffer.from(new SharedArrayBuffer(b.length + 16)).subarray(8, 8 + b.length);
  b.copy(s);
  return s;
}

const open: RunningHash[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

const implementations: Array<[string, () => RunningHash]> = [
  ['InlineHash', () => new InlineHash()],
  ['WorkerHash', () => new WorkerHash('/dev/null', 0)],
];

describe.each(implementations)('%s', (_name, make) => {
  const hash = (): RunningHash => {
    const h = make();
    open.push(h);
    return h;
  };

  it('digest of nothing', async () => {
    expect(await hash().digest()).toBe(sha256(Buffer.alloc(0)));
  });

  it('plain and shared chunks, interleaved, hash in order', async () => {
    const h = hash();
    const parts = [randomBytes(10), randomBytes(70_000), Buffer.alloc(0), randomBytes(1), randomBytes(2_000_000), randomBytes(333)];
    for (const [i, p] of parts.entries()) await h.update(i % 2 === 0 ? p : shared(p));
    const s = h.settled(h.mark());
    if (s) await s;
    expect(await h.digest()).toBe(sha256(Buffer.concat(parts)));
  });

  it('more than the staging ring (8 MiB) in one go, and digest can be asked midway', async () => {
    const h = hash();
    const big = randomBytes(20 * 1024 * 1024 + 5);
    await h.update(big.subarray(0, 1000));
    expect(await h.digest()).toBe(sha256(big.subarray(0, 1000)));
    await h.update(big.subarray(1000));
    expect(await h.digest()).toBe(sha256(big));
  });

  it('reset starts from nothing', async () => {
    const h = hash();
    await h.update(randomBytes(5000));
    h.reset();
    await h.update(Buffer.from('abc'));
    expect(await h.digest()).toBe(sha256(Buffer.from('abc')));
  });

  it('settled(mark) resolves once the bytes before the mark are hashed', async () => {
    const h = hash();
    await h.update(shared(randomBytes(3_000_000)));
    const mark = h.mark();
    await (h.settled(mark) ?? Promise.resolve());
    // Once settled, the shared bytes may be overwritten without changing the digest.
    const data = randomBytes(100);
    const mem = shared(data);
    await h.update(mem);
    await (h.settled(h.mark()) ?? Promise.resolve());
    const expected = await h.digest();
    mem.fill(0);
    expect(await h.digest()).toBe(expected);
  });
});

describe('WorkerHash', () => {
  it('starts from the prefix already on disk, reading it on the worker', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mobget-hash-'));
    try {
      const file = path.join(dir, 'part');
      const prefix = randomBytes(3 * 1024 * 1024 + 17);
      fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from('not yet counted')]));
      const h = new WorkerHash(file, prefix.length);
      open.push(h);
      const more = randomBytes(1234);
      await h.update(more);
      expect(await h.digest()).toBe(sha256(Buffer.concat([prefix, more])));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a prefix it cannot read is an error from digest, not a wrong digest', async () => {
    const h = new WorkerHash('/nonexistent/mobget-test', 10);
    open.push(h);
    await expect(h.digest()).rejects.toThrow(/ENOENT/);
  });
});
