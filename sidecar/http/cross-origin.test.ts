import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossSiteRefusal } from './cross-origin.js';

const host = '127.0.0.1:8080';

test('API clients and same-origin pages pass; reads pass whatever their origin', () => {
  assert.equal(crossSiteRefusal('POST', { host }), undefined, 'curl, the Node client, nginx: no Origin');
  assert.equal(crossSiteRefusal('POST', { host, origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' }), undefined);
  assert.equal(crossSiteRefusal('DELETE', { host, 'sec-fetch-site': 'none' }), undefined, 'typed into the address bar');
  const proxied = { host: '127.0.0.1:8080', origin: 'https://console.example', 'sec-fetch-site': 'same-origin' };
  assert.equal(crossSiteRefusal('DELETE', proxied), undefined, 'the console behind a proxy that rewrites Host');
  for (const method of ['GET', 'HEAD', 'OPTIONS'])
    assert.equal(crossSiteRefusal(method, { host, origin: 'https://evil.example' }), undefined);
});

test('a cross-site or foreign-origin write is refused with the reason', () => {
  assert.match(crossSiteRefusal('POST', { host, 'sec-fetch-site': 'cross-site' })!, /another site/);
  assert.match(crossSiteRefusal('POST', { host, 'sec-fetch-site': 'same-site' })!, /another site/, 'another port of the same host');
  assert.match(crossSiteRefusal('POST', { host, origin: 'https://evil.example' })!, /evil\.example/);
  assert.match(crossSiteRefusal('DELETE', { host, origin: 'http://127.0.0.1:9090' })!, /another origin/);
  assert.match(crossSiteRefusal('POST', { host, origin: 'null' })!, /opaque/);
  assert.match(crossSiteRefusal('POST', { host, origin: 'not a url' })!, /malformed/);
  assert.match(crossSiteRefusal('POST', { origin: 'http://127.0.0.1:8080' })!, /another origin/, 'no Host to compare with');
});

test('through the HTTP server: a foreign page cannot issue, a same-origin one and a plain client can', async () => {
  const { HttpServer } = await import('./http-server.js');
  const { Metrics } = await import('../metrics/metrics.js');
  const { silentLogger } = await import('../util/logger.js');
  let issued = 0;
  const service = { issue: async () => ({ token: 't', jti: 'j', subject: 's', kind: 'session', expiresAt: null, issued: ++issued }) };
  const metrics = new Metrics(
    { mirrorSize: () => 0, mirrorLagMs: () => 0, journalPending: () => 0, storeState: () => 'connected' },
    { defaultMetrics: false },
  );
  const http = new HttpServer({
    service: service as never,
    metrics,
    logger: silentLogger(),
    maxBodyBytes: 16 * 1024,
    trustedProxies: [],
    cookieName: 'tokensync',
    ready: () => true,
    health: () => ({ status: 'ok', store: 'connected', mirror: 0, lagMs: 0, journalPending: 0 }),
    cluster: async () => ({}),
  });
  const { port } = await http.listen('127.0.0.1', 0);
  try {
    const post = (headers: Record<string, string>) =>
      fetch(`http://127.0.0.1:${port}/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', ...headers },
        body: '{"subject":"alice"}',
      });
    const foreign = await post({ origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal(((await foreign.json()) as { error: string }).error, 'request.cross_site');
    assert.equal(issued, 0, 'nothing issued');
    assert.equal((await post({ origin: `http://127.0.0.1:${port}` })).status, 201);
    assert.equal((await post({})).status, 201);
    assert.equal(issued, 2);
  } finally {
    await http.close(100);
  }
});
