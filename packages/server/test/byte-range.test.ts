/**
 * parseRange(size, header) (RFC 9110 §14), table-driven after
 * jshttp/range-parser's tests, with a discriminated union instead of -1/-2.
 */
import { contentRange, parseRange, unsatisfiedRange, type RangeResult } from '../src/http/byte-range.js';

const TWO_64 = '18446744073709551616';

describe('parseRange', () => {
  // §14.1.1 byte-range-spec / suffix-range on a 100-byte representation.
  it.each<[string | undefined, RangeResult]>([
    [undefined, { kind: 'none', reason: 'absent' }],
    ['bytes=0-', { kind: 'single', start: 0, end: 99 }],
    ['bytes=0-0', { kind: 'single', start: 0, end: 0 }],
    ['bytes=0-99', { kind: 'single', start: 0, end: 99 }],
    ['bytes=5-', { kind: 'single', start: 5, end: 99 }],
    ['bytes=5-9', { kind: 'single', start: 5, end: 9 }],
    ['bytes=99-', { kind: 'single', start: 99, end: 99 }],
    ['bytes=-5', { kind: 'single', start: 95, end: 99 }],
    ['bytes=-100', { kind: 'single', start: 0, end: 99 }],
    // a suffix longer than the file is the whole file (§14.1.1)
    ['bytes=-500', { kind: 'single', start: 0, end: 99 }],
    // a last-pos past the end is clamped to size - 1 (§14.1.1)
    ['bytes=0-999', { kind: 'single', start: 0, end: 99 }],
    ['bytes=50-100', { kind: 'single', start: 50, end: 99 }],
    // leading zeros are digits too
    ['bytes=005-009', { kind: 'single', start: 5, end: 9 }],
    // the unit is case-insensitive (§14.1)
    ['BYTES=1-2', { kind: 'single', start: 1, end: 2 }],
  ])('size 100, %p → %p', (header, expected) => {
    expect(parseRange(100, header)).toEqual(expected);
  });

  // §14.1.1: a range-spec is unsatisfiable if first-pos ≥ size, or a
  // suffix-length is 0; §15.5.17: 416.
  it.each<[number, string]>([
    [100, 'bytes=100-'],
    [100, 'bytes=100-200'],
    [100, 'bytes=1000-'],
    [100, 'bytes=-0'],
    [0, 'bytes=0-'],
    [0, 'bytes=0-0'],
    [0, 'bytes=-1'],
    [100, `bytes=${TWO_64}-`],
    [100, `bytes=${TWO_64}-${TWO_64}`],
    // every range in the set is unsatisfiable
    [100, 'bytes=100-,200-300'],
  ])('size %i, %p → unsatisfiable beyond-end', (size, header) => {
    expect(parseRange(size, header)).toEqual({ kind: 'unsatisfiable', reason: 'beyond-end' });
  });

  // §14.1.1: last-pos < first-pos is invalid.
  it.each(['bytes=5-2', 'bytes=1-0', `bytes=${TWO_64}-5`, 'bytes=0-1,5-2'])('%p → unsatisfiable invalid', (header) => {
    expect(parseRange(100, header)).toEqual({ kind: 'unsatisfiable', reason: 'invalid' });
  });

  // Not a ranges-specifier at all. range-parser returns -2 for these.
  it.each([
    'bytes=',
    'bytes=abc',
    'bytes=--1',
    'bytes=--100',
    'bytes=01a-150',
    'bytes=1-2a',
    'bytes=-',
    'bytes=1-2-3',
    'bytes= , ,',
    'bytes=0-1,abc',
    'bytes=+1-2',
    'bytes=1.5-2',
    'bytes',
    '',
    '=0-1',
    'by tes=0-1',
  ])('%p → unsatisfiable malformed', (header) => {
    expect(parseRange(100, header)).toEqual({ kind: 'unsatisfiable', reason: 'malformed' });
  });

  // §5.6.1 list syntax: OWS around commas, empty elements tolerated.
  it.each<[string, RangeResult]>([
    ['bytes= 0-9', { kind: 'single', start: 0, end: 9 }],
    ['bytes=0-9 ', { kind: 'single', start: 0, end: 9 }],
    ['bytes=\t0-9\t', { kind: 'single', start: 0, end: 9 }],
    ['bytes=0-9,', { kind: 'single', start: 0, end: 9 }],
    ['bytes=, 0-9 ,', { kind: 'single', start: 0, end: 9 }],
    ['bytes=0-1 , 5-6', { kind: 'none', reason: 'multiple' }],
    ['bytes=0-1,\t5-6', { kind: 'none', reason: 'multiple' }],
  ])('whitespace and empty elements: %p → %p', (header, expected) => {
    expect(parseRange(100, header)).toEqual(expected);
  });

  // §14.2: an unknown range unit MUST be ignored; several ranges MAY be
  // ignored (we send no multipart/byteranges).
  it.each<[string, RangeResult]>([
    ['items=0-5', { kind: 'none', reason: 'other-unit' }],
    ['none=x', { kind: 'none', reason: 'other-unit' }],
    ['bytes=0-1,5-6', { kind: 'none', reason: 'multiple' }],
    ['bytes=0-1,0-1', { kind: 'none', reason: 'multiple' }],
    ['bytes=-1,0-', { kind: 'none', reason: 'multiple' }],
    // one satisfiable range among unsatisfiable ones is still "several"
    ['bytes=0-1,200-', { kind: 'none', reason: 'multiple' }],
  ])('ignored: %p → %p', (header, expected) => {
    expect(parseRange(100, header)).toEqual(expected);
  });

  // Numbers past 2^53 must not turn into wrong offsets: a huge first-pos is
  // past the end, a huge last-pos or suffix means "to the end".
  it.each<[string, RangeResult]>([
    [`bytes=0-${TWO_64}`, { kind: 'single', start: 0, end: 99 }],
    [`bytes=10-${TWO_64}`, { kind: 'single', start: 10, end: 99 }],
    [`bytes=-${TWO_64}`, { kind: 'single', start: 0, end: 99 }],
    ['bytes=0-9007199254740993', { kind: 'single', start: 0, end: 99 }],
  ])('huge numbers: %p → %p', (header, expected) => {
    expect(parseRange(100, header)).toEqual(expected);
  });

  it('never throws on client input', () => {
    const junk = ['bytes=\u0000', 'bytes=\uffff-1', 'bytes==', '==', 'bytes=1-2=3', `bytes=${'9'.repeat(10_000)}-`, ','.repeat(1000)];
    for (const h of junk) expect(() => parseRange(100, h)).not.toThrow();
  });
});

describe('Content-Range values', () => {
  // §14.4: Content-Range = range-unit SP ( range-resp / unsatisfied-range )
  it.each<[number, number, number, string]>([
    [0, 0, 1, 'bytes 0-0/1'],
    [0, 99, 100, 'bytes 0-99/100'],
    [95, 99, 100, 'bytes 95-99/100'],
    [2 ** 40, 2 ** 40 + 9, 2 ** 41, `bytes ${2 ** 40}-${2 ** 40 + 9}/${2 ** 41}`],
  ])('contentRange(%i, %i, %i) = %p', (start, end, size, expected) => {
    expect(contentRange(start, end, size)).toBe(expected);
  });

  // §15.5.17: a 416 says the current length as "*/complete-length".
  it.each<[number, string]>([
    [0, 'bytes */0'],
    [100, 'bytes */100'],
  ])('unsatisfiedRange(%i) = %p', (size, expected) => {
    expect(unsatisfiedRange(size)).toBe(expected);
  });

  it('a parsed single range formats back to the span it names', () => {
    const r = parseRange(1000, 'bytes=-10');
    expect(r.kind).toBe('single');
    if (r.kind === 'single') expect(contentRange(r.start, r.end, 1000)).toBe('bytes 990-999/1000');
  });
});
