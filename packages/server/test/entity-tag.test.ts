/**
 * Entity tags, HTTP-dates and the If-Range rule (RFC 9110 §8.8, §5.6.7,
 * §13.1.5). Resume must only continue the same bytes: a weak validator
 * never lets a Range through.
 */
import { formatHttpDate, isRangeFresh, parseEntityTag, parseHttpDate, strongMatch, strongTag, type EntityTag } from '../src/http/entity-tag.js';

describe('parseEntityTag (§8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE)', () => {
  it.each<[string, EntityTag]>([
    ['"abc"', { weak: false, opaque: '"abc"' }],
    ['W/"abc"', { weak: true, opaque: '"abc"' }],
    ['""', { weak: false, opaque: '""' }],
    ['W/""', { weak: true, opaque: '""' }],
    ['  "abc"\t', { weak: false, opaque: '"abc"' }],
    ['"a!#~b"', { weak: false, opaque: '"a!#~b"' }],
    ['"W/x"', { weak: false, opaque: '"W/x"' }],
    // etagc includes obs-text
    ['"\x80\xff"', { weak: false, opaque: '"\x80\xff"' }],
  ])('%p → %p', (value, expected) => {
    expect(parseEntityTag(value)).toEqual(expected);
  });

  it.each([
    'abc',
    '"abc',
    'abc"',
    '"',
    '',
    // DQUOTE inside is not an etagc
    '"a"b"',
    // SP, CTL and DEL are not etagc
    '"a b"',
    '"a\tb"',
    '"a\x00b"',
    '"a\x7fb"',
    // "W/" is case-sensitive
    'w/"abc"',
    'W/abc',
    'W/ "abc"',
    '*',
    '"a", "b"',
  ])('%p is not an entity-tag', (value) => {
    expect(parseEntityTag(value)).toBeUndefined();
  });
});

describe('strongTag', () => {
  it('quotes an opaque string of etagc characters', () => {
    expect(strongTag('Xy-_09')).toBe('"Xy-_09"');
    expect(parseEntityTag(strongTag('abc'))).toEqual({ weak: false, opaque: '"abc"' });
  });

  // A programmer error, not client input: TypeError (as jshttp/etag).
  it.each(['a"b', 'a b', 'é', 'a\nb'])('throws TypeError for %p', (opaque) => {
    expect(() => strongTag(opaque)).toThrow(TypeError);
  });
});

describe('strongMatch (§8.8.3.2 strong comparison)', () => {
  const tag = (v: string) => parseEntityTag(v)!;
  it.each<[string, string, boolean]>([
    ['"1"', '"1"', true],
    ['"1"', '"2"', false],
    ['W/"1"', '"1"', false],
    ['"1"', 'W/"1"', false],
    ['W/"1"', 'W/"1"', false],
    ['"a"', '"A"', false],
  ])('%s vs %s → %p', (a, b, expected) => {
    expect(strongMatch(tag(a), tag(b))).toBe(expected);
  });
});

describe('isRangeFresh (§13.1.5 If-Range)', () => {
  const lastModified = new Date(Date.UTC(2024, 0, 15, 12, 0, 0));
  const lmText = 'Mon, 15 Jan 2024 12:00:00 GMT';
  const current = { etag: '"v1"', lastModified, date: new Date(lastModified.getTime() + 60_000) };

  it.each<[string, string | undefined, boolean]>([
    ['absent: the Range stands', undefined, true],
    ['strong tag, same', '"v1"', true],
    ['strong tag with surrounding whitespace', ' "v1" ', true],
    ['strong tag, different', '"v2"', false],
    ['weak tag with the same opaque: never for ranges', 'W/"v1"', false],
    ['malformed tag', '"v1', false],
    ['list of tags is not an If-Range value', '"v1", "v2"', false],
    ['"*" is not an If-Range value', '*', false],
    ['HTTP-date equal to Last-Modified', lmText, true],
    ['HTTP-date one second later than Last-Modified', 'Mon, 15 Jan 2024 12:00:01 GMT', false],
    ['HTTP-date one second earlier than Last-Modified', 'Mon, 15 Jan 2024 11:59:59 GMT', false],
    ['obsolete RFC 850 date is not accepted', 'Monday, 15-Jan-24 12:00:00 GMT', false],
    ['garbage', 'yesterday', false],
    ['empty', '', false],
  ])('%s', (_name, ifRange, expected) => {
    expect(isRangeFresh(ifRange, current)).toBe(expected);
  });

  it('a weak current ETag never matches, even an identical If-Range', () => {
    expect(isRangeFresh('W/"v1"', { ...current, etag: 'W/"v1"' })).toBe(false);
    expect(isRangeFresh('"v1"', { ...current, etag: 'W/"v1"' })).toBe(false);
  });

  // §8.8.2.2: a Last-Modified is strong only if at least one second older
  // than Date; otherwise two versions could share the presented second.
  it.each<[string, number, boolean]>([
    ['Date exactly 1 s after Last-Modified', 1000, true],
    ['Date a day after Last-Modified', 86_400_000, true],
    ['Date in the same second as Last-Modified', 999, false],
    ['Date equal to Last-Modified', 0, false],
  ])('HTTP-date validator: %s', (_name, dateOffsetMs, expected) => {
    expect(isRangeFresh(lmText, { ...current, date: new Date(lastModified.getTime() + dateOffsetMs) })).toBe(expected);
  });

  it('sub-second Last-Modified compares by its second', () => {
    const lm = new Date(lastModified.getTime() + 400);
    expect(isRangeFresh(lmText, { etag: '"v1"', lastModified: lm, date: new Date(lm.getTime() + 5000) })).toBe(true);
  });
});

describe('HTTP-date (§5.6.7 IMF-fixdate)', () => {
  it('parses the RFC example', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')?.getTime()).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
  });

  it.each([new Date(0), new Date(Date.UTC(1994, 10, 6, 8, 49, 37)), new Date(Date.UTC(2024, 1, 29, 23, 59, 59)), new Date(Date.UTC(2099, 11, 31, 0, 0, 0))])(
    'round trip %p',
    (d) => {
      const text = formatHttpDate(d);
      expect(text).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
      expect(parseHttpDate(text)?.getTime()).toBe(d.getTime());
    },
  );

  it('formatting drops milliseconds; the round trip lands on the second', () => {
    const d = new Date(Date.UTC(2024, 0, 15, 12, 0, 0, 999));
    expect(parseHttpDate(formatHttpDate(d))?.getTime()).toBe(Date.UTC(2024, 0, 15, 12, 0, 0));
  });

  it.each([
    '',
    'garbage',
    // obsolete forms are not validators we issue
    'Sunday, 06-Nov-94 08:49:37 GMT',
    'Sun Nov  6 08:49:37 1994',
    // GMT is case-sensitive and required
    'Sun, 06 Nov 1994 08:49:37 UTC',
    'Sun, 06 Nov 1994 08:49:37 gmt',
    'Sun, 06 Nov 1994 08:49:37',
    'Sun, 6 Nov 1994 08:49:37 GMT',
    'Sun, 06 nov 1994 08:49:37 GMT',
    'Sun, 06 Nov 94 08:49:37 GMT',
    'Sun,  06 Nov 1994 08:49:37 GMT',
    '1994-11-06T08:49:37Z',
  ])('%p is not an IMF-fixdate', (value) => {
    expect(parseHttpDate(value)).toBeUndefined();
  });
});
