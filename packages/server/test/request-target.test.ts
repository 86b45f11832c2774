/**
 * routeTarget: request-target → route (RFC 9112 §3.2, RFC 3986 §3.3). Every
 * way of naming a file outside the root, or a different file than the
 * bytes seem to name, must be refused before the file system sees it.
 */
import { ERRORS } from '../src/http/errors.js';
import { isClientId } from '../src/http/client-id.js';
import { routeTarget, type Route } from '../src/http/request-target.js';

const ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const ID_UPPER = ID.toUpperCase();

const plain = (...path: string[]): Route => ({ kind: 'plain', path });
const client = (...path: string[]): Route => ({ kind: 'client', clientId: ID, path });
const error = (e: { code: string }) => ({ kind: 'error', code: e.code });

/** Routes compared with errors reduced to their code. */
function summary(r: Route): unknown {
  return r.kind === 'error' ? { kind: 'error', code: r.error.code } : r;
}

describe('routeTarget', () => {
  // The seed's routes.
  it.each<[string, unknown]>([
    ['/', { kind: 'handshake' }],
    ['/word.doc', plain('word.doc')],
    ['/dir/sub/file.bin', plain('dir', 'sub', 'file.bin')],
    [`/${ID}/word.doc`, client('word.doc')],
    [`/${ID}/dir/word.doc`, client('dir', 'word.doc')],
    // client ids are case-insensitive UUIDs, kept lower-case
    [`/${ID_UPPER}/x`, client('x')],
    // a client id names no file by itself
    [`/${ID}`, error(ERRORS.NOT_FOUND)],
    [`/${ID}/`, error(ERRORS.BAD_PATH)],
    // almost a UUID: a plain file name
    [`/${ID.slice(0, -1)}/x`, plain(ID.slice(0, -1), 'x')],
    [`/${ID}0/x`, plain(`${ID}0`, 'x')],
    // an encoded id is a file name, never a session (raw segment must be a UUID)
    [`/%33${ID.slice(1)}/x`, plain(ID, 'x')],
  ])('route %p', (target, expected) => {
    expect(summary(routeTarget(target))).toEqual(expected);
  });

  // RFC 3986 §2.1, §3.3: percent-decoding, one pass, UTF-8.
  it.each<[string, unknown]>([
    ['/caf%C3%A9.txt', plain('café.txt')],
    ['/caf%c3%a9.txt', plain('café.txt')],
    ['/a%20b', plain('a b')],
    ['/%7Euser', plain('~user')],
    ['/a+b', plain('a+b')],
    // double encoding decodes once: "%2e%2e" is a literal file name, not ".."
    ['/%252e%252e/x', plain('%2e%2e', 'x')],
    ['/%252f', plain('%2f')],
    // query is not part of the path (§3.2.1: origin-form = absolute-path [ "?" query ])
    ['/word.doc?x=1', plain('word.doc')],
    ['/word.doc?', plain('word.doc')],
    ['/?x=/../../etc/passwd', { kind: 'handshake' }],
    [`/${ID}/word.doc?offset=5`, client('word.doc')],
  ])('decode %p', (target, expected) => {
    expect(summary(routeTarget(target))).toEqual(expected);
  });

  // Traversal and smuggled separators. bad-path: 400, connection kept.
  it.each<[string, string, unknown]>([
    ['dot-dot', '/../etc/passwd', error(ERRORS.BAD_PATH)],
    ['dot-dot in the middle', '/a/../../etc/passwd', error(ERRORS.BAD_PATH)],
    ['dot-dot after a client id', `/${ID}/../x`, error(ERRORS.BAD_PATH)],
    ['dot segment', '/./x', error(ERRORS.BAD_PATH)],
    ['trailing dot segment', '/a/.', error(ERRORS.BAD_PATH)],
    ['encoded dot-dot', '/%2e%2e/etc/passwd', error(ERRORS.BAD_PATH)],
    ['encoded dot-dot, upper case', '/%2E%2E/x', error(ERRORS.BAD_PATH)],
    ['half-encoded dot-dot', '/.%2e/x', error(ERRORS.BAD_PATH)],
    ['encoded dot', '/%2e/x', error(ERRORS.BAD_PATH)],
    ['encoded slash as a segment', '/a/%2f/b', error(ERRORS.BAD_PATH)],
    ['encoded slash in a segment', '/a%2fb', error(ERRORS.BAD_PATH)],
    ['encoded slash, upper case', '/a%2Fb', error(ERRORS.BAD_PATH)],
    ['encoded backslash', '/a%5cb', error(ERRORS.BAD_PATH)],
    ['raw backslash', '/a\\b', error(ERRORS.BAD_PATH)],
    ['raw backslash dot-dot', '/..\\..\\etc\\passwd', error(ERRORS.BAD_PATH)],
    ['encoded NUL', '/%00', error(ERRORS.BAD_PATH)],
    ['encoded NUL before an extension', '/secret%00.txt', error(ERRORS.BAD_PATH)],
    ['encoded control byte', '/a%0ab', error(ERRORS.BAD_PATH)],
    ['encoded DEL', '/a%7f', error(ERRORS.BAD_PATH)],
    ['invalid percent-encoding', '/a%zz', error(ERRORS.BAD_PATH)],
    ['truncated percent-encoding', '/a%2', error(ERRORS.BAD_PATH)],
    ['lone percent', '/a%', error(ERRORS.BAD_PATH)],
    // RFC 3629 §3: overlong forms are invalid UTF-8 ("%c0%ae" would be ".")
    ['overlong UTF-8 dot-dot', '/%c0%ae%c0%ae/x', error(ERRORS.BAD_PATH)],
    ['overlong UTF-8 slash', '/a%c0%afb', error(ERRORS.BAD_PATH)],
    ['invalid UTF-8 byte', '/%ff', error(ERRORS.BAD_PATH)],
    ['truncated UTF-8 sequence', '/caf%c3', error(ERRORS.BAD_PATH)],
    ['UTF-16 surrogate encoded in UTF-8', '/%ed%a0%80', error(ERRORS.BAD_PATH)],
    ['empty segment', '//x', error(ERRORS.BAD_PATH)],
    ['empty segment in the middle', '/a//b', error(ERRORS.BAD_PATH)],
    ['trailing slash', '/dir/', error(ERRORS.BAD_PATH)],
  ])('refuses %s: %p', (_name, target, expected) => {
    expect(summary(routeTarget(target))).toEqual(expected);
  });

  // Hidden names are not served (404: no such file, as far as anyone knows).
  it.each<[string, unknown]>([
    ['/.hidden', error(ERRORS.NOT_FOUND)],
    ['/dir/.git/config', error(ERRORS.NOT_FOUND)],
    ['/%2ehidden', error(ERRORS.NOT_FOUND)],
    [`/${ID}/.env`, error(ERRORS.NOT_FOUND)],
  ])('hidden %p', (target, expected) => {
    expect(summary(routeTarget(target))).toEqual(expected);
  });

  // RFC 9112 §3.2: origin-form is what we serve; absolute-form MUST be
  // accepted (we use its path); authority-form and asterisk-form are for
  // CONNECT and OPTIONS, which we do not do.
  it.each<[string, unknown]>([
    ['http://h/word.doc', plain('word.doc')],
    ['HTTP://h:8080/word.doc', plain('word.doc')],
    ['https://h/a/b', plain('a', 'b')],
    ['http://h', { kind: 'handshake' }],
    ['http://h/', { kind: 'handshake' }],
    ['http://h?x=1', { kind: 'handshake' }],
    [`http://h/${ID}/x?y`, client('x')],
    ['http://h/%2e%2e/etc/passwd', error(ERRORS.BAD_PATH)],
    ['http://h/../x', error(ERRORS.BAD_PATH)],
    ['*', error(ERRORS.BAD_TARGET)],
    ['example.com:80', error(ERRORS.BAD_TARGET)],
    ['ftp://h/x', error(ERRORS.BAD_TARGET)],
    ['http:///x', error(ERRORS.BAD_TARGET)],
    ['word.doc', error(ERRORS.BAD_TARGET)],
    ['', error(ERRORS.BAD_TARGET)],
  ])('form %p', (target, expected) => {
    expect(summary(routeTarget(target))).toEqual(expected);
  });

  it('routing errors keep the connection open (they are not framing errors)', () => {
    for (const target of ['/../x', '/.x', '*', `/${ID}`]) {
      const r = routeTarget(target);
      expect(r.kind).toBe('error');
      if (r.kind === 'error') expect(r.error.close).toBe(false);
    }
  });
});

describe('isClientId', () => {
  it.each<[string, boolean]>([
    [ID, true],
    [ID_UPPER, true],
    ['00000000-0000-0000-0000-000000000000', true],
    [ID.replace(/-/g, ''), false],
    [`{${ID}}`, false],
    [`${ID}\n`, false],
    [ID.replace('3', 'g'), false],
    ['', false],
  ])('%p → %p', (s, expected) => {
    expect(isClientId(s)).toBe(expected);
  });
});
