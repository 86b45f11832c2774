/**
 * The programs of other people that the interoperability tests drive for
 * real: where they are, which version they are, and free ports for them.
 * A missing program is an error with the package to install, never a skip:
 * `pnpm test` installs them first (scripts/ensure-tools.mjs).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** program → Debian package, as in scripts/ensure-tools.mjs */
export const TOOLS = { curl: 'curl', wget: 'wget', aria2c: 'aria2', nginx: 'nginx', squid: 'squid', python3: 'python3' } as const;
export type Tool = keyof typeof TOOLS;

// nginx and squid live in /usr/sbin, which a non-root PATH often lacks.
const SEARCH = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);

/** The absolute path of a program, or an error that says how to install it. */
export function tool(name: Tool): string {
  for (const dir of SEARCH) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  throw new Error(`${name} is not installed: this test drives it for real. Run \`node scripts/ensure-tools.mjs\` as root (it runs apt-get), or \`apt-get install ${TOOLS[name]}\``);
}

/** One line per program: what the README's compatibility table lists. */
export function toolVersions(): Record<Tool | 'node', string> {
  // nginx -v writes to stderr, the others to stdout.
  // A missing program is reported here, and fails the tests that drive it.
  const first = (name: Tool, flag: string): string => {
    let p: string;
    try {
      p = tool(name);
    } catch {
      return `not installed (Debian package ${TOOLS[name]})`;
    }
    const r = spawnSync(p, [flag], { encoding: 'utf8', timeout: 10_000 });
    return `${r.stdout}${r.stderr}`.trim().split('\n')[0]!.trim();
  };
  return {
    curl: first('curl', '--version'),
    wget: first('wget', '--version'),
    aria2c: first('aria2c', '--version'),
    nginx: first('nginx', '-v'),
    squid: first('squid', '-v'),
    python3: first('python3', '--version'),
    node: `Node.js ${process.version}`,
  };
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects after timeoutMs or when `alive()` turns false. */
export async function waitForPort(port: number, opts: { timeoutMs?: number; alive?: () => boolean; what?: string } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (opts.alive && !opts.alive()) throw new Error(`${opts.what ?? 'the process'} exited before it listened on 127.0.0.1:${port}`);
    if (Date.now() > deadline) throw new Error(`${opts.what ?? 'the process'} did not listen on 127.0.0.1:${port} in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
