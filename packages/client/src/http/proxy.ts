/**
 * Which forward proxy to use for a URL: `--proxy`, else `http_proxy` /
 * `HTTP_PROXY`, minus the hosts in `no_proxy` / `NO_PROXY` (comma-separated
 * names or domain suffixes, optional port, `*` for all), as curl and wget
 * read them. Pure: the environment is passed in.
 */

export function proxyFor(target: URL, explicit: string | undefined, env: NodeJS.ProcessEnv): URL | undefined {
  const raw = explicit ?? env.http_proxy ?? env.HTTP_PROXY;
  if (raw === undefined || raw === '') return undefined;
  if (explicit === undefined && bypassed(target, env.no_proxy ?? env.NO_PROXY ?? '')) return undefined;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  const url = new URL(withScheme);
  if (url.protocol !== 'http:') throw new TypeError(`only http:// proxies are supported, not ${url.protocol}`);
  return url;
}

function bypassed(target: URL, list: string): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || '80';
  for (const item of list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (item === '*') return true;
    // host, host:port, [v6]:port, or a bare IPv6 address (several colons)
    const m = (item.split(':').length > 2 && !item.startsWith('[') ? [item, item, undefined] : /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(item)) as Array<string | undefined> | null;
    if (!m) continue;
    const name = m[1]!.replace(/^\[|\]$/g, '').replace(/^\*?\./, '.');
    if (m[2] !== undefined && m[2] !== port) continue;
    if (host === name.replace(/^\./, '') || (name.startsWith('.') ? host.endsWith(name) : host.endsWith(`.${name}`))) return true;
  }
  return false;
}
