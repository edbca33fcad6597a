import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SidecarProcess, runCli, startSidecars, tempDir } from './support/sidecar-process.js';
import { request } from './support/http.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Two real sidecar processes sharing one DIRECTORY store, driven over HTTP and
 * through the CLI, as a single-machine deployment would be.
 */
let shared: string;
let a: SidecarProcess;
let b: SidecarProcess;
let secretPath: string;

before(async () => {
  shared = await tempDir('tokensync-dir-cluster-');
  secretPath = join(shared, 'token_secret');
  const gen = await runCli(['secret', 'generate', '--json', '--config', await propsFile()]);
  assert.equal(gen.code, 0, gen.stderr);
  const props = {
    'app.data.dir': join(shared, 'appdata-NODE'),
    'cluster.store.directory.path': join(shared, 'store'),
    'authentication.token.secret.file': secretPath,
    'cluster.store.directory.rescan.interval': '1s',
    'authentication.token.require.consistent.ip': true,
  };
  [a, b] = await startSidecars([
    { nodeId: 'a', props: { ...props, 'app.data.dir': join(shared, 'appdata-a') } },
    { nodeId: 'b', props: { ...props, 'app.data.dir': join(shared, 'appdata-b') } },
  ]);
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

async function propsFile(): Promise<string> {
  const { writeProperties } = await import('./support/sidecar-process.js');
  return writeProperties(join(shared, 'cli.properties'), {
    'cluster.store.directory.path': join(shared, 'store'),
    'authentication.token.secret.file': join(shared, 'token_secret'),
    'app.data.dir': join(shared, 'appdata-cli'),
  });
}

test('issued on A is valid on B at once; revoked on B is refused on A', async () => {
  const issued = await a.api.issue({ subject: 'alice' });
  assert.equal(issued.status, 201);
  assert.match(issued.body.setCookie, /^tokensync=.+; Path=\/; HttpOnly; Secure; SameSite=Lax; Max-Age=\d+$/);
  const onB = await b.api.validate(issued.body.token);
  assert.equal(onB.status, 200);
  assert.equal(onB.body.subject, 'alice');
  const revoked = await b.api.revoke(issued.body.jti);
  assert.equal(revoked.status, 204);
  const onA = await a.api.validate(issued.body.token);
  assert.equal(onA.status, 401);
  assert.equal(onA.body.reason, 'revoked');
  assert.equal((await b.api.revoke(issued.body.jti)).status, 404);
});

test('revoked on B is refused on A within moments, 100 times (A hears the file go; mostly before the next request)', async (t) => {
  const tokens = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => (await a.api.issue({ subject: `at-once-${i}` })).body as { jti: string; token: string }),
  );
  const never: string[] = [];
  let nextRequest = 0;
  for (const tok of tokens) {
    assert.equal((await a.api.validate(tok.token)).status, 200);
    assert.equal((await b.api.revoke(tok.jti)).status, 204);
    const refused = async () => {
      const onA = await a.api.validate(tok.token);
      return onA.status === 401 && onA.body.reason === 'revoked';
    };
    if (await refused()) nextRequest++;
    // The kernel queues A's change event when B deletes the file, but A's event loop may take the request's bytes
    // first when both are ready at once (epoll's order is not the order they became ready in): a moment later.
    else await waitFor(refused, `${tok.jti} refused on A`, 2_000, 2).catch(() => never.push(tok.jti));
  }
  t.diagnostic(`refused on A by the very next request: ${nextRequest} of ${tokens.length}; the rest within milliseconds`);
  assert.deepEqual(never, []);
});

test('forward auth: cookie or bearer, headers for the proxy, 401 with a reason', async () => {
  const { body } = await a.api.issue({ subject: 'carol', kind: 'api' });
  const viaCookie = await b.api.auth({ cookie: `other=1; tokensync=${body.token}` });
  assert.equal(viaCookie.status, 200);
  assert.equal(viaCookie.headers['x-auth-subject'], 'carol');
  assert.equal(viaCookie.headers['x-auth-token-id'], body.jti);
  assert.equal(viaCookie.headers['cache-control'], 'no-store');
  const viaBearer = await b.api.auth({ authorization: `Bearer ${body.token}` });
  assert.equal(viaBearer.status, 200);
  const none = await b.api.auth({});
  assert.equal(none.status, 401);
  assert.equal(none.headers['x-auth-reason'], 'malformed');
  assert.match(String(none.headers['www-authenticate']), /^Bearer realm="tokensync"/);
  const dup = await b.api.auth({ cookie: `tokensync=${body.token}; tokensync=forged` });
  assert.equal(dup.status, 401);
});

test('logout everywhere: tokens issued before are refused on every node, tokens issued after are valid', async () => {
  const before1 = await a.api.issue({ subject: 'dave' });
  const before2 = await b.api.issue({ subject: 'dave', kind: 'api' });
  const out = await b.api.logout('dave');
  assert.equal(out.status, 200);
  assert.equal(out.body.revoked, 2);
  for (const node of [a, b]) {
    for (const t of [before1, before2]) {
      const v = await node.api.validate(t.body.token);
      assert.equal(v.body.reason, 'revoked', `${node.spec.nodeId}`);
    }
  }
  const afterwards = await a.api.issue({ subject: 'dave' });
  assert.equal((await b.api.validate(afterwards.body.token)).status, 200);
});

test('one-time tokens: 4 consumers on 2 processes, 50 rounds, exactly one winner each; replay fails', async () => {
  for (let round = 0; round < 50; round++) {
    const { body } = await (round % 2 ? a : b).api.issue({ subject: `otp-${round}`, kind: 'onetime' });
    const results = await Promise.all([a, b, a, b].map((n) => n.api.consume(body.token)));
    const winners = results.filter((r) => r.status === 200);
    assert.equal(winners.length, 1, `round ${round}: ${results.map((r) => r.status).join(',')}`);
    for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.body.reason, 'consumed');
  }
});

test('a new one-time token for a subject replaces the pending one', async () => {
  const first = await a.api.issue({ subject: 'erin', kind: 'onetime' });
  const second = await a.api.issue({ subject: 'erin', kind: 'onetime' });
  assert.equal((await b.api.validate(first.body.token)).body.reason, 'consumed');
  assert.equal((await b.api.consume(second.body.token)).status, 200);
});

test('sliding: a session presented past half its lifetime is reissued with the same jti', async () => {
  const issued = await a.api.issue({ subject: 'frank', ttl: 4 });
  const early = await b.api.validate(issued.body.token);
  assert.equal(early.body.reissued, undefined);
  // Half of the 4 s lifetime must pass (JWT times are whole seconds, so somewhere in 1 to 3 s): poll until then.
  let later = early;
  await waitFor(
    async () => {
      later = await b.api.validate(issued.body.token);
      assert.equal(later.status, 200);
      return later.body.reissued !== undefined;
    },
    'reissue',
    5000,
    100,
  );
  assert.match(later.body.reissued.setCookie, /^tokensync=/);
  const again = await a.api.validate(later.body.reissued.token);
  assert.equal(again.body.jti, issued.body.jti);
  assert.ok(Date.parse(again.body.expiresAt) > Date.parse(issued.body.expiresAt));
  const fa = await a.api.auth({ cookie: `tokensync=${issued.body.token}` });
  assert.match(String(fa.headers['set-cookie']), /tokensync=.*HttpOnly; Secure; SameSite=Lax/);
  // revocation wins over any reissued copy (on A at once; on B once its mirror has the change)
  await a.api.revoke(issued.body.jti);
  assert.equal((await a.api.validate(later.body.reissued.token)).body.reason, 'revoked');
  await waitFor(async () => (await b.api.validate(later.body.reissued.token)).body.reason === 'revoked', 'revocation reaches B', 5000, 5);
});

test('address binding: a token bound at issue is refused from another address; X-Forwarded-For from the loopback proxy counts', async () => {
  const { body } = await a.api.issue({ subject: 'gina', clientIp: '203.0.113.7' });
  assert.equal((await b.api.validate(body.token, '203.0.113.7')).status, 200);
  const other = await b.api.validate(body.token, '203.0.113.8');
  assert.equal(other.body.reason, 'ip_mismatch');
  const proxied = await b.api.auth({ cookie: `tokensync=${body.token}`, 'x-forwarded-for': '203.0.113.7' });
  assert.equal(proxied.status, 200);
  const spoofedChain = await b.api.auth({ cookie: `tokensync=${body.token}`, 'x-forwarded-for': '203.0.113.7, 198.51.100.1' });
  assert.equal(spoofedChain.status, 401);
});

test('hostile input gets a 4xx with a reason and changes nothing', async () => {
  const countRecords = async () => {
    let n = 0;
    const root = join(shared, 'store', 'tokens');
    for (const shard of await readdir(root)) n += (await readdir(join(root, shard))).length;
    return n;
  };
  const before = await countRecords();
  const cases: Array<[string, string, unknown, number]> = [
    ['POST', '/v1/tokens', '{"subject":', 400],
    ['POST', '/v1/tokens', '[]', 400],
    ['POST', '/v1/tokens', '{"subject":""}', 400],
    ['POST', '/v1/tokens', '{"subject":"x","ttl":-5}', 400],
    ['POST', '/v1/tokens', '{"subject":"x","ttl":"forever"}', 400],
    ['POST', '/v1/tokens', '{"subject":"x","kind":"root"}', 400],
    ['POST', '/v1/tokens', '{"subject":"x","kind":"api","ttl":60}', 400],
    ['POST', '/v1/tokens', '{"subject":"x","clientIp":"not-an-ip"}', 400],
    ['POST', '/v1/tokens', '{"subject":"x","attributes":{"a":{"nested":1}}}', 400],
    ['POST', '/v1/tokens', JSON.stringify({ subject: 'x'.repeat(200) }), 400],
    ['POST', '/v1/tokens', '{"token":"abc"}', 400],
    ['POST', '/v1/tokens', JSON.stringify({ subject: 'x', pad: 'y'.repeat(20_000) }), 413],
    ['POST', '/v1/validate', '{}', 400],
    ['POST', '/v1/validate', '{"token":5}', 400],
    ['POST', '/v1/tokens/consume', '{"token":null}', 400],
    ['DELETE', '/v1/tokens/..%2F..%2Fetc', '', 400],
    ['DELETE', '/v1/tokens/%E0%A4%A', '', 400],
    ['GET', '/v1/tokens?limit=0', '', 400],
    ['GET', '/v1/tokens?kind=root', '', 400],
    ['GET', '/v1/tokens?cursor=garbage', '', 400],
    ['PUT', '/v1/tokens', '{}', 405],
    ['GET', '/nope', '', 404],
  ];
  for (const [method, path, raw, status] of cases) {
    const res = await request(
      a.url,
      method,
      path,
      raw === '' ? {} : { rawBody: String(raw), headers: { 'content-type': 'application/json' } },
    );
    assert.equal(res.status, status, `${method} ${path} ${String(raw).slice(0, 60)} -> ${res.status} ${res.text.slice(0, 200)}`);
    assert.equal(typeof res.body.error, 'string', `${method} ${path}: error code`);
    assert.equal(typeof res.body.message, 'string', `${method} ${path}: message`);
  }
  const tooManyHeaders = await request(a.url, 'GET', '/healthz', { headers: { 'x-big': 'z'.repeat(20_000) } });
  assert.equal(tooManyHeaders.status, 431);
  assert.equal(await countRecords(), before);
  assert.equal((await a.api.get('/healthz')).status, 200);
});

test('the CLI works on the same store while the sidecars run', async () => {
  const config = await propsFile();
  const { body } = await a.api.issue({ subject: 'hank', kind: 'api' });
  const list = await runCli(['tokens', 'list', '--subject', 'hank', '--json', '--config', config]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    JSON.parse(list.stdout).items.map((i: { jti: string }) => i.jti),
    [body.jti],
  );
  const show = await runCli(['tokens', 'show', body.jti, '--config', config]);
  assert.equal(show.code, 0);
  assert.match(show.stdout, /subject\s+hank/);
  const verify = await runCli(['verify', body.token, '--config', config]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /VALID/);
  const revoke = await runCli(['tokens', 'revoke', body.jti, '--config', config]);
  assert.equal(revoke.code, 0, revoke.stderr);
  assert.equal((await b.api.validate(body.token)).body.reason, 'revoked');
  const verifyAgain = await runCli(['verify', body.token, '--config', config, '--json']);
  assert.equal(verifyAgain.code, 1);
  assert.equal(JSON.parse(verifyAgain.stdout).reason, 'revoked');
  const missing = await runCli(['tokens', 'revoke', body.jti, '--config', config]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no token record/);
  const logout = await runCli(['subjects', 'logout', 'ivy', '--config', config, '--json']);
  assert.equal(logout.code, 0);
  const badUsage = await runCli(['tokens', 'list', '--limit', 'lots']);
  assert.equal(badUsage.code, 2);
  const badConfig = await runCli(['config', 'check', '--config', join(shared, 'missing.properties')]);
  assert.equal(badConfig.code, 2);
  assert.equal(badConfig.stderr.trim().split('\n').length, 1, badConfig.stderr);
});

test('neither a token nor the secret ever reaches the logs', async () => {
  const { body } = await a.api.issue({ subject: 'judy' });
  await b.api.validate(body.token);
  await b.api.validate(body.token + 'x');
  await a.api.auth({ cookie: `tokensync=${body.token}` });
  const secrets = (await readFile(secretPath, 'utf8')).trim().split('\n');
  const signature = body.token.split('.')[2];
  for (const node of [a, b]) {
    assert.ok(node.logs.length > 0);
    for (const s of secrets) assert.ok(!node.logs.includes(s), `secret in ${node.spec.nodeId}'s log`);
    assert.ok(!node.logs.includes(signature), `token in ${node.spec.nodeId}'s log`);
  }
  const metrics = await a.api.get('/metrics');
  const cluster = await a.api.cluster();
  for (const s of secrets) {
    assert.ok(!metrics.text.includes(s));
    assert.ok(!cluster.text.includes(s));
  }
});
