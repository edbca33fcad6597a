import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSecretLine } from '../sidecar/tokens/secret-file.js';
import { silentLogger } from '../sidecar/util/logger.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { request } from '../integration-tests/support/http.js';
import { tokensyncInProcess } from './in-process-entry.js';
import { tokensyncAuth } from './tokensync-auth.js';
import type { InProcessTokensync } from './in-process.js';
import { tempDir } from '../sidecar/util/test-temp-dirs.js';

// A real DIRECTORY store in a temporary folder: the in-process backend is the sidecar's service without HTTP.
let dir: string;
let ts: InProcessTokensync;

before(async () => {
  dir = await tempDir('tokensync-inprocess-unit-');
  await writeFile(join(dir, 'token_secret'), generateSecretLine() + '\n', { mode: 0o600 });
  await writeFile(
    join(dir, 'tokensync.properties'),
    [
      `node.id=web1`,
      `app.data.dir=${dir}/appdata`,
      `cluster.store.directory.path=${dir}/store`,
      `authentication.token.secret.file=${dir}/token_secret`,
    ].join('\n'),
  );
  ts = await tokensyncInProcess({ config: join(dir, 'tokensync.properties'), logger: silentLogger() });
});

after(async () => {
  await ts?.close();
  await rm(dir, { recursive: true, force: true });
});

async function recordFiles(): Promise<number> {
  let n = 0;
  for (const shard of await readdir(join(dir, 'store', 'tokens')).catch(() => [] as string[])) {
    n += (await readdir(join(dir, 'store', 'tokens', shard))).length;
  }
  return n;
}

test('defaults: node.id + "-app", a journal folder of its own, the file\'s cookie name', async () => {
  assert.equal(ts.nodeId, 'web1-app');
  assert.equal(ts.cookieName, 'tokensync');
  assert.ok((await readdir(join(dir, 'appdata'))).includes('journal-web1-app'));
  assert.equal(ts.health().status, 'ok');
});

test("issue, validate, revoke, in the API's shapes", async () => {
  const issued = await ts.issue('erin', { ttl: '1h', attributes: { role: 'admin' } });
  assert.equal(issued.subject, 'erin');
  assert.equal(issued.kind, 'session');
  assert.equal(issued.replicated, true);
  assert.match(issued.setCookie, /^tokensync=/);
  assert.ok(Math.abs(Date.parse(issued.expiresAt!) - (Date.now() + 3_600_000)) < 5_000);

  const v = await ts.validate(issued.token);
  assert.deepEqual(v, { valid: true, subject: 'erin', jti: issued.jti, kind: 'session', expiresAt: issued.expiresAt });

  assert.deepEqual(await ts.revoke(issued.jti), { revoked: true, replicated: true });
  const refused = await ts.validate(issued.token);
  assert.equal(refused.valid, false);
  assert.equal(refused.valid === false && refused.reason, 'revoked');
  assert.deepEqual(await ts.revoke(issued.jti), { revoked: false, replicated: true });
});

test('a one-time token is consumed once', async () => {
  const issued = await ts.issue('frank', { kind: 'onetime' });
  assert.equal((await ts.consume(issued.token)).valid, true);
  const again = await ts.consume(issued.token);
  assert.equal(again.valid, false);
});

test('authenticate uses a one-time token up (validate only peeks), and so does tokensyncAuth() in-process: one request through', async () => {
  const issued = await ts.issue('ivan', { kind: 'onetime' });
  const peek = await ts.validate(issued.token);
  assert.deepEqual(peek.valid && { kind: peek.kind, consumed: peek.consumed }, { kind: 'onetime', consumed: false });
  const granted = await ts.authenticate(issued.token);
  assert.deepEqual(granted.valid && { subject: granted.subject, consumed: granted.consumed }, { subject: 'ivan', consumed: true });
  const again = await ts.authenticate(issued.token);
  assert.equal(!again.valid && again.reason, 'consumed');

  const app = express();
  const auth = tokensyncAuth({ client: ts });
  app.get('/me', auth, tokensyncAuth({ client: ts }), (req, res) => res.json(req.auth));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const otp = await ts.issue('ivan', { kind: 'onetime' });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => request(url, 'GET', '/me', { headers: { cookie: `tokensync=${otp.token}` } })),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 401, 401, 401, 401]);
    assert.equal(results.find((r) => r.status === 200)!.body.kind, 'onetime');
    assert.ok(results.filter((r) => r.status === 401).every((r) => r.body.reason === 'consumed'));
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('bad issue options throw a 400 naming the option, and write nothing', async () => {
  const before = await recordFiles();
  await assert.rejects(ts.issue('gina', { ttl: 'forever' }), (err: Error & { status?: number; code?: string }) => {
    assert.equal(err.status, 400);
    assert.match(err.message, /ttl/);
    return true;
  });
  await assert.rejects(ts.issue('', {}), (err: Error & { status?: number }) => err.status === 400);
  await assert.rejects(ts.issue('gina', { kind: 'forever' as never }), /kind must be one of/);
  assert.equal(await recordFiles(), before);
});

test('garbage is refused as malformed, not thrown', async () => {
  const v = await ts.validate('not.a.token');
  assert.equal(v.valid, false);
  assert.equal(v.valid === false && v.reason, 'malformed');
});

test('logout revokes every token of the subject', async () => {
  const a = await ts.issue('hana');
  const b = await ts.issue('hana');
  const out = await ts.logout('hana');
  assert.equal(out.revoked, 2);
  assert.deepEqual(out.notYetAcknowledgedBy, []);
  for (const t of [a, b]) assert.equal((await ts.validate(t.token)).valid, false);
});
