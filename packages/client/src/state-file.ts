/**
 * The small file beside the output that lets a killed mobget resume:
 * `<output>.mobget.json`. Written atomically (temp file + rename), removed
 * when the download is verified.
 */
import * as fs from 'node:fs/promises';
import { MobgetError } from './errors.js';

export interface ResumeState {
  version: 1;
  /** What was asked for: a file name on a mobserve server, or a URL. */
  target: string;
  /** The server the name was resolved against (session mode). */
  server: string | undefined;
  clientId: string | undefined;
  etag: string | undefined;
  size: number | undefined;
  /** Hex SHA-256 announced by the server, if any. */
  sha256: string | undefined;
}

export function statePath(output: string): string {
  return `${output}.mobget.json`;
}

export async function loadState(output: string): Promise<ResumeState | undefined> {
  let text: string;
  try {
    text = await fs.readFile(statePath(output), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(text) as ResumeState;
    return s && s.version === 1 && typeof s.target === 'string' ? s : undefined;
  } catch {
    return undefined; // a torn state file is as good as none
  }
}

/** A state file that cannot be written is an output that cannot be written (disk full, no permission). */
export async function saveState(output: string, state: ResumeState): Promise<void> {
  const p = statePath(output);
  const tmp = `${p}.${process.pid}.tmp`;
  try {
    await fs.writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
    await fs.rename(tmp, p);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    const err = e as NodeJS.ErrnoException;
    throw new MobgetError('MOBGET_OUTPUT', `cannot write ${p}: ${err.code ?? err.message}`, { errno: err.code });
  }
}

export async function removeState(output: string): Promise<void> {
  await fs.rm(statePath(output), { force: true });
}
