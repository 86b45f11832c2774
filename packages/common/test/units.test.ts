/**
 * Sizes and durations as people type them. Binary multiples throughout;
 * bad input is an { error } value, never a throw.
 */
import { formatBytes, parseDuration, parseSize } from '../src/units.js';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

describe('parseSize', () => {
  it.each<[string, number]>([
    ['0', 0],
    ['512', 512],
    ['20k', 20 * KiB],
    ['20K', 20 * KiB],
    [' 20K ', 20 * KiB],
    ['20 k', 20 * KiB],
    ['20kb', 20 * KiB],
    ['20KiB', 20 * KiB],
    ['20ki', 20 * KiB],
    ['1m', MiB],
    ['1M', MiB],
    ['1MiB', MiB],
    ['1MB', MiB],
    ['1mib', MiB],
    ['2g', 2 * GiB],
    ['2GiB', 2 * GiB],
    ['1t', TiB],
    ['1.5k', 1536],
    ['0.5m', MiB / 2],
    ['1b', 1],
    ['512B', 512],
    // fractions of a byte round down
    ['1.5', 1],
    ['0.0001k', 0],
    ['100352', 100352],
    ['007k', 7 * KiB],
  ])('%p → %p', (text, expected) => {
    expect(parseSize(text)).toBe(expected);
  });

  it.each([
    '',
    '   ',
    'abc',
    'k',
    '-1',
    '-1k',
    '+1k',
    '1x',
    '1kk',
    '1kbb',
    '1bk',
    '1.5.5',
    '.5k',
    '1.k',
    '1e3',
    '0x10',
    'Infinity',
    'NaN',
    '1 000',
    '1,5k',
    '1p',
    // "i" and "ib" need a multiple in front of them
    '1i',
    '1ib',
    '1iB',
    // too large to be an exact byte count
    '9999999t',
    '9'.repeat(40),
  ])('%p → { error }', (text) => {
    const r = parseSize(text);
    expect(typeof r).toBe('object');
    expect(r).toEqual({ error: expect.any(String) });
  });

  it('a number too long to be finite → { error }', () => {
    expect(parseSize('9'.repeat(400))).toEqual({ error: expect.any(String) });
  });

  it('the largest exact byte count is accepted', () => {
    expect(parseSize(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['250ms', 250],
    ['250MS', 250],
    ['0', 0],
    ['30s', 30_000],
    ['30S', 30_000],
    [' 30s ', 30_000],
    ['30 s', 30_000],
    // a bare number is seconds
    ['30', 30_000],
    ['1.5', 1500],
    ['1.5s', 1500],
    ['0.5ms', 1],
    ['15m', 15 * 60_000],
    ['24h', 24 * 3_600_000],
    ['7d', 7 * 86_400_000],
    ['1.5h', 5_400_000],
  ])('%p → %p ms', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  it.each([
    '',
    ' ',
    'abc',
    's',
    'ms',
    '-1s',
    '+1s',
    '10x',
    '1msec',
    '1sec',
    '1min',
    '1w',
    '1y',
    '1h30m',
    '1e3',
    '.5s',
    '1.s',
    'Infinity',
    // too large to be a number of milliseconds
    '9'.repeat(20) + 'd',
    '9'.repeat(16),
  ])('%p → { error }', (text) => {
    expect(parseDuration(text)).toEqual({ error: expect.any(String) });
  });

  it('a number too long to be finite → { error }, not Infinity', () => {
    expect(parseDuration('9'.repeat(400))).toEqual({ error: expect.any(String) });
    expect(parseDuration(`${'9'.repeat(400)}ms`)).toEqual({ error: expect.any(String) });
  });
});

describe('formatBytes', () => {
  it.each<[number, string]>([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [20 * KiB, '20.0 KiB'],
    [100352, '98.0 KiB'],
    [MiB - 1, '1.0 MiB'],
    [MiB, '1.0 MiB'],
    [1.5 * MiB, '1.5 MiB'],
    [GiB - 1, '1.0 GiB'],
    [GiB, '1.0 GiB'],
    [2.25 * GiB, '2.3 GiB'],
    [TiB, '1.0 TiB'],
    // the largest unit keeps counting
    [2048 * TiB, '2048.0 TiB'],
  ])('%p → %p', (n, expected) => {
    expect(formatBytes(n)).toBe(expected);
  });

  it.each(['512', '20k', '1m', '1.5k', '2g'])('formats what parseSize(%p) reads back to the same size', (text) => {
    const n = parseSize(text) as number;
    const shown = formatBytes(n).replace(/ (K|M|G)iB$/, '$1').replace(/ B$/, '');
    expect(parseSize(shown)).toBe(n);
  });
});
