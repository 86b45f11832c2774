import { proxyFor } from '../src/http/proxy.js';

const u = (s: string) => new URL(s);

describe('proxyFor: --proxy, http_proxy and no_proxy as curl and wget read them', () => {
  it.each([
    ['no proxy anywhere', 'http://example.com/x', undefined, {}, undefined],
    ['--proxy wins', 'http://example.com/x', 'http://p:3128', { http_proxy: 'http://q:1' }, 'http://p:3128/'],
    ['http_proxy', 'http://example.com/x', undefined, { http_proxy: 'http://q:8080' }, 'http://q:8080/'],
    ['HTTP_PROXY', 'http://example.com/x', undefined, { HTTP_PROXY: 'q:8080' }, 'http://q:8080/'],
    ['no_proxy exact host', 'http://example.com/x', undefined, { http_proxy: 'q:1', no_proxy: 'example.com' }, undefined],
    ['no_proxy domain suffix', 'http://a.example.com/x', undefined, { http_proxy: 'q:1', no_proxy: '.example.com' }, undefined],
    ['no_proxy bare domain covers subdomains', 'http://a.example.com/x', undefined, { http_proxy: 'q:1', no_proxy: 'example.com' }, undefined],
    ['no_proxy does not match a longer name', 'http://notexample.com/x', undefined, { http_proxy: 'q:1', no_proxy: 'example.com' }, 'http://q:1/'],
    ['no_proxy with port, other port', 'http://127.0.0.1:8080/x', undefined, { http_proxy: 'q:1', no_proxy: '127.0.0.1:9000' }, 'http://q:1/'],
    ['no_proxy with port, same port', 'http://127.0.0.1:8080/x', undefined, { http_proxy: 'q:1', NO_PROXY: '127.0.0.1:8080' }, undefined],
    ['no_proxy *', 'http://h/x', undefined, { http_proxy: 'q:1', no_proxy: '*' }, undefined],
    ['no_proxy IPv6', 'http://[::1]:80/x', undefined, { http_proxy: 'q:1', no_proxy: '::1' }, undefined],
    ['--proxy ignores no_proxy', 'http://h/x', 'http://p:1', { no_proxy: '*' }, 'http://p:1/'],
    ['empty http_proxy is none', 'http://h/x', undefined, { http_proxy: '' }, undefined],
  ])('%s', (_label, target, explicit, env, want) => {
    expect(proxyFor(u(target), explicit, env as NodeJS.ProcessEnv)?.href).toBe(want);
  });

  it('refuses a non-http proxy with a TypeError', () => {
    expect(() => proxyFor(u('http://h/x'), 'https://p:443', {})).toThrow(TypeError);
  });
});
