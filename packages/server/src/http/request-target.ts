/**
 * From request-target to route (RFC 9112 §3.2, RFC 3986 §3.3). Pure.
 *
 * A path is a list of decoded segments. Anything that could name a file
 * outside the root, or a different file than it seems to, is refused here,
 * before the file system is touched: dot segments (raw or encoded), encoded
 * "/" or "\", NUL and other control bytes, invalid percent-encoding, invalid
 * UTF-8 (so also overlong forms), empty segments. Hidden names (".x") are
 * not served either; the file layer rechecks containment after symlinks.
 */
import { isClientId } from './client-id.js';
import { ERRORS, type HttpErrorSpec } from './errors.js';

export type Route =
  | { kind: 'handshake' }
  | { kind: 'client'; clientId: string; path: string[] }
  | { kind: 'plain'; path: string[] }
  | { kind: 'error'; error: HttpErrorSpec };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeSegment(raw: string): string | HttpErrorSpec {
  // Without "%" there is nothing to decode: the parser let only visible
  // ASCII through (RFC 9112 §3.2), which is valid UTF-8 as it stands.
  if (raw.indexOf('%') === -1) {
    if (raw === '' || raw === '.' || raw === '..' || raw.indexOf('\\') !== -1) return ERRORS.BAD_PATH;
    if (/[^\x21-\x7e]/.test(raw)) return decodeBytes(raw);
    return raw;
  }
  return decodeBytes(raw);
}

function decodeBytes(raw: string): string | HttpErrorSpec {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return ERRORS.BAD_PATH;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(c);
    }
  }
  let text: string;
  try {
    text = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return ERRORS.BAD_PATH;
  }
  if (/[\u0000-\u001f\u007f/\\]/.test(text)) return ERRORS.BAD_PATH;
  if (text === '' || text === '.' || text === '..') return ERRORS.BAD_PATH;
  return text;
}

/** Turns a request target into a route. `method` is already GET or HEAD. */
export function routeTarget(target: string): Route {
  let path = target;
  if (!path.startsWith('/')) {
    // RFC 9112 §3.2.2: a server MUST accept absolute-form; we use only its path.
    const m = /^https?:\/\/[^/?#]+(\/[^?#]*)?(\?.*)?$/i.exec(path);
    if (!m) return { kind: 'error', error: ERRORS.BAD_TARGET };
    path = m[1] ?? '/';
  }
  const q = path.indexOf('?');
  if (q !== -1) path = path.slice(0, q);
  if (path === '/') return { kind: 'handshake' };

  const rawSegments = path.slice(1).split('/');
  const segments: string[] = [];
  for (const raw of rawSegments) {
    const seg = decodeSegment(raw);
    if (typeof seg !== 'string') return { kind: 'error', error: seg };
    segments.push(seg);
  }
  if (segments.some((s) => s.startsWith('.'))) return { kind: 'error', error: ERRORS.NOT_FOUND };

  const first = segments[0]!;
  // The raw (undecoded) first segment must itself look like a UUID, so an
  // encoded ID is a plain file name, never a session.
  // (A raw UUID has no '%', so it is its own decoding: `first` is the same string.)
  if (isClientId(rawSegments[0]!)) {
    const rest = segments.slice(1);
    if (rest.length === 0) return { kind: 'error', error: ERRORS.NOT_FOUND };
    return { kind: 'client', clientId: first.toLowerCase(), path: rest };
  }
  return { kind: 'plain', path: segments };
}
