/**
 * How every mobget command ends on an error: a line on stderr, the error as
 * JSON on stdout with --json, and the exit code of errors.ts (1 for a bug).
 */
import type { Palette } from '@mobserve/common/color';
import { EXIT, MobgetError } from '../errors.js';

export function reportError(e: unknown, json: boolean | undefined, err: Palette): number {
  const known = e instanceof MobgetError;
  const code = known ? e.code : 'MOBGET_INTERNAL';
  const exitCode = known ? e.exitCode : EXIT.INTERNAL;
  const message = known ? e.message : `unexpected error: ${(e as Error).stack ?? String(e)}`;
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message, exitCode } })}\n`);
  process.stderr.write(`${err.red('mobget:')} ${message}\n`);
  return exitCode;
}
