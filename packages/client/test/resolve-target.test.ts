/**
 * resolveTarget / defaultOutput: what `mobget fetch <target>` means. A bare
 * name is a file on a mobserve server (session mode); a full http:// URL is
 * fetched as is (plain mode). Bad input is MOBGET_USAGE, never a crash.
 */
import { DEFAULT_SERVER, defaultOutput, resolveTarget } from '../src/download.js';
import { EXIT, MobgetError } from '../src/errors.js';

function usageError(fn: () => unknown): MobgetError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(MobgetError);
  return caught as MobgetError;
}

describe('resolveTarget: names (session mode)', () => {
  it('the default server is http://127.0.0.1:8080', () => {
    expect(DEFAULT_SERVER).toBe('http://127.0.0.1:8080');
  });

  it.each<[string, string | undefined, string, string]>([
    ['word.doc', undefined, 'http://127.0.0.1:8080/', 'word.doc'],
    ['/word.doc', undefined, 'http://127.0.0.1:8080/', 'word.doc'],
    ['//word.doc', undefined, 'http://127.0.0.1:8080/', 'word.doc'],
    ['dir/sub/a b.txt', undefined, 'http://127.0.0.1:8080/', 'dir/sub/a b.txt'],
    ['...', undefined, 'http://127.0.0.1:8080/', '...'],
    ['.hidden', undefined, 'http://127.0.0.1:8080/', '.hidden'],
    ['word.doc', 'http://10.0.0.2:9000', 'http://10.0.0.2:9000/', 'word.doc'],
    ['word.doc', 'HTTP://Example.COM', 'http://example.com/', 'word.doc'],
    ['word.doc', 'http://[::1]:8080/', 'http://[::1]:8080/', 'word.doc'],
  ])('%p with server %p → session on %p, name %p', (target, server, base, name) => {
    const t = resolveTarget(target, server);
    expect(t.mode).toBe('session');
    if (t.mode !== 'session') return;
    expect(t.base.href).toBe(base);
    expect(t.name).toBe(name);
  });

  it.each<[string, string]>([
    ['empty', ''],
    ['only slashes', '///'],
    ['parent', '../x'],
    ['parent inside', 'a/../../x'],
    ['trailing parent', 'a/..'],
    ['current dir', './x'],
    ['just a dot', '.'],
    ['trailing slash', 'dir/'],
    ['empty segment', 'a//b'],
    ['another scheme', 'ftp://example.com/x'],
  ])('%s (%p) → MOBGET_USAGE', (_name, target) => {
    const e = usageError(() => resolveTarget(target, undefined));
    expect(e.code).toBe('MOBGET_USAGE');
    expect(e.exitCode).toBe(EXIT.USAGE);
  });

  it.each<[string, string]>([
    ['not a URL', 'not a url'],
    ['no scheme', '127.0.0.1:8080'],
    ['empty', ''],
    ['https', 'https://127.0.0.1:8443'],
    ['ftp', 'ftp://127.0.0.1'],
    ['bad port', 'http://127.0.0.1:99999'],
  ])('--server %s (%p) → MOBGET_USAGE', (_name, server) => {
    expect(usageError(() => resolveTarget('word.doc', server)).code).toBe('MOBGET_USAGE');
  });
});

describe('resolveTarget: URLs (plain mode)', () => {
  it.each<[string, string]>([
    ['http://example.com/files/word.doc', 'http://example.com/files/word.doc'],
    ['http://127.0.0.1:8080/abc/word.doc?x=1#frag', 'http://127.0.0.1:8080/abc/word.doc?x=1#frag'],
    ['HTTP://EXAMPLE.com/A', 'http://example.com/A'],
    ['http://example.com', 'http://example.com/'],
  ])('%p → plain %p', (target, href) => {
    const t = resolveTarget(target, undefined);
    expect(t.mode).toBe('plain');
    if (t.mode !== 'plain') return;
    expect(t.url.href).toBe(href);
  });

  it('a URL ignores --server, even a bad one', () => {
    const t = resolveTarget('http://example.com/x', 'not a url');
    expect(t.mode).toBe('plain');
  });

  it.each<[string, string]>([
    ['https', 'https://example.com/word.doc'],
    ['HTTPS, upper case', 'HTTPS://example.com/word.doc'],
    ['no host', 'http://'],
    ['bad port', 'http://example.com:99999/x'],
    ['space in the host', 'http://exa mple.com/x'],
  ])('%s (%p) → MOBGET_USAGE', (_name, target) => {
    expect(usageError(() => resolveTarget(target, undefined)).code).toBe('MOBGET_USAGE');
  });
});

describe('defaultOutput', () => {
  it.each<[string, string]>([
    ['word.doc', 'word.doc'],
    ['dir/sub/x.bin', 'x.bin'],
    ['/word.doc', 'word.doc'],
    // a name is literal: mobget asks the server for a file called "a%20b.txt"
    ['a%20b.txt', 'a%20b.txt'],
    ['100%.txt', '100%.txt'],
    ['a%2Fb', 'a%2Fb'],
  ])('name %p → %p', (target, expected) => {
    expect(defaultOutput(resolveTarget(target, undefined))).toBe(expected);
  });

  it.each<[string, string]>([
    ['http://example.com/word.doc', 'word.doc'],
    ['http://example.com/dir/a%20b.txt', 'a b.txt'],
    ['http://example.com/dir/a b.txt', 'a b.txt'],
    ['http://example.com/f.bin?version=2#top', 'f.bin'],
    ['http://example.com/dir/', 'index.html'],
    ['http://example.com/', 'index.html'],
    ['http://example.com', 'index.html'],
    // an encoded slash must not make a path
    ['http://example.com/a%2Fb', 'index.html'],
    ['http://example.com/%2e%2e', 'index.html'],
    ['http://example.com/x/%2E', 'index.html'],
    // undecodable: keep it as sent
    ['http://example.com/bad%zz.txt', 'bad%zz.txt'],
    ['http://example.com/%E2%82%AC.txt', '€.txt'],
  ])('URL %p → %p', (target, expected) => {
    expect(defaultOutput(resolveTarget(target, undefined))).toBe(expected);
  });
});
