import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { BadRequestError } from '../errors/bad-request-error.js';
import { Metrics } from '../metrics/metrics.js';
import type { IssueRequest, IssuedToken, TokenService } from '../service/token-service.js';
import { silentLogger } from '../util/logger.js';
import { HttpServer } from './http-server.js';

/**
 * `POST /v1/tokens` is dispatched before the route table. Whatever way a request reaches the issue route (the
 * exact target, or a target the table matches: a query string), the answer is the same, byte for byte but the
 * Date header: status, header lines in order, body; the admin token is required; malformed bodies are 400s;
 * the request is timed under the route `issue`.
 */

const ISSUED: IssuedToken = {
  token: 'aaa.bbb.ccc',
  jti: 's.AAAAAAAAAAAAAAAAAAAAAA',
  kind: 'session',
  subject: 'alice "the first" \u00e9',
  expiresAt: Date.UTC(2026, 0, 8, 12, 0, 0),
  setCookie: 'tokensync=aaa.bbb.ccc; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=604800',
  replicated: true,
};

const issued: IssueRequest[] = [];
const service = {
  issue: async (req: IssueRequest) => {
    issued.push(req);
    if (req.subject === 'store-down') throw new BadRequestError('no', 'request.invalid', 400);
    return { ...ISSUED, subject: req.subject, kind: req.kind, expiresAt: req.kind === 'api' ? null : ISSUED.expiresAt };
  },
  mirrorToken: async () => {
    throw new BadRequestError('token refused (malformed): test', 'token.malformed');
  },
} as unknown as TokenService;

let adminToken: string | undefined;
const metrics = new Metrics(
  { mirrorSize: () => 0, mirrorLagMs: () => 0, journalPending: () => 0, storeState: () => 'connected' },
  { defaultMetrics: false },
);
const http = new HttpServer({
  service,
  metrics,
  logger: silentLogger(),
  maxBodyBytes: 64 * 1024,
  trustedProxies: [],
  cookieName: 'tokensync',
  adminToken: () => adminToken,
  ready: () => true,
  health: () => ({ status: 'ok' }),
  cluster: async () => ({}),
});
let port = 0;

before(async () => {
  port = (await http.listen('127.0.0.1', 0)).port;
});
after(async () => {
  await http.close(0);
});

interface Answer {
  status: number;
  /** Raw header lines in order, without Date. */
  headers: string[];
  body: string;
}

function send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = res.rawHeaders;
        const lines: string[] = [];
        for (let i = 0; i < raw.length; i += 2) if (raw[i] !== 'Date') lines.push(`${raw[i]}: ${raw[i + 1]}`);
        resolve({ status: res.statusCode!, headers: lines, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The same request by the exact target (dispatched first) and by targets only the route table matches. */
async function bothWays(body: string | undefined, headers: Record<string, string> = {}): Promise<Answer> {
  const direct = await send('POST', '/v1/tokens', body, headers);
  for (const target of ['/v1/tokens?', '/v1/tokens?x=1']) {
    assert.deepEqual(await send('POST', target, body, headers), direct, `${target} answers as /v1/tokens`);
  }
  return direct;
}

function issueCount(text: string): number {
  const m = /^tokensync_http_request_duration_seconds_count\{route="issue"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

test('an issued token: 201, the JSON body and headers as before, either way the request reaches the route', async () => {
  adminToken = undefined;
  const answer = await bothWays(JSON.stringify({ subject: ISSUED.subject }));
  assert.equal(answer.status, 201);
  const body = JSON.stringify({
    token: ISSUED.token,
    jti: ISSUED.jti,
    kind: 'session',
    subject: ISSUED.subject,
    expiresAt: '2026-01-08T12:00:00.000Z',
    setCookie: ISSUED.setCookie,
    replicated: true,
  });
  assert.equal(answer.body, body);
  assert.deepEqual(answer.headers, [
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'Connection: keep-alive',
    'Keep-Alive: timeout=65',
  ]);
  const api = await bothWays(JSON.stringify({ subject: 'bob', kind: 'api' }));
  assert.equal(JSON.parse(api.body).expiresAt, null);
  assert.equal(JSON.parse(api.body).kind, 'api');
  assert.equal(issued.at(-1)!.kind, 'api');
});

test('refusals are the same either way: malformed JSON, a bad field, a refused mirror, an error of the service', async () => {
  adminToken = undefined;
  for (const body of [
    '{',
    '',
    '[]',
    JSON.stringify({ subject: '' }),
    JSON.stringify({ subject: 'a', kind: 'x' }),
    JSON.stringify({ token: 'x' }),
    JSON.stringify({ token: 'x', subject: 'a' }),
    JSON.stringify({ subject: 'store-down' }),
  ]) {
    const answer = await bothWays(body);
    assert.equal(answer.status, 400, `${body}: ${answer.body}`);
    assert.ok(JSON.parse(answer.body).error, answer.body);
  }
  const tooLarge = await bothWays(JSON.stringify({ subject: 'x'.repeat(70 * 1024) }));
  assert.equal(tooLarge.status, 413);
});

test('the admin token is required either way', async () => {
  adminToken = 'secret-admin-token';
  try {
    const refused = await bothWays(JSON.stringify({ subject: 'alice' }));
    assert.equal(refused.status, 401);
    assert.ok(refused.headers.includes('WWW-Authenticate: Bearer realm="tokensync-admin"'), refused.headers.join('\n'));
    assert.equal(JSON.parse(refused.body).error, 'admin.unauthorized');
    const wrong = await bothWays(JSON.stringify({ subject: 'alice' }), { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    const allowed = await bothWays(JSON.stringify({ subject: 'alice' }), { authorization: 'Bearer secret-admin-token' });
    assert.equal(allowed.status, 201);
  } finally {
    adminToken = undefined;
  }
});

test('issue requests are timed under the route "issue", either way; other methods on /v1/tokens still route as before', async () => {
  adminToken = undefined;
  const before = issueCount(await metrics.registry.metrics());
  await send('POST', '/v1/tokens', JSON.stringify({ subject: 'alice' }));
  await send('POST', '/v1/tokens?a=b', JSON.stringify({ subject: 'alice' }));
  await send('POST', '/v1/tokens', '{');
  assert.equal(issueCount(await metrics.registry.metrics()), before + 3);
  assert.equal((await send('PUT', '/v1/tokens', '{}')).status, 405);
  assert.equal((await send('POST', '/v1/tokens/', '{}')).status, 404);
});

test('a 405 names the allowed methods in an Allow header (RFC 9110) and in its message', async () => {
  const put = await send('PUT', '/v1/tokens', '{}');
  assert.equal(put.status, 405);
  assert.ok(put.headers.includes('Allow: POST, GET, HEAD'), put.headers.join('\n'));
  assert.match(JSON.parse(put.body).message, /^PUT is not allowed on \/v1\/tokens \(allowed: POST, GET, HEAD\)$/);
  const onRecord = await send('POST', '/v1/tokens/s.AAAAAAAAAAAAAAAAAAAAAA', '{}');
  assert.equal(onRecord.status, 405);
  assert.ok(onRecord.headers.includes('Allow: GET, HEAD, DELETE'), onRecord.headers.join('\n'));
});
