/**
 * What a server says about a representation: Content-Range (RFC 9110
 * §14.4), strong entity-tags (§8.8.3) and Repr-Digest (RFC 9530). Client
 * input never throws; anything unusable is undefined.
 */
import { createHash } from 'node:crypto';
import { parseContentRange, sha256FromReprDigest, strongEtag, type ContentRange } from '../src/http/validators.js';

describe('parseContentRange', () => {
  it.each<[string, ContentRange]>([
    ['bytes 0-99/100', { kind: 'range', start: 0, end: 99, size: 100 }],
    ['bytes 0-0/1', { kind: 'range', start: 0, end: 0, size: 1 }],
    ['bytes 99-99/100', { kind: 'range', start: 99, end: 99, size: 100 }],
    ['bytes 5-9/*', { kind: 'range', start: 5, end: 9, size: undefined }],
    ['bytes 20480-100351/100352', { kind: 'range', start: 20480, end: 100351, size: 100352 }],
    ['bytes */100', { kind: 'unsatisfied', size: 100 }],
    ['bytes */0', { kind: 'unsatisfied', size: 0 }],
    // the range unit is case-insensitive (§14.1)
    ['BYTES 0-99/100', { kind: 'range', start: 0, end: 99, size: 100 }],
    ['Bytes */7', { kind: 'unsatisfied', size: 7 }],
    // surrounding whitespace is not part of the field value
    ['  bytes 1-2/3\t', { kind: 'range', start: 1, end: 2, size: 3 }],
    ['bytes 000-009/010', { kind: 'range', start: 0, end: 9, size: 10 }],
    ['bytes 0-999999999999998/999999999999999', { kind: 'range', start: 0, end: 999999999999998, size: 999999999999999 }],
  ])('%p → %p', (value, expected) => {
    expect(parseContentRange(value)).toEqual(expected);
  });

  it.each<[string, string | undefined]>([
    ['absent', undefined],
    ['empty', ''],
    ['end before start', 'bytes 10-5/100'],
    ['end equal to size', 'bytes 0-100/100'],
    ['end beyond size', 'bytes 50-200/100'],
    ['empty representation', 'bytes 0-0/0'],
    ['garbage', 'garbage'],
    ['another unit', 'items 0-9/10'],
    ['no unit', '0-99/100'],
    ['= instead of SP', 'bytes=0-99/100'],
    ['two spaces', 'bytes  0-99/100'],
    ['space in the range', 'bytes 0 - 99/100'],
    ['missing end', 'bytes 0-/100'],
    ['missing start', 'bytes -99/100'],
    ['missing size', 'bytes 0-99'],
    ['missing size after slash', 'bytes 0-99/'],
    ['unknown size unsatisfied', 'bytes */*'],
    ['negative', 'bytes -1-5/10'],
    ['hex', 'bytes 0x0-0x9/10'],
    ['decimal point', 'bytes 0-9.5/10'],
    ['several ranges', 'bytes 0-1/10, 3-4/10'],
    ['16 digits', 'bytes 0-1/1234567890123456'],
  ])('%s → undefined', (_name, value) => {
    expect(parseContentRange(value)).toBeUndefined();
  });
});

describe('strongEtag', () => {
  it.each<[string, string]>([
    ['"abc"', '"abc"'],
    ['""', '""'],
    ['"5f3a-18800"', '"5f3a-18800"'],
    ['  "x"\t', '"x"'],
    ['"a!#~b"', '"a!#~b"'],
    // "W/" inside the quotes is just opaque bytes
    ['"W/x"', '"W/x"'],
    // obs-text is an etagc
    ['"\x80\xff"', '"\x80\xff"'],
  ])('%p is strong → %p', (value, expected) => {
    expect(strongEtag(value)).toBe(expected);
  });

  it.each<[string, string | undefined]>([
    ['absent', undefined],
    ['empty', ''],
    ['weak', 'W/"x"'],
    ['weak, empty', 'W/""'],
    ['lower-case weak prefix', 'w/"x"'],
    ['unquoted', 'abc'],
    ['open quote only', '"abc'],
    ['close quote only', 'abc"'],
    ['a lone quote', '"'],
    ['quote inside', '"a"b"'],
    ['space inside', '"a b"'],
    ['control inside', '"a\x01b"'],
    ['DEL inside', '"a\x7fb"'],
    ['two tags', '"a", "b"'],
  ])('%s → undefined', (_name, value) => {
    expect(strongEtag(value)).toBeUndefined();
  });
});

describe('sha256FromReprDigest', () => {
  const hello = createHash('sha256').update('hello').digest();
  const hex = hello.toString('hex');
  const b64 = hello.toString('base64');
  const sha512 = createHash('sha512').update('hello').digest('base64');

  it('the sha-256 digest is the expected one for "hello"', () => {
    expect(hex).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  });

  it.each<[string, string]>([
    ['alone', `sha-256=:${b64}:`],
    ['after sha-512', `sha-512=:${sha512}:, sha-256=:${b64}:`],
    ['before sha-512', `sha-256=:${b64}:, sha-512=:${sha512}:`],
    ['no space after the comma', `sha-512=:${sha512}:,sha-256=:${b64}:`],
    ['among unknown members', `unixsum=:AAA=:, md5=:XrY7u+Ae7tCTyyK7j1rNww==:,  sha-256=:${b64}:  `],
    ['without base64 padding', `sha-256=:${b64.replace(/=+$/, '')}:`],
    ['after a malformed sha-256 member', `sha-256=:AAAA:, sha-256=:${b64}:`],
  ])('%s → hex', (_name, value) => {
    expect(sha256FromReprDigest(value)).toBe(hex);
  });

  it.each<[string, string | undefined]>([
    ['absent', undefined],
    ['empty', ''],
    ['only sha-512', `sha-512=:${sha512}:`],
    ['sha-256 of the wrong length (16 bytes)', `sha-256=:${Buffer.alloc(16, 1).toString('base64')}:`],
    ['sha-256 of the wrong length (33 bytes)', `sha-256=:${Buffer.alloc(33, 1).toString('base64')}:`],
    ['a sha-512 value under the sha-256 key', `sha-256=:${sha512}:`],
    ['no colons (a token, not a byte sequence)', `sha-256=${b64}`],
    ['quoted string', `sha-256="${b64}"`],
    ['missing closing colon', `sha-256=:${b64}`],
    ['not base64', `sha-256=:${'!'.repeat(44)}:`],
    ['hex instead of base64', `sha-256=:${hex}:`],
    ['upper-case key', `SHA-256=:${b64}:`],
    ['old Digest header syntax', `SHA-256=${b64}`],
    ['with parameters', `sha-256=:${b64}:;p=1`],
    ['empty byte sequence', 'sha-256=::'],
  ])('%s → undefined', (_name, value) => {
    expect(sha256FromReprDigest(value)).toBeUndefined();
  });
});
