/**
 * Reading what a server says about a representation: Content-Range
 * (RFC 9110 §14.4), entity-tags (§8.8.3) and Repr-Digest (RFC 9530). Pure.
 */

export type ContentRange = { kind: 'range'; start: number; end: number; size: number | undefined } | { kind: 'unsatisfied'; size: number };

export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  let m = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)$/i.exec(value.trim());
  if (m) {
    const start = Number(m[1]);
    const end = Number(m[2]);
    const size = m[3] === '*' ? undefined : Number(m[3]);
    if (end < start || (size !== undefined && end >= size)) return undefined;
    return { kind: 'range', start, end, size };
  }
  m = /^bytes \*\/(\d{1,15})$/i.exec(value.trim());
  if (m) return { kind: 'unsatisfied', size: Number(m[1]) };
  return undefined;
}

/** A strong entity-tag, or undefined for weak or malformed ones (undici's rule: never resume on a weak tag). */
export function strongEtag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  return /^"[\x21\x23-\x7e\x80-\xff]*"$/.test(v) ? v : undefined;
}

/** RFC 9530 §3: `sha-256=:<base64>:` out of a Repr-Digest dictionary; the digest as hex. */
export function sha256FromReprDigest(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  for (const member of value.split(',')) {
    const m = /^\s*sha-256=:([A-Za-z0-9+/]+={0,2}):\s*$/.exec(member);
    if (m) {
      const bytes = Buffer.from(m[1]!, 'base64');
      if (bytes.length === 32) return bytes.toString('hex');
    }
  }
  return undefined;
}
