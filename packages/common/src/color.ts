/**
 * The one place colour is decided, for both command lines: chalk is used
 * only through this module, so NO_COLOR, FORCE_COLOR, --no-color and tests
 * are handled once. (ESM-only chalk 5; never imported by library code.)
 */
import { Chalk, type ChalkInstance } from 'chalk';

export type Palette = ChalkInstance;

/** NO_COLOR (https://no-color.org): any non-empty value turns colour off. */
export function makePalette(opts: { color?: boolean; stream?: NodeJS.WriteStream } = {}): Palette {
  const env = process.env;
  let level: 0 | 1 | 2 | 3;
  if (opts.color === false || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) level = 0;
  else if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') level = 1;
  else level = (opts.stream ?? process.stdout).isTTY ? 1 : 0;
  return new Chalk({ level });
}
