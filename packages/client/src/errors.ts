/**
 * mobget's errors: typed, with a stable `code` and the process exit code the
 * command line uses. Tests assert on `code`, never on message text.
 */

export const EXIT = Object.freeze({
  OK: 0,
  /** Something unexpected (a bug). */
  INTERNAL: 1,
  /** Bad arguments or a refused situation (output exists without resume state). */
  USAGE: 2,
  /** The server or the network failed us, retries exhausted, or the server said no (404, 4xx). */
  NETWORK: 3,
  /** The bytes are wrong: size or digest mismatch that a fresh download did not repair. */
  INTEGRITY: 4,
  /** The output cannot be written: disk full, no permission, not a file. */
  OUTPUT: 5,
});

export type MobgetErrorCode =
  | 'MOBGET_USAGE'
  | 'MOBGET_OUTPUT_EXISTS'
  | 'MOBGET_NETWORK'
  | 'MOBGET_HTTP_STATUS'
  | 'MOBGET_PROTOCOL'
  | 'MOBGET_INTEGRITY'
  | 'MOBGET_OUTPUT'
  | 'MOBGET_ABORTED';

const EXIT_BY_CODE: Record<MobgetErrorCode, number> = {
  MOBGET_USAGE: EXIT.USAGE,
  MOBGET_OUTPUT_EXISTS: EXIT.USAGE,
  MOBGET_NETWORK: EXIT.NETWORK,
  MOBGET_HTTP_STATUS: EXIT.NETWORK,
  MOBGET_PROTOCOL: EXIT.NETWORK,
  MOBGET_INTEGRITY: EXIT.INTEGRITY,
  MOBGET_OUTPUT: EXIT.OUTPUT,
  MOBGET_ABORTED: EXIT.NETWORK,
};

/** The exit code the command line uses for an error code. */
export function exitCodeFor(code: MobgetErrorCode | 'MOBGET_INTERNAL'): number {
  return code === 'MOBGET_INTERNAL' ? EXIT.INTERNAL : EXIT_BY_CODE[code];
}

export class MobgetError extends Error {
  readonly exitCode: number;
  constructor(
    readonly code: MobgetErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'MobgetError';
    this.exitCode = EXIT_BY_CODE[code];
  }
}
