/**
 * OutputFile: the one output, appended in order and hashed as it grows.
 * Reopening restores size and digest from the bytes on disk; every failure
 * to write is a MobgetError with code MOBGET_OUTPUT.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXIT, MobgetError } from '../src/errors.js';
import { OutputFile } from '../src/output-file.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const isRoot = process.getuid?.() === 0;

let dir: string;
const opened: OutputFile[] = [];

async function open(p: string): Promise<OutputFile> {
  const f = await OutputFile.open(p);
  opened.push(f);
  return f;
}

/** The MobgetError an async call rejects with. */
async function rejection(p: Promise<unknown>): Promise<MobgetError> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(MobgetError);
  return e as MobgetError;
}

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mobget-output-'));
});

afterEach(async () => {
  for (const f of opened.splice(0)) await f.close();
  await fs.chmod(dir, 0o700).catch(() => {});
  await fs.rm(dir, { recursive: true, force: true });
});

describe('OutputFile', () => {
  it('creates a new file, empty, with the digest of nothing', async () => {
    const p = path.join(dir, 'new.bin');
    const f = await open(p);
    expect(f.path).toBe(p);
    expect(f.size).toBe(0);
    expect(await f.digest()).toBe(sha256(Buffer.alloc(0)));
    expect((await fs.stat(p)).size).toBe(0);
  });

  it('appends in order: size, digest and the bytes on disk agree', async () => {
    const p = path.join(dir, 'out.bin');
    const f = await open(p);
    const parts = [Buffer.from('hello '), Buffer.alloc(0), randomBytes(70_000), Buffer.from('world')];
    let all = Buffer.alloc(0);
    for (const part of parts) {
      await f.append(part);
      all = Buffer.concat([all, part]);
      expect(f.size).toBe(all.length);
      expect(await f.digest()).toBe(sha256(all));
    }
    // Writes go behind: the disk agrees once flush() resolves.
    await f.flush();
    expect((await fs.readFile(p)).equals(all)).toBe(true);
    // digest() can be asked again without disturbing the running hash
    expect(await f.digest()).toBe(await f.digest());
    await f.append(Buffer.from('!'));
    expect(await f.digest()).toBe(sha256(Buffer.concat([all, Buffer.from('!')])));
  });

  it.each([
    ['a small file', 10],
    ['a file of exactly 1 MiB', 1 << 20],
    ['a file larger than the 1 MiB read buffer', (1 << 20) * 2 + 12345],
  ])('reopening %s restores size and digest of the prefix, and appends after it', async (_name, n) => {
    const p = path.join(dir, 'resume.bin');
    const prefix = randomBytes(n);
    await fs.writeFile(p, prefix);
    const f = await open(p);
    expect(f.size).toBe(n);
    expect(await f.digest()).toBe(sha256(prefix));
    const more = randomBytes(1000);
    await f.append(more);
    expect(f.size).toBe(n + 1000);
    expect(await f.digest()).toBe(sha256(Buffer.concat([prefix, more])));
    await f.flush();
    expect((await fs.readFile(p)).equals(Buffer.concat([prefix, more]))).toBe(true);
  });

  it('a file written, closed and reopened continues where it stopped', async () => {
    const p = path.join(dir, 'twice.bin');
    const first = await OutputFile.open(p);
    await first.append(Buffer.from('abc'));
    await first.close();
    const second = await open(p);
    expect(second.size).toBe(3);
    expect(await second.digest()).toBe(sha256(Buffer.from('abc')));
    await second.append(Buffer.from('def'));
    await second.flush();
    expect(await fs.readFile(p, 'utf8')).toBe('abcdef');
  });

  it('truncate() resets size, digest and the file; appends then start at byte 0', async () => {
    const p = path.join(dir, 'restart.bin');
    await fs.writeFile(p, 'old contents that must go');
    const f = await open(p);
    await f.append(Buffer.from(' and more'));
    await f.truncate();
    expect(f.size).toBe(0);
    expect(await f.digest()).toBe(sha256(Buffer.alloc(0)));
    expect((await fs.stat(p)).size).toBe(0);
    await f.append(Buffer.from('new'));
    expect(f.size).toBe(3);
    expect(await f.digest()).toBe(sha256(Buffer.from('new')));
    await f.flush();
    expect(await fs.readFile(p, 'utf8')).toBe('new');
  });

  it('close() twice is harmless', async () => {
    const f = await OutputFile.open(path.join(dir, 'c.bin'));
    await f.close();
    await expect(f.close()).resolves.toBeUndefined();
  });

  describe('unwritable outputs → MOBGET_OUTPUT', () => {
    it('a directory', async () => {
      const e = await rejection(OutputFile.open(dir));
      expect(e.code).toBe('MOBGET_OUTPUT');
      expect(e.exitCode).toBe(EXIT.OUTPUT);
      expect(e.details.errno).toBe('EISDIR');
    });

    it('a path under a regular file (ENOTDIR)', async () => {
      const file = path.join(dir, 'file');
      await fs.writeFile(file, 'x');
      const e = await rejection(OutputFile.open(path.join(file, 'child')));
      expect(e.code).toBe('MOBGET_OUTPUT');
      expect(e.details.errno).toBe('ENOTDIR');
    });

    it('a path in a directory that does not exist (ENOENT)', async () => {
      const e = await rejection(OutputFile.open(path.join(dir, 'missing', 'out.bin')));
      expect(e.code).toBe('MOBGET_OUTPUT');
      expect(e.details.errno).toBe('ENOENT');
    });

    it('something that is not a regular file (/dev/null)', async () => {
      const e = await rejection(OutputFile.open('/dev/null'));
      expect(e.code).toBe('MOBGET_OUTPUT');
    });

    // root ignores permission bits, so this case only means something for other users
    (isRoot ? it.skip : it)('a read-only directory (EACCES)', async () => {
      const ro = path.join(dir, 'ro');
      await fs.mkdir(ro);
      await fs.chmod(ro, 0o500);
      try {
        const e = await rejection(OutputFile.open(path.join(ro, 'out.bin')));
        expect(e.code).toBe('MOBGET_OUTPUT');
        expect(e.details.errno).toBe('EACCES');
      } finally {
        await fs.chmod(ro, 0o700);
      }
    });

    (isRoot ? it.skip : it)('a read-only existing file (EACCES)', async () => {
      const p = path.join(dir, 'ro.bin');
      await fs.writeFile(p, 'x');
      await fs.chmod(p, 0o400);
      const e = await rejection(OutputFile.open(p));
      expect(e.code).toBe('MOBGET_OUTPUT');
    });
  });
});
