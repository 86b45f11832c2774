/**
 * Entity tags and the If-Range precondition (RFC 9110 §8.8.3, §13.1.5).
 * Pure functions; client input never throws.
 */

export interface EntityTag {
  weak: boolean;
  /** The opaque-tag including its quotes. */
  opaque: string;
}

/** RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE */
export function parseEntityTag(value: string): EntityTag | undefined {
  const v = value.trim();
  const weak = v.startsWith('W/');
  const opaque = weak ? v.slice(2) : v;
  if (opaque.length < 2 || opaque[0] !== '"' || opaque[opaque.length - 1] !== '"') return undefined;
  for (let i = 1; i < opaque.length - 1; i++) {
    const c = opaque.charCodeAt(i);
    // etagc = %x21 / %x23-7E / obs-text
    if (c === 0x22 || c < 0x21 || c === 0x7f) return undefined;
  }
  return { weak, opaque };
}

/** Makes a strong entity-tag from an opaque string of etagc characters. */
export function strongTag(opaque: string): string {
  if (!/^[\x21\x23-\x7e]*$/.test(opaque)) throw new TypeError('entity-tag characters out of range');
  return `"${opaque}"`;
}

/** RFC 9110 §8.8.3.2: strong comparison: both strong and identical. */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/**
 * RFC 9110 §13.1.5: should the Range be honoured given this If-Range value?
 * - absent: yes;
 * - an entity-tag: only on a strong match with the current tag (a weak tag
 *   never matches);
 * - an HTTP-date: only if it equals Last-Modified exactly and Last-Modified
 *   is itself strong (§8.8.2.2: at least one second older than Date).
 * Anything else is not a valid validator: the condition is false, so the
 * whole representation is sent (the safe outcome for a resuming client).
 */
export function isRangeFresh(ifRange: string | undefined, current: { etag: string; lastModified: Date; date: Date }): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) {
    const tag = parseEntityTag(v);
    const mine = parseEntityTag(current.etag);
    return tag !== undefined && mine !== undefined && strongMatch(tag, mine);
  }
  const when = parseHttpDate(v);
  if (when === undefined) return false;
  const lm = Math.floor(current.lastModified.getTime() / 1000);
  const strongLm = Math.floor(current.date.getTime() / 1000) - lm >= 1;
  return strongLm && Math.floor(when.getTime() / 1000) === lm;
}

const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 9110 §5.6.7: IMF-fixdate only (the obsolete forms are not validators we issue). */
export function parseHttpDate(value: string): Date | undefined {
  const m = IMF_FIXDATE.exec(value.trim());
  if (!m) return undefined;
  const t = Date.UTC(Number(m[4]), MONTHS.indexOf(m[3]!), Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7]));
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** RFC 9110 §5.6.7: IMF-fixdate. */
export function formatHttpDate(d: Date): string {
  return d.toUTCString();
}
