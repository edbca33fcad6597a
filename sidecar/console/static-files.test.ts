import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Metrics } from '../metrics/metrics.js';
import type { TokenService } from '../service/token-service.js';
import { silentLogger } from '../util/logger.js';
import { HttpServer } from '../http/http-server.js';
import { CONSOLE_FILES } from './console-route.js';

/**
 * The console's files as the sidecar serves them, through the real HTTP server and route table, with the files
 * the build put in dist/sidecar/console/ui: headers, GET and HEAD only, 404s, and no path that leaves the folder.
 */

const ADMIN = 'unit-test-admin-token';
const metrics = new Metrics(
  { mirrorSize: () => 0, mirrorLagMs: () => 0, journalPending: () => 0, storeState: () => 'connected' },
  { defaultMetrics: false },
);
const http = new HttpServer({
  service: {} as TokenService,
  metrics,
  logger: silentLogger(),
  maxBodyBytes: 16 * 1024,
  trustedProxies: [],
  cookieName: 'tokensync',
  adminToken: () => ADMIN,
  ready: () => true,
  health: () => ({ status: 'ok', store: 'connected', mirror: 0, lagMs: 0, journalPending: 0 }),
  cluster: async () => ({}),
});
let port = 0;

before(async () => {
  port = (await http.listen('127.0.0.1', 0)).port;
});

after(() => http.close(100));

/** A raw request target, sent as written (node:http does not normalise `..` or percent-escapes). */
function send(
  method: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: target, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET /console/ is the page, with a strict CSP, no framing, nosniff, and no admin token needed', async () => {
  const res = await send('GET', '/console/');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(res.body, await readFile(join(CONSOLE_FILES, 'index.html'), 'utf8'));
  const csp = String(res.headers['content-security-policy']);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /style-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /form-action 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  assert.equal(res.headers['x-frame-options'], 'DENY');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['referrer-policy'], 'no-referrer');
  assert.equal(res.headers['access-control-allow-origin'], undefined);
});

test('the page has no inline script or style, and loads nothing from another origin', async () => {
  const html = (await send('GET', '/console/index.html')).body;
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src');
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
});

test('scripts and the style sheet get their types; HEAD answers the same headers with no body', async () => {
  const js = await send('GET', '/console/main.js');
  assert.equal(js.status, 200);
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  const head = await send('HEAD', '/console/main.js');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(head.headers['content-length'], js.headers['content-length']);
  assert.equal(head.headers['content-security-policy'], js.headers['content-security-policy']);
  assert.equal((await send('GET', '/console/console.css')).headers['content-type'], 'text/css; charset=utf-8');
});

test('GET and HEAD only: any other method is 405 with Allow', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const res = await send(method, '/console/index.html');
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.allow, 'GET, HEAD', method);
  }
});

test('a file that is not there is 404, with the same headers', async () => {
  for (const target of ['/console/nothing.js', '/console/main.ts', '/console/main.js.map', '/console/.hidden', '/console/README']) {
    const res = await send('GET', target);
    assert.equal(res.status, 404, target);
    assert.equal(res.headers['x-frame-options'], 'DENY', target);
  }
});

test('no path leaves the folder: dot segments, encoded or not, backslashes, NUL, sub-folders', async () => {
  const targets = [
    '/console/../package.json',
    '/console/../../../../package.json',
    '/console/%2e%2e/%2e%2e/%2e%2e/package.json',
    '/console/%2E%2E%2Fhttp%2Fhttp-server.js',
    '/console/..%2f..%2fhttp%2fhttp-server.js',
    '/console/..\\..\\package.json',
    '/console/ui/index.html',
    '/console//etc/passwd',
    '/console/index.html%00.js',
    '/console/%252e%252e/package.json',
    '/console/../v1/cluster',
  ];
  for (const target of targets) {
    const res = await send('GET', target);
    assert.equal(res.status, 404, target);
    assert.doesNotMatch(res.body, /"name"|import |node:/, target);
  }
});

test('/console redirects to /console/; /consolex is no console path; the admin API still needs its token', async () => {
  const res = await send('GET', '/console');
  assert.equal(res.status, 308);
  assert.equal(res.headers.location, '/console/');
  assert.equal((await send('GET', '/consolex')).status, 404);
  assert.equal((await send('GET', '/v1/stats')).status, 401);
});

test('GET /v1/stats: running totals of this node, with the admin token', async () => {
  metrics.validation(undefined);
  metrics.validation('revoked');
  metrics.issue('api');
  metrics.revocation('subject');
  const res = await send('GET', '/v1/stats', { authorization: `Bearer ${ADMIN}` });
  assert.equal(res.status, 200, res.body);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  assert.ok(!Number.isNaN(Date.parse(String(body.at))));
  assert.equal(body.store, 'connected');
  assert.deepEqual(body.validations, {
    valid: 1,
    refused: { malformed: 0, bad_signature: 0, expired: 0, revoked: 1, idle_timeout: 0, ip_mismatch: 0, consumed: 0 },
  });
  assert.deepEqual(body.issued, { session: 0, api: 1, onetime: 0 });
  assert.deepEqual(body.revocations, { token: 0, subject: 1 });
  assert.equal(body.lastLogout, null);
});
