import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, SidecarProcess, runCli, startSidecars, tempDir, writeProperties } from './support/sidecar-process.js';
import { ExampleApp, cookieFrom, loginAs } from './support/example-app.js';
import { request } from './support/http.js';
import { NginxProcess, localizeConfig, nginxSkipReason } from './support/nginx.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * examples/express-app end to end, as its README runs it: two instances of
 * server.mjs, each beside its own sidecar, the sidecars sharing one DIRECTORY
 * store, one secret file and an admin token. Log in on app 1, use the cookie
 * on app 2, log out, refused on both.
 */

let sidecars: SidecarProcess[];
let app1: ExampleApp;
let app2: ExampleApp;

before(async () => {
  const shared = await tempDir('tokensync-example-');
  const secret = join(shared, 'token_secret');
  const adminToken = join(shared, 'admin_token');
  await writeFile(adminToken, randomBytes(32).toString('base64url') + '\n', { mode: 0o600 });
  const gen = await runCli([
    'secret',
    'generate',
    '--config',
    await writeProperties(join(shared, 'cli.properties'), { 'authentication.token.secret.file': secret }),
  ]);
  assert.equal(gen.code, 0, gen.stderr);
  const props = (node: string) => ({
    'app.data.dir': join(shared, `appdata-${node}`),
    'cluster.store.directory.path': join(shared, 'store'),
    'authentication.token.secret.file': secret,
    'sidecar.admin.token.file': adminToken,
  });
  sidecars = await startSidecars([
    { nodeId: 'node1', props: props('node1') },
    { nodeId: 'node2', props: props('node2') },
  ]);
  [app1, app2] = await Promise.all([
    new ExampleApp('app1', { SIDECAR_URL: sidecars[0]!.url, TOKENSYNC_ADMIN_TOKEN_FILE: adminToken }).start(),
    new ExampleApp('app2', { SIDECAR_URL: sidecars[1]!.url, TOKENSYNC_ADMIN_TOKEN_FILE: adminToken }).start(),
  ]);
});

after(async () => {
  await Promise.all([app1?.stop(), app2?.stop()]);
  await Promise.all((sidecars ?? []).map((s) => s.stop()));
});

const JSON_ACCEPT = { accept: 'application/json' };

test('log in on app 1, use the cookie on app 2, log out on app 2: refused on both', async () => {
  const cookie = await loginAs(app1, 'alice');
  const onApp2 = await request(app2.url, 'GET', '/api/me', { headers: { cookie } });
  assert.equal(onApp2.status, 200, onApp2.text);
  assert.equal(onApp2.body.subject, 'alice');
  assert.equal(onApp2.body.node, 'app2');
  const page = await request(app2.url, 'GET', '/private', { headers: { cookie, accept: 'text/html' } });
  assert.equal(page.status, 200);
  assert.match(page.text, /Hello <b>alice<\/b>/);
  assert.match(page.text, /served by app2/);

  const out = await request(app2.url, 'POST', '/logout', { headers: { cookie, ...JSON_ACCEPT } });
  assert.deepEqual(out.body, { revoked: 1, node: 'app2' });
  assert.match(String(out.headers['set-cookie']), /^tokensync=; .*Max-Age=0/);

  // One revocation reaches the other sidecar through the store's change notification (inotify here):
  // wait for that event rather than assume it already happened. (Logout everywhere is acknowledged: no wait below.)
  await waitFor(
    async () => (await request(app1.url, 'GET', '/api/me', { headers: { cookie } })).status === 401,
    'the revocation to reach node1',
    2000,
  );
  for (const app of [app1, app2]) {
    const me = await request(app.url, 'GET', '/api/me', { headers: { cookie } });
    assert.equal(me.status, 401, app.name);
    assert.equal(me.body.reason, 'revoked', app.name);
    const browser = await request(app.url, 'GET', '/private', { headers: { cookie, accept: 'text/html' } });
    assert.equal(browser.status, 303, app.name);
    assert.equal(browser.headers.location, '/?refused=revoked');
  }
});

test('the login form, a browser login (303 to the private page), the home page knows the user', async () => {
  const form = await request(app1.url, 'GET', '/');
  assert.match(form.text, /<form method="post" action="\/login">/);
  assert.match(form.text, /no password is asked/);
  const res = await request(app1.url, 'POST', '/login', {
    rawBody: 'username=bob',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
  });
  assert.equal(res.status, 303);
  assert.equal(res.headers.location, '/private');
  const home = await request(app2.url, 'GET', '/', { headers: { cookie: cookieFrom(res) } });
  assert.match(home.text, /Signed in as <b>bob<\/b>/);
});

test('no cookie: 401 JSON with a reason on both apps; the login form for a browser', async () => {
  for (const app of [app1, app2]) {
    const me = await request(app.url, 'GET', '/api/me');
    assert.equal(me.status, 401);
    assert.equal(me.body.reason, 'malformed');
    assert.equal(me.headers['www-authenticate'], 'Bearer realm="tokensync"');
  }
  const browser = await request(app1.url, 'GET', '/private', { headers: { accept: 'text/html' } });
  assert.equal(browser.status, 303);
});

test('log out everywhere on app 1 ends the sessions started on both apps, at once', async () => {
  const first = await loginAs(app1, 'carol');
  const second = await loginAs(app2, 'carol');
  const out = await request(app1.url, 'POST', '/logout?everywhere=1', { headers: { cookie: second, ...JSON_ACCEPT } });
  assert.equal(out.body.revoked, 2);
  for (const app of [app1, app2]) {
    for (const cookie of [first, second])
      assert.equal((await request(app.url, 'GET', '/api/me', { headers: { cookie } })).body.reason, 'revoked');
  }
});

test('user names are escaped in pages; bad ones are refused', async () => {
  const cookie = await loginAs(app1, '<script>x</script>');
  const page = await request(app2.url, 'GET', '/private', { headers: { cookie, accept: 'text/html' } });
  assert.equal(page.status, 200);
  assert.ok(!page.text.includes('<script>x'));
  assert.match(page.text, /&#60;script&#62;x&#60;\/script&#62;/);
  for (const username of ['', 'two words', 'x'.repeat(65)]) {
    assert.equal((await request(app1.url, 'POST', '/login', { body: { username }, headers: JSON_ACCEPT })).status, 400);
  }
});

test("the example's own properties files pass config check", async () => {
  for (const n of [1, 2]) {
    const res = await runCli([
      'config',
      'check',
      '--values-only',
      '--config',
      join(ROOT, 'examples', 'express-app', `node${n}.properties`),
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`ok \\(DIRECTORY store, node node${n}, listening on 127\\.0\\.0\\.1:747${n}\\)`));
  }
});

/**
 * The compose demo's front (docker/nginx.conf as written, its host names mapped to these loopback ports) in
 * front of the same two apps and sidecars: login through the load balancer, forward auth at the edge.
 */
const skipNginx = nginxSkipReason();
if (skipNginx) test("the compose demo's nginx.conf in front of both apps", { skip: skipNginx }, () => undefined);
else
  describe("the compose demo's nginx.conf in front of both apps", () => {
    let nginx: NginxProcess;
    before(async () => {
      const conf = await readFile(join(ROOT, 'docker', 'nginx.conf'), 'utf8');
      const port = (url: string) => url.slice(url.lastIndexOf(':') + 1);
      nginx = await new NginxProcess((listen, prefix) =>
        localizeConfig(conf, {
          prefix,
          port: listen,
          hosts: {
            'sidecar1:7468': `127.0.0.1:${sidecars[0]!.port}`,
            'sidecar2:7468': `127.0.0.1:${sidecars[1]!.port}`,
            'app1:3000': `127.0.0.1:${port(app1.url)}`,
            'app2:3000': `127.0.0.1:${port(app2.url)}`,
          },
        }),
      ).start();
    });
    after(async () => {
      await nginx?.stop();
    });

    test('public pages pass without a session; protected ones are refused at the edge (JSON 401 or a redirect for browsers)', async () => {
      const home = await request(nginx.url, 'GET', '/', { headers: { accept: 'text/html' } });
      assert.equal(home.status, 200);
      assert.match(home.text, /action="\/login"/);
      const api = await request(nginx.url, 'GET', '/api/me');
      assert.equal(api.status, 401);
      assert.deepEqual(api.body, { error: 'unauthorized', reason: 'malformed' });
      assert.equal(api.headers['www-authenticate'], 'Bearer realm="tokensync", error="invalid_token", error_description="malformed"');
      assert.equal(api.headers['x-auth-reason'], 'malformed');
      const page = await request(nginx.url, 'GET', '/private', { headers: { accept: 'text/html,application/xhtml+xml' } });
      assert.equal(page.status, 303);
      assert.equal(page.headers.location, '/?refused=malformed');
    });

    test('log in through the load balancer; both app nodes then serve the session, told the subject by nginx', async () => {
      const login = await request(nginx.url, 'POST', '/login', { body: { username: 'dora' }, headers: JSON_ACCEPT });
      assert.equal(login.status, 200, login.text);
      const cookie = cookieFrom(login);
      const nodes = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const me = await request(nginx.url, 'GET', '/api/me', { headers: { cookie, 'x-auth-subject': 'mallory' } });
        assert.equal(me.status, 200, me.text);
        assert.equal(me.body.subject, 'dora');
        assert.equal(me.body.proxySubject, 'dora', "the app got nginx's X-Auth-Subject, not the client's");
        nodes.add(me.body.node);
      }
      assert.deepEqual([...nodes].sort(), ['app1', 'app2'], 'round robin, no sticky sessions');

      const out = await request(nginx.url, 'POST', '/logout', { headers: { cookie, ...JSON_ACCEPT } });
      assert.equal(out.body.revoked, 1);
      // The other sidecar learns of the revocation from the store's change notification: wait for it.
      await waitFor(
        async () => {
          const results = await Promise.all([0, 1, 2, 3].map(() => request(nginx.url, 'GET', '/api/me', { headers: { cookie } })));
          return results.every((r) => r.status === 401);
        },
        'both sidecars to refuse the revoked token',
        2000,
      );
      const refused = await request(nginx.url, 'GET', '/api/me', { headers: { cookie } });
      assert.deepEqual(refused.body, { error: 'unauthorized', reason: 'revoked' });
    });
  });
