/**
 * Errors are data: every refusal the server can give is one entry here, and
 * one function (`errorResponse` in response-head.ts) turns it into bytes.
 * `code` is stable and is also sent as the `Mob-Error` header so clients and
 * tests can branch on it without parsing prose.
 */
export interface HttpErrorSpec {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** The connection cannot be trusted afterwards (framing unknown): close it. */
  readonly close?: boolean;
}

function spec(status: number, code: string, message: string, close = false): HttpErrorSpec {
  return Object.freeze({ status, code, message, close });
}

export const ERRORS = Object.freeze({
  // Message syntax (RFC 9112). The stream is no longer parseable: close.
  BAD_REQUEST_LINE: spec(400, 'bad-request-line', 'malformed request line', true),
  BAD_HEADER: spec(400, 'bad-header', 'malformed header field', true),
  BARE_CR: spec(400, 'bare-cr', 'bare CR in message', true),
  BARE_LF: spec(400, 'bare-lf', 'line not terminated by CRLF', true),
  OBS_FOLD: spec(400, 'obs-fold', 'obsolete line folding is not accepted', true),
  MISSING_HOST: spec(400, 'missing-host', 'HTTP/1.1 request without exactly one Host header', true),
  BAD_CONTENT_LENGTH: spec(400, 'bad-content-length', 'invalid or conflicting Content-Length', true),
  BODY_NOT_ALLOWED: spec(400, 'body-not-allowed', 'this server accepts no request body', true),
  TRANSFER_ENCODING: spec(400, 'transfer-encoding', 'Transfer-Encoding in a request is not accepted', true),
  DUPLICATE_HEADER: spec(400, 'duplicate-header', 'a header that must appear once appears twice', true),
  URI_TOO_LONG: spec(414, 'uri-too-long', 'request line too long', true),
  HEADERS_TOO_LARGE: spec(431, 'headers-too-large', 'request header section too large', true),
  VERSION_NOT_SUPPORTED: spec(505, 'version-not-supported', 'only HTTP/1.0 and HTTP/1.1 are spoken here', true),
  HEADER_TIMEOUT: spec(408, 'header-timeout', 'request headers not received in time', true),

  // Request target and routing. The connection stays usable.
  BAD_TARGET: spec(400, 'bad-target', 'request target is not an absolute path'),
  BAD_PATH: spec(400, 'bad-path', 'path contains a forbidden segment or encoding'),
  METHOD_NOT_ALLOWED: spec(405, 'method-not-allowed', 'only GET and HEAD are allowed'),
  UNKNOWN_CLIENT: spec(404, 'unknown-client', 'unknown or expired client id; get a new one with GET /'),
  NOT_FOUND: spec(404, 'not-found', 'no such file'),
  FORBIDDEN: spec(403, 'forbidden', 'file not readable'),
  RANGE_NOT_SATISFIABLE: spec(416, 'range-not-satisfiable', 'range not satisfiable'),
  PRECONDITION_FAILED: spec(412, 'precondition-failed', 'precondition failed'),
  FILE_UNSTABLE: spec(503, 'file-unstable', 'file is being changed, retry later'),
  STORE_UNAVAILABLE: spec(503, 'store-unavailable', 'progress ledger unavailable, retry later'),
  INTERNAL: spec(500, 'internal', 'internal server error', true),
  BUSY: spec(503, 'busy', 'too many connections, retry later', true),
  SHUTTING_DOWN: spec(503, 'shutting-down', 'server is shutting down', true),
});

export type ErrorName = keyof typeof ERRORS;
