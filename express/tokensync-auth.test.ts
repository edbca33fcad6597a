import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { SidecarProcess, tempDir } from '../integration-tests/support/sidecar-process.js';
import { request } from '../integration-tests/support/http.js';
import { waitFor } from '../sidecar/util/wait-for.js';
import { TokensyncClient, TokensyncClientError, login, logout, tokensyncAuth } from './index.js';
import type { ValidateOptions } from '../client/index.js';

/**
 * The middleware and the login/logout helpers in real Express apps on
 * loopback, against a real sidecar process (addresses bound:
 * authentication.token.require.consistent.ip=true).
 */

let sidecar: SidecarProcess;
let client: TokensyncClient;
let dir: string | undefined;
const servers: Server[] = [];

before(async () => {
  dir = await tempDir('tokensync-express-');
  sidecar = await new SidecarProcess({
    nodeId: 'express-test',
    dir,
    props: { 'app.data.dir': join(dir, 'appdata'), 'authentication.token.require.consistent.ip': true },
  }).start();
  client = new TokensyncClient({ url: sidecar.url });
});

after(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  client?.close();
  await sidecar?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function serve(app: Express): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An app: /me needs a token, /maybe does not, /login and /logout use the helpers. */
function app(options: { required?: boolean; client?: TokensyncClient; trustProxy?: boolean } = {}): Express {
  const a = express();
  if (options.trustProxy) a.set('trust proxy', 'loopback');
  const optional = tokensyncAuth({ client: options.client ?? client, required: false });
  const required = tokensyncAuth({ client: optional.client });
  a.use(express.urlencoded({ extended: false }));
  a.post('/login', optional, async (req, res) => {
    const issued = await login(res, String(req.body.username));
    res.json({ subject: req.auth?.subject, jti: issued.jti });
  });
  a.post('/logout', optional, async (req, res) => {
    res.json(await logout(req, res, { everywhere: req.query.everywhere === '1' }));
  });
  a.get('/maybe', optional, (req, res) => {
    res.json({ auth: req.auth ?? null });
  });
  a.get('/me', optional, required, (req, res) => {
    res.json(req.auth);
  });
  a.get('/strict', tokensyncAuth({ client: optional.client, bearer: false }), (req, res) => {
    res.json(req.auth);
  });
  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    res
      .status(err instanceof TokensyncClientError ? 503 : 500)
      .json({ error: err instanceof TokensyncClientError ? err.code : String(err) });
  };
  a.use(onError);
  return a;
}

function setCookies(headers: Record<string, string | string[] | undefined>): string[] {
  const v = headers['set-cookie'];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function cookieOf(headers: Record<string, string | string[] | undefined>): string {
  const c = setCookies(headers).find((h) => /^tokensync=[^;]+/.test(h));
  assert.ok(c, `no tokensync cookie in ${JSON.stringify(headers['set-cookie'])}`);
  return c.slice(0, c.indexOf(';'));
}

test('required: 401 JSON with the reason and a Bearer challenge; a valid cookie or bearer token sets req.auth', async () => {
  const url = await serve(app());
  const none = await request(url, 'GET', '/me');
  assert.equal(none.status, 401);
  assert.deepEqual({ error: none.body.error, reason: none.body.reason }, { error: 'unauthorized', reason: 'malformed' });
  assert.equal(none.headers['www-authenticate'], 'Bearer realm="tokensync"');
  assert.equal(none.headers['cache-control'], 'no-store');

  const issued = await client.issue('alice', { kind: 'session', clientIp: '127.0.0.1' });
  const viaCookie = await request(url, 'GET', '/me', { headers: { cookie: `theme=dark; tokensync=${issued.token}` } });
  assert.equal(viaCookie.status, 200);
  assert.deepEqual(viaCookie.body, { subject: 'alice', jti: issued.jti, kind: 'session', expiresAt: issued.expiresAt });
  const viaBearer = await request(url, 'GET', '/me', { headers: { authorization: `Bearer ${issued.token}` } });
  assert.equal(viaBearer.body.subject, 'alice');
  const bearerOff = await request(url, 'GET', '/strict', { headers: { authorization: `Bearer ${issued.token}` } });
  assert.equal(bearerOff.status, 401);

  const dup = await request(url, 'GET', '/me', { headers: { cookie: `tokensync=${issued.token}; tokensync=planted` } });
  assert.equal(dup.status, 401);
  assert.match(dup.body.message, /more than one/);
});

test('a refused cookie: 401 naming the reason, and the cookie is deleted in the browser', async () => {
  const url = await serve(app());
  const issued = await client.issue('bob', { clientIp: '127.0.0.1' });
  await client.revoke(issued.jti);
  const res = await request(url, 'GET', '/me', { headers: { cookie: `tokensync=${issued.token}` } });
  assert.equal(res.status, 401);
  assert.equal(res.body.reason, 'revoked');
  assert.equal(res.headers['www-authenticate'], 'Bearer realm="tokensync", error="invalid_token", error_description="revoked"');
  assert.deepEqual(setCookies(res.headers), ['tokensync=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0']);
});

test('optional: the request goes on with req.auth undefined', async () => {
  const url = await serve(app());
  assert.deepEqual((await request(url, 'GET', '/maybe')).body, { auth: null });
  const bad = await request(url, 'GET', '/maybe', { headers: { cookie: 'tokensync=garbage' } });
  assert.equal(bad.status, 200);
  assert.deepEqual(bad.body, { auth: null });
});

test('an optional middleware app-wide and a required one per route ask the sidecar once', async () => {
  class CountingClient extends TokensyncClient {
    validations = 0;
    override validate(token: string, options?: ValidateOptions) {
      this.validations++;
      return super.validate(token, options);
    }
  }
  const counting = new CountingClient({ url: sidecar.url });
  const url = await serve(app({ client: counting }));
  const issued = await client.issue('carol', { clientIp: '127.0.0.1' });
  const res = await request(url, 'GET', '/me', { headers: { cookie: `tokensync=${issued.token}` } });
  assert.equal(res.body.subject, 'carol');
  assert.equal(counting.validations, 1);
  counting.close();
});

test('a one-time token authenticates one request (app-wide optional + per-route required: consumed once), then 401 consumed here and at the sidecar', async () => {
  const url = await serve(app());
  const otp = await client.issue('olga', { kind: 'onetime', clientIp: '127.0.0.1' });
  const first = await request(url, 'GET', '/me', { headers: { cookie: `tokensync=${otp.token}` } });
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(first.body, { subject: 'olga', jti: otp.jti, kind: 'onetime', expiresAt: otp.expiresAt });
  for (const path of ['/me', '/maybe']) {
    const again = await request(url, 'GET', path, { headers: { authorization: `Bearer ${otp.token}` } });
    if (path === '/me') assert.deepEqual([again.status, again.body.reason], [401, 'consumed']);
    else assert.deepEqual(again.body, { auth: null });
  }
  const atSidecar = await request(sidecar.url, 'GET', '/v1/auth', { headers: { cookie: `tokensync=${otp.token}` } });
  assert.deepEqual([atSidecar.status, atSidecar.headers['x-auth-reason']], [401, 'consumed']);
});

test('one-time tokens presented at once to two apps (each with its own client) and at the sidecar: one request through per token', async () => {
  const other = new TokensyncClient({ url: sidecar.url });
  const urls = [await serve(app()), await serve(app({ client: other }))];
  for (let round = 0; round < 10; round++) {
    const otp = await client.issue(`olga-${round}`, { kind: 'onetime', clientIp: '127.0.0.1' });
    const results = await Promise.all([
      ...[0, 1, 0, 1].map((i) => request(urls[i]!, 'GET', '/me', { headers: { cookie: `tokensync=${otp.token}` } })),
      request(sidecar.url, 'GET', '/v1/auth', { headers: { cookie: `tokensync=${otp.token}` } }),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 401, 401, 401, 401], `round ${round}`);
  }
  other.close();
});

test('a client without authenticate() is refused when the middleware is made: validating alone would let a one-time token through again and again', () => {
  const validateOnly = {
    validate: client.validate.bind(client),
    issue: client.issue.bind(client),
    revoke: client.revoke.bind(client),
    logout: client.logout.bind(client),
  };
  assert.throws(() => tokensyncAuth({ client: validateOnly as unknown as TokensyncClient }), /no authenticate\(\)/);
});

test('login sets the cookie and req.auth; logout revokes the token and deletes the cookie', async () => {
  const url = await serve(app());
  const res = await request(url, 'POST', '/login', {
    rawBody: 'username=dave',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.subject, 'dave');
  const cookie = cookieOf(res.headers);
  assert.match(setCookies(res.headers)[0]!, /; HttpOnly; Secure; SameSite=Lax; Max-Age=\d+$/);
  const me = await request(url, 'GET', '/me', { headers: { cookie } });
  assert.equal(me.body.jti, res.body.jti);
  const record = await client.inspect(res.body.jti);
  assert.equal(record?.clientIp, '127.0.0.1', 'bound to req.ip');

  const out = await request(url, 'POST', '/logout', { headers: { cookie } });
  assert.deepEqual(out.body, { revoked: 1 });
  assert.deepEqual(setCookies(out.headers), ['tokensync=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0']);
  assert.equal((await request(url, 'GET', '/me', { headers: { cookie } })).body.reason, 'revoked');
});

test('logging in again replaces the previous token; logout everywhere ends every session of the subject', async () => {
  const url = await serve(app());
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const first = cookieOf((await request(url, 'POST', '/login', { rawBody: 'username=erin', headers: form })).headers);
  const second = cookieOf(
    (await request(url, 'POST', '/login', { rawBody: 'username=erin', headers: { ...form, cookie: first } })).headers,
  );
  assert.equal((await request(url, 'GET', '/me', { headers: { cookie: first } })).body.reason, 'revoked');
  const elsewhere = cookieOf((await request(url, 'POST', '/login', { rawBody: 'username=erin', headers: form })).headers);
  const out = await request(url, 'POST', '/logout?everywhere=1', { headers: { cookie: second } });
  assert.equal(out.body.revoked, 2);
  for (const cookie of [second, elsewhere]) assert.equal((await request(url, 'GET', '/me', { headers: { cookie } })).status, 401);
});

test('trust proxy: req.ip from X-Forwarded-For binds the token; another address is refused as ip_mismatch', async () => {
  const url = await serve(app({ trustProxy: true }));
  const form = { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.5' };
  const res = await request(url, 'POST', '/login', { rawBody: 'username=frank', headers: form });
  const cookie = cookieOf(res.headers);
  assert.equal((await client.inspect(res.body.jti))?.clientIp, '203.0.113.5');
  assert.equal((await request(url, 'GET', '/me', { headers: { cookie, 'x-forwarded-for': '203.0.113.5' } })).status, 200);
  const moved = await request(url, 'GET', '/me', { headers: { cookie, 'x-forwarded-for': '198.51.100.7' } });
  assert.equal(moved.status, 401);
  assert.equal(moved.body.reason, 'ip_mismatch');
});

test('sliding expiry: the reissued token is written back as Set-Cookie (to cookie users only)', async () => {
  const url = await serve(app());
  const issued = await client.issue('gina', { ttl: 4, clientIp: '127.0.0.1' });
  let res = await request(url, 'GET', '/me', { headers: { cookie: `tokensync=${issued.token}` } });
  assert.deepEqual(setCookies(res.headers), []);
  // Past half of the 4 s lifetime (JWT times are whole seconds): poll until the sidecar reissues.
  await waitFor(
    async () => {
      res = await request(url, 'GET', '/me', { headers: { cookie: `tokensync=${issued.token}` } });
      assert.equal(res.status, 200);
      return setCookies(res.headers).length > 0;
    },
    'a reissued cookie',
    5000,
    100,
  );
  const reissued = cookieOf(res.headers);
  assert.notEqual(reissued, `tokensync=${issued.token}`);
  assert.ok(Date.parse(res.body.expiresAt) > Date.parse(issued.expiresAt!));
  assert.equal((await request(url, 'GET', '/me', { headers: { cookie: reissued } })).body.jti, issued.jti);
  const bearer = await request(url, 'GET', '/me', { headers: { authorization: `Bearer ${issued.token}` } });
  assert.equal(bearer.status, 200);
  assert.deepEqual(setCookies(bearer.headers), []);
});

test('a sidecar that cannot be reached is an error for the app to handle, never a pass', async () => {
  const gone = new TokensyncClient({ url: 'http://127.0.0.1:1', timeoutMs: 1000 });
  const url = await serve(app({ client: gone }));
  const res = await request(url, 'GET', '/maybe', { headers: { cookie: 'tokensync=whatever' } });
  assert.equal(res.status, 503);
  assert.equal(res.body.error, 'client.unreachable');
  gone.close();
});

test('login refuses loudly when the sidecar sets a cookie the middleware does not read', async () => {
  const a = express();
  a.post('/login', tokensyncAuth({ client, required: false, cookieName: 'session' }), async (_req, res) => {
    await login(res, 'hal').then(
      () => res.json({ ok: true }),
      (err: Error) => res.status(500).json({ error: err.message }),
    );
  });
  const url = await serve(a);
  const res = await request(url, 'POST', '/login');
  assert.equal(res.status, 500);
  assert.match(res.body.error, /sidecar sets cookie "tokensync" but tokensyncAuth\(\) reads "session"/);
  assert.deepEqual(setCookies(res.headers), []);
  assert.equal((await client.list({ subject: 'hal' })).items.length, 0, 'the token issued by mistake was revoked');
});
