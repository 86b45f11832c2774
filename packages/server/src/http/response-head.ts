/**
 * Serialising a response head (RFC 9112 §4, §5) and the one function that
 * turns an error spec into a whole response. Pure apart from the clock.
 */
import type { HttpErrorSpec } from './errors.js';
import { formatHttpDate } from './entity-tag.js';

// RFC 9110 §15: reason phrases for the codes we send.
const REASONS: Record<number, string> = {
  200: 'OK',
  206: 'Partial Content',
  304: 'Not Modified',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  408: 'Request Timeout',
  414: 'URI Too Long',
  416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

export const SERVER_NAME = 'mobserve/0.1';

export type HeaderList = Array<[string, string | number]>;

let cachedSecond = -1;
let cachedDate = '';
/** RFC 9110 §6.6.1: Date, formatted once per second. */
export function httpDateNow(now = Date.now()): string {
  const s = Math.floor(now / 1000);
  if (s !== cachedSecond) {
    cachedSecond = s;
    cachedDate = formatHttpDate(new Date(s * 1000));
  }
  return cachedDate;
}

/** `fields`: field lines already serialized (CRLF included), after `headers`. */
export function serializeHead(status: number, headers: HeaderList, fields = ''): Buffer {
  let out = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
  for (const [name, value] of headers) out += `${name}: ${value}\r\n`;
  out += fields;
  out += '\r\n';
  return Buffer.from(out, 'latin1');
}

/**
 * One error response: a short text/plain reason a person can read, and the
 * stable code in `Mob-Error` for programs. `extra` adds headers such as
 * `Allow` (405) or `Content-Range` (416).
 */
export function errorResponse(err: HttpErrorSpec, opts: { head?: boolean; close?: boolean; extra?: HeaderList } = {}): Buffer {
  const body = `${err.status} ${REASONS[err.status] ?? ''}: ${err.message}\n`;
  const headers: HeaderList = [
    ['Date', httpDateNow()],
    ['Server', SERVER_NAME],
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', Buffer.byteLength(body)],
    ['Cache-Control', 'no-store'],
    ['Mob-Error', err.code],
    ...(opts.extra ?? []),
  ];
  if (opts.close || err.close) headers.push(['Connection', 'close']);
  const head = serializeHead(err.status, headers);
  return opts.head ? head : Buffer.concat([head, Buffer.from(body)]);
}
