/**
 * The resume state beside the output: `<output>.mobget.json`, written
 * atomically; anything unreadable counts as no state at all.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadState, removeState, saveState, statePath, type ResumeState } from '../src/state-file.js';

let dir: string;
let output: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mobget-state-'));
  output = path.join(dir, 'word.doc');
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const full: ResumeState = {
  version: 1,
  target: 'word.doc',
  server: 'http://127.0.0.1:8080/',
  clientId: '0f8fad5b-d9cb-469f-a165-70867728950e',
  etag: '"18800-5f3a"',
  size: 100352,
  sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
};

describe('statePath', () => {
  it.each([
    ['word.doc', 'word.doc.mobget.json'],
    ['/tmp/a b/x.bin', '/tmp/a b/x.bin.mobget.json'],
  ])('%p → %p', (out, expected) => {
    expect(statePath(out)).toBe(expected);
  });
});

describe('saveState / loadState / removeState', () => {
  it('no state file → undefined', async () => {
    await expect(loadState(output)).resolves.toBeUndefined();
  });

  it.each<[string, ResumeState]>([
    ['every field', full],
    ['plain mode, nothing learnt yet', { version: 1, target: 'http://example.com/f.bin', server: undefined, clientId: undefined, etag: undefined, size: undefined, sha256: undefined }],
  ])('round trip: %s', async (_name, state) => {
    await saveState(output, state);
    expect(await loadState(output)).toEqual(state);
    // written beside the output, as JSON, with no temp file left behind
    expect(await fs.readdir(dir)).toEqual(['word.doc.mobget.json']);
    expect(JSON.parse(await fs.readFile(statePath(output), 'utf8'))).toMatchObject({ version: 1, target: state.target });
  });

  it('saving again replaces the state', async () => {
    await saveState(output, full);
    await saveState(output, { ...full, etag: '"v2"', size: 7 });
    expect(await loadState(output)).toEqual({ ...full, etag: '"v2"', size: 7 });
    expect(await fs.readdir(dir)).toEqual(['word.doc.mobget.json']);
  });

  it.each<[string, string]>([
    ['torn JSON', JSON.stringify(full).slice(0, 40)],
    ['empty file', ''],
    ['wrong version', JSON.stringify({ ...full, version: 2 })],
    ['version as a string', JSON.stringify({ ...full, version: '1' })],
    ['no version', JSON.stringify({ ...full, version: undefined })],
    ['no target', JSON.stringify({ ...full, target: undefined })],
    ['target not a string', JSON.stringify({ ...full, target: 42 })],
    ['null', 'null'],
    ['a number', '1'],
    ['a string', '"word.doc"'],
    ['an array', '[1]'],
  ])('%s → undefined', async (_name, text) => {
    await fs.writeFile(statePath(output), text);
    await expect(loadState(output)).resolves.toBeUndefined();
  });

  it('a directory where the state file should be → undefined', async () => {
    await fs.mkdir(statePath(output));
    await expect(loadState(output)).resolves.toBeUndefined();
  });

  it('removeState deletes the file, and is quiet when there is none', async () => {
    await saveState(output, full);
    await removeState(output);
    await expect(loadState(output)).resolves.toBeUndefined();
    await expect(fs.stat(statePath(output))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(removeState(output)).resolves.toBeUndefined();
  });

  it('removeState leaves the output itself alone', async () => {
    await fs.writeFile(output, 'data');
    await saveState(output, full);
    await removeState(output);
    expect(await fs.readFile(output, 'utf8')).toBe('data');
  });
});
