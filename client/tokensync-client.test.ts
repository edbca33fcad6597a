import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer as createHttpServer, type ClientRequestArgs } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { SidecarProcess, runCli, tempDir, writeProperties } from '../integration-tests/support/sidecar-process.js';
import { request } from '../integration-tests/support/http.js';
import { TokenCodec } from '../sidecar/tokens/token-codec.js';
import { readSecretFile } from '../sidecar/tokens/secret-file.js';
import type { RefusalReason as SidecarRefusalReason } from '../sidecar/tokens/token-claims.js';
import type { TokenKind as SidecarTokenKind } from '../sidecar/store/token-record.js';
import { TokensyncClient, TokensyncClientError, type RefusalReason, type TokenKind, type TokenRecord } from './index.js';

/**
 * The client against a real sidecar process (DIRECTORY store, admin token
 * set), so every typed result is checked against what the API really sends.
 */

// The client's unions must stay the sidecar's: this fails to compile when either side changes alone.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const reasonsMatch: Same<RefusalReason, SidecarRefusalReason> = true;
const kindsMatch: Same<TokenKind, SidecarTokenKind> = true;
void reasonsMatch;
void kindsMatch;

const ADMIN = randomBytes(24).toString('base64url');
let dir: string;
let secretPath: string;
let sidecar: SidecarProcess;
let client: TokensyncClient;

before(async () => {
  dir = await tempDir('tokensync-client-');
  secretPath = join(dir, 'token_secret');
  await writeFile(join(dir, 'admin_token'), ADMIN, { mode: 0o600 });
  const cliProps = await writeProperties(join(dir, 'cli.properties'), {
    'authentication.token.secret.file': secretPath,
    'app.data.dir': join(dir, 'cli'),
  });
  const gen = await runCli(['secret', 'generate', '--config', cliProps]);
  assert.equal(gen.code, 0, gen.stderr);
  sidecar = await new SidecarProcess({
    nodeId: 'client-test',
    dir,
    props: {
      'app.data.dir': join(dir, 'appdata'),
      'authentication.token.secret.file': secretPath,
      'sidecar.admin.token.file': join(dir, 'admin_token'),
    },
  }).start();
  client = new TokensyncClient({ url: sidecar.url, adminToken: ADMIN });
});

after(async () => {
  client?.close();
  await sidecar?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('issue, then validate: typed results as the API sends them', async () => {
  const issued = await client.issue('alice', { attributes: { role: 'admin' } });
  assert.equal(issued.subject, 'alice');
  assert.equal(issued.kind, 'session');
  assert.equal(issued.replicated, true);
  assert.match(issued.jti, /^s\./);
  assert.ok(issued.expiresAt && !Number.isNaN(Date.parse(issued.expiresAt)));
  assert.match(issued.setCookie, /^tokensync=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax; Max-Age=\d+$/);

  const v = await client.validate(issued.token);
  assert.equal(v.valid, true);
  if (!v.valid) return;
  assert.deepEqual(
    { subject: v.subject, jti: v.jti, kind: v.kind, expiresAt: v.expiresAt },
    { subject: 'alice', jti: issued.jti, kind: 'session', expiresAt: issued.expiresAt },
  );
  assert.equal(v.reissued, undefined);

  const api = await client.issue('alice', { kind: 'api' });
  assert.equal(api.expiresAt, null);
});

test('a refused token is a result, not an error', async () => {
  const garbage = await client.validate('not-a-token');
  assert.deepEqual({ valid: garbage.valid, reason: !garbage.valid && garbage.reason }, { valid: false, reason: 'malformed' });
  assert.ok(!garbage.valid && garbage.message.length > 0);

  const { token } = await client.issue('bob');
  const [h, p] = token.split('.');
  const forged = await client.validate(`${h}.${p}.${randomBytes(32).toString('base64url')}`);
  assert.equal(!forged.valid && forged.reason, 'bad_signature');
});

test('revoke: true, then the token is refused; revoking again answers false', async () => {
  const { token, jti } = await client.issue('carol');
  assert.deepEqual(await client.revoke(jti), { revoked: true, replicated: true });
  const v = await client.validate(token);
  assert.equal(!v.valid && v.reason, 'revoked');
  assert.deepEqual(await client.revoke(jti), { revoked: false, replicated: true });
});

test('logout everywhere: acknowledged by the member, every earlier token refused', async () => {
  const a = await client.issue('dave');
  const b = await client.issue('dave', { kind: 'api' });
  const out = await client.logout('dave');
  assert.equal(out.revoked, 2);
  assert.equal(out.replicated, true);
  assert.deepEqual(out.acknowledgedBy, ['client-test']);
  assert.deepEqual(out.notYetAcknowledgedBy, []);
  assert.equal(out.gen, 1, 'the first logout of the subject');
  assert.ok(!Number.isNaN(Date.parse(out.at)));
  for (const t of [a, b]) {
    const v = await client.validate(t.token);
    assert.equal(!v.valid && v.reason, 'revoked');
  }
  assert.equal((await client.validate((await client.issue('dave')).token)).valid, true);
});

test('inspect and list, page by page and all at once', async () => {
  const issued = [];
  for (let i = 0; i < 5; i++) issued.push(await client.issue('erin', { kind: i % 2 ? 'api' : 'session' }));
  const record = await client.inspect(issued[0]!.jti);
  assert.ok(record);
  assert.equal(record.subject, 'erin');
  assert.equal(record.node, 'client-test');
  assert.ok(!Number.isNaN(Date.parse(record.issuedAt)));
  assert.equal(await client.inspect('s.AAAAAAAAAAAAAAAAAAAAAA'), undefined);

  const first = await client.list({ subject: 'erin', limit: 2 });
  assert.equal(first.items.length, 2);
  assert.equal(typeof first.nextCursor, 'string');
  const all: TokenRecord[] = [];
  for await (const r of client.listAll({ subject: 'erin', limit: 2 })) all.push(r);
  assert.deepEqual(all.map((r) => r.jti).sort(), issued.map((t) => t.jti).sort());
  const apiOnly = await client.list({ subject: 'erin', kind: 'api' });
  assert.deepEqual(
    apiOnly.items.map((r) => r.kind),
    ['api', 'api'],
  );
  assert.equal(apiOnly.nextCursor, null);
});

test('consume: once, then consumed; consuming a session token is a 400 error', async () => {
  const otp = await client.issue('frank', { kind: 'onetime' });
  const first = await client.consume(otp.token);
  assert.equal(first.valid, true);
  const second = await client.consume(otp.token);
  assert.equal(!second.valid && second.reason, 'consumed');
  const session = await client.issue('frank');
  await assert.rejects(client.consume(session.token), (err: unknown) => {
    assert.ok(err instanceof TokensyncClientError);
    assert.equal(err.status, 400);
    assert.equal(err.code, 'request.kind');
    assert.equal(err.request, 'POST /v1/tokens/consume');
    return true;
  });
});

test('validate only peeks at a one-time token (consumed: false); authenticate uses it up: one grant, then consumed, also at /v1/auth', async () => {
  const otp = await client.issue('gwen', { kind: 'onetime' });
  for (let i = 0; i < 2; i++) {
    const peek = await client.validate(otp.token);
    assert.deepEqual(peek.valid && { kind: peek.kind, consumed: peek.consumed, subject: peek.subject }, {
      kind: 'onetime',
      consumed: false,
      subject: 'gwen',
    });
  }
  const granted = await client.authenticate(otp.token);
  assert.deepEqual(granted.valid && { kind: granted.kind, consumed: granted.consumed, jti: granted.jti }, {
    kind: 'onetime',
    consumed: true,
    jti: otp.jti,
  });
  const again = await client.authenticate(otp.token);
  assert.equal(!again.valid && again.reason, 'consumed');
  const atAuth = await request(sidecar.url, 'GET', '/v1/auth', { headers: { cookie: `tokensync=${otp.token}` } });
  assert.deepEqual([atAuth.status, atAuth.headers['x-auth-reason']], [401, 'consumed']);

  // Racing: of 6 authenticate calls with one token, one is granted.
  const raced = await client.issue('gwen', { kind: 'onetime' });
  const results = await Promise.all(Array.from({ length: 6 }, () => client.authenticate(raced.token)));
  assert.equal(results.filter((r) => r.valid).length, 1);
  assert.ok(results.every((r) => r.valid || r.reason === 'consumed'));

  // Other kinds: the same answer as validate, one request, nothing used up.
  const session = await client.issue('gwen');
  const v = await client.authenticate(session.token);
  assert.deepEqual(v.valid && { kind: v.kind, consumed: v.consumed }, { kind: 'session', consumed: undefined });
  assert.equal((await client.authenticate(session.token)).valid, true);
});

test('mirror: a token the application signed itself with the shared secret; 201 then 200', async () => {
  const codec = new TokenCodec(await readSecretFile(secretPath));
  const now = Date.now();
  const jti = `app-${randomBytes(8).toString('hex')}`;
  const token = codec.sign({ sub: 'gina', jti, knd: 'session', iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 3600, ath: now });
  assert.equal((await client.validate(token)).valid, false);
  const mirrored = await client.mirror(token);
  assert.equal(mirrored.created, true);
  assert.equal(mirrored.jti, jti);
  assert.equal(mirrored.subject, 'gina');
  assert.equal((await client.mirror(token)).created, false);
  assert.equal((await client.validate(token)).valid, true);
});

test('sidecar errors are TokensyncClientError with the status and the {error} code', async () => {
  await assert.rejects(client.issue('hal', { ttl: -5 }), { name: 'TokensyncClientError', status: 400, code: 'request.ttl' });
  await assert.rejects(client.issue('hal', { kind: 'api', ttl: 60 }), { status: 400, code: 'request.ttl' });
  await assert.rejects(client.issue(''), { status: 400, code: 'request.subject' });
  await assert.rejects(client.inspect('not a jti'), { status: 400, code: 'request.jti' });
  await assert.rejects(client.revoke('..'), TypeError);
});

test('admin endpoints need the admin token; validate does not', async () => {
  const anonymous = new TokensyncClient({ url: sidecar.url });
  try {
    await assert.rejects(anonymous.issue('ivan'), (err: unknown) => {
      assert.ok(err instanceof TokensyncClientError);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'admin.unauthorized');
      return true;
    });
    await assert.rejects(anonymous.list(), { status: 401, code: 'admin.unauthorized' });
    const { token } = await client.issue('ivan');
    assert.equal((await anonymous.validate(token)).valid, true);
    const rotating = new TokensyncClient({ url: sidecar.url, adminToken: () => ADMIN });
    assert.equal((await rotating.issue('ivan')).subject, 'ivan');
    rotating.close();
  } finally {
    anonymous.close();
  }
});

test('health and readiness', async () => {
  assert.equal((await client.health()).status, 'ok');
  assert.equal(await client.ready(), true);
});

test('keep-alive: sequential calls share one connection', async () => {
  class CountingAgent extends Agent {
    connections = 0;
    override createConnection(options: ClientRequestArgs, cb?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
      this.connections++;
      return super.createConnection(options, cb);
    }
  }
  const agent = new CountingAgent({ keepAlive: true, maxSockets: 4 });
  const c = new TokensyncClient({ url: sidecar.url, adminToken: ADMIN, agent });
  const { token } = await c.issue('judy');
  for (let i = 0; i < 20; i++) assert.equal((await c.validate(token)).valid, true);
  assert.equal(agent.connections, 1);
  c.close(); // not the client's agent: left open
  assert.equal((await c.validate(token)).valid, true);
  agent.destroy();
});

test('timeouts, unreachable sidecars and aborts are TokensyncClientError with status 0', async () => {
  // A peer that accepts connections and never answers.
  const sockets = new Set<Socket>();
  const silent: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  try {
    const slow = new TokensyncClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 200 });
    const started = Date.now();
    await assert.rejects(slow.validate('x'), (err: unknown) => {
      assert.ok(err instanceof TokensyncClientError);
      assert.equal(err.status, 0);
      assert.equal(err.code, 'client.timeout');
      assert.equal(err.retryable, true);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
    await assert.rejects(slow.health({ timeoutMs: 50 }), { code: 'client.timeout' });
    const controller = new AbortController();
    const pending = slow.validate('x', {}, { signal: controller.signal, timeoutMs: 10_000 });
    controller.abort();
    await assert.rejects(pending, { code: 'client.aborted', status: 0 });
    slow.close();
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  }
  // The port is closed now: nothing listens there.
  const gone = new TokensyncClient({ url: `http://127.0.0.1:${port}` });
  await assert.rejects(gone.validate('x'), { code: 'client.unreachable', status: 0 });
  gone.close();
});

test('an answer that starts and then stalls still times out; one that breaks off is client.unreachable', async () => {
  const stalling = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
    res.write('{"status":'); // and nothing more
  });
  await new Promise<void>((r) => stalling.listen(0, '127.0.0.1', r));
  const c = new TokensyncClient({ url: `http://127.0.0.1:${(stalling.address() as { port: number }).port}`, timeoutMs: 200 });
  try {
    await assert.rejects(c.health(), { code: 'client.timeout', status: 0 });
    const breaking = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"status":', () => res.socket?.destroy());
    });
    await new Promise<void>((r) => breaking.listen(0, '127.0.0.1', r));
    const b = new TokensyncClient({ url: `http://127.0.0.1:${(breaking.address() as { port: number }).port}`, timeoutMs: 2000 });
    await assert.rejects(b.health(), { code: 'client.unreachable', status: 0 });
    b.close();
    breaking.closeAllConnections();
    await new Promise((r) => breaking.close(r));
  } finally {
    c.close();
    stalling.closeAllConnections();
    await new Promise((r) => stalling.close(r));
  }
});

test('a base URL with a path (the sidecar behind a path-routing proxy) prefixes every call', async () => {
  const paths: string[] = [];
  const recorder = createHttpServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
  await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
  const c = new TokensyncClient({ url: `http://127.0.0.1:${(recorder.address() as { port: number }).port}/tokensync/` });
  try {
    await c.health();
    assert.deepEqual(paths, ['/tokensync/healthz']);
  } finally {
    c.close();
    await new Promise((r) => recorder.close(r));
  }
  assert.throws(() => new TokensyncClient({ url: 'ftp://127.0.0.1/' }), TypeError);
});
