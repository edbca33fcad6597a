import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { request } from './support/http.js';

/**
 * Listings say what a user sees: a token issued with ttl 10s lists as expiring in 10s, apart from its record's
 * retention (30 d, the absolute lifetime a sliding session may reach), and records behind a logout are marked
 * revoked until the reaper deletes them; in `tokens list`, `tokens show` and the API alike.
 */
let dir: string;
let config: string;
let node: SidecarProcess;

before(async () => {
  dir = await tempDir('tokensync-listings-');
  const common = {
    'cluster.store.directory.path': join(dir, 'store'),
    'cluster.store.directory.shards': 16,
    'authentication.token.secret.file': join(dir, 'token_secret'),
  };
  config = await writeProperties(join(dir, 'cli.properties'), { ...common, 'node.id': 'cli', 'app.data.dir': join(dir, 'cli') });
  assert.equal((await runCli(['secret', 'generate', '--config', config])).code, 0);
  node = await new SidecarProcess({ nodeId: 'n1', dir: join(dir, 'n1'), props: { ...common, 'app.data.dir': join(dir, 'n1') } }).start();
});

after(async () => {
  await node?.stop();
});

async function cli(...args: string[]): Promise<string> {
  const r = await runCli([...args, '--config', config]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function api(path: string): Promise<Record<string, unknown>> {
  const res = await request(node.url, 'GET', path);
  assert.equal(res.status, 200, res.text);
  return JSON.parse(res.text) as Record<string, unknown>;
}

test('a token issued with ttl 10s lists its own expiry (10 s) apart from the record kept 30 d', async () => {
  const issued = await node.api.issue({ subject: 'tina', ttl: '10s' });
  assert.equal(issued.status, 201, issued.text);
  const jti = issued.body.jti as string;

  const table = await cli('tokens', 'list', '--subject', 'tina');
  assert.match(table, /^JTI\s+SUBJECT\s+KIND\s+ISSUED\s+TOKEN EXPIRES\s+RECORD KEPT\s+STATUS\s+NODE$/m);
  assert.match(
    table,
    new RegExp(
      `^${jti.replace(/\./g, '\\.')}\\s+tina\\s+session\\s+\\S+ ago\\s+in (10|9|8)s, sliding\\s+for (29d 23h|30d)\\s+live\\s+n1$`,
      'm',
    ),
  );
  assert.doesNotMatch(table, /expires in 29d/i);

  const show = await cli('tokens', 'show', jti);
  assert.match(show, /^token expires {5}\S+ \(in (10|9|8)s\) \(sliding: reissued while in use, up to the record's end\)$/m);
  assert.match(show, /^record kept until \S+ \(in (29d 23h|30d)\)$/m);
  assert.match(show, /^status {12}live$/m);

  const view = await api(`/v1/tokens/${jti}`);
  const tokenExpires = Date.parse(String(view.tokenExpiresAt));
  assert.ok(tokenExpires - Date.now() <= 11_000 && tokenExpires - Date.now() > 0, String(view.tokenExpiresAt));
  assert.equal(view.tokenExpiresAt, issued.body.expiresAt, 'the same expiry the issue answered');
  assert.equal(view.retainedUntil, view.expiresAt);
  assert.ok(Date.parse(String(view.retainedUntil)) - Date.now() > 29 * 86_400_000);
  assert.equal(view.sliding, true);
  assert.equal(view.revokedByLogout, false);
});

test("api and one-time tokens: never, and the one-time token's own expiry", async () => {
  const apiToken = await node.api.issue({ subject: 'robot', kind: 'api' });
  const once = await node.api.issue({ subject: 'otto', kind: 'onetime' });
  const apiView = await api(`/v1/tokens/${apiToken.body.jti as string}`);
  assert.equal(apiView.tokenExpiresAt, null);
  assert.equal(apiView.retainedUntil, null);
  const onceView = await api(`/v1/tokens/${once.body.jti as string}`);
  assert.equal(onceView.tokenExpiresAt, once.body.expiresAt);
  const table = await cli('tokens', 'list', '--subject', 'robot');
  assert.match(table, /\brobot\s+api\s+\S+ ago\s+never\s+until revoked\s+live\s+n1$/m);
});

test('records a logout revoked are marked until the reaper deletes them', async () => {
  const kept = await node.api.issue({ subject: 'lena' });
  const jti = kept.body.jti as string;
  const out = await cli('subjects', 'logout', 'lena');
  assert.equal(out.trim(), 'logged out lena everywhere: 1 token revoked, logout generation 1');
  assert.match(
    await cli('tokens', 'list', '--subject', 'lena'),
    new RegExp(`^${jti.replace(/\./g, '\\.')}\\s+lena\\s.*\\srevoked by logout\\s+n1$`, 'm'),
  );
  assert.match(await cli('tokens', 'show', jti), /^status {12}revoked by logout \(the reaper deletes the record later\)$/m);
  const json = JSON.parse(await cli('tokens', 'list', '--subject', 'lena', '--json')) as { items: Array<{ revokedByLogout: boolean }> };
  assert.deepEqual(
    json.items.map((i) => i.revokedByLogout),
    [true],
  );
  // the sidecar learns the marker from the store and lists it the same way
  const { waitFor } = await import('../sidecar/util/wait-for.js');
  await waitFor(async () => (await api(`/v1/tokens/${jti}`)).revokedByLogout === true, 'the API marks the record revoked by logout');
  const page = (await api('/v1/tokens?subject=lena')) as { items: Array<{ revokedByLogout: boolean }> };
  assert.deepEqual(
    page.items.map((i) => i.revokedByLogout),
    [true],
  );
  // a token issued after the logout is live again
  const again = await node.api.issue({ subject: 'lena' });
  assert.equal((await api(`/v1/tokens/${again.body.jti as string}`)).revokedByLogout, false);
});
