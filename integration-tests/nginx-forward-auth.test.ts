import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, SidecarProcess, runCli, startSidecars, tempDir, writeProperties } from './support/sidecar-process.js';
import { NginxProcess, configFromHttp, localizeConfig, nginxSkipReason } from './support/nginx.js';
import { setCookies, useSession } from './support/browser-session.js';
import { request } from './support/http.js';
import { TIME_SCALE, waitFor } from '../sidecar/util/wait-for.js';

/**
 * A real nginx (Debian's package) doing forward auth against two real
 * sidecars (one nginx upstream, round robin) sharing a DIRECTORY store, in
 * front of a backend that echoes what nginx tells it. The config is the one
 * docs/stack.md recommends, plus one test-only header (X-Test-Sidecar: which
 * sidecar answered the auth subrequest); the compose demo's docker/nginx.conf
 * runs beside it for the sliding reissue.
 */

/** Session lifetime of the sliding tests (a ttl, kept across reissues): short, so a session in use is reissued within seconds. */
const LIFETIME_S = 2 * TIME_SCALE;
const SKEW_S = 1;

/** The backend: echoes the identity headers it receives; counts requests, so a refusal can be shown never to reach it. */
let backend: Server;
let backendHits = 0;
let lastHeaders: IncomingHttpHeaders = {};
let nginx: NginxProcess;
let demo: NginxProcess;
let shared: string;
let a: SidecarProcess;
let b: SidecarProcess;

function forwardAuthHttp(sidecarPorts: number[], backendPort: number) {
  return (port: number, prefix: string) =>
    configFromHttp(
      prefix,
      `
  upstream tokensync {
${sidecarPorts.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 8;
  }
  server {
    listen 127.0.0.1:${port};

    location = /_tokensync_auth {
      internal;
      proxy_pass http://tokensync/v1/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      # nginx is the edge: the client's address is $remote_addr; whatever X-Forwarded-For the client sent is dropped.
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Original-URI $request_uri;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }

    location / {
      auth_request /_tokensync_auth;
      auth_request_set $auth_subject $upstream_http_x_auth_subject;
      auth_request_set $auth_subject_encoding $upstream_http_x_auth_subject_encoding;
      auth_request_set $auth_token_id $upstream_http_x_auth_token_id;
      auth_request_set $auth_cookie $upstream_http_set_cookie;
      auth_request_set $auth_reason $upstream_http_x_auth_reason;
      auth_request_set $auth_sidecar $upstream_addr;
      # The reissued cookie (sliding expiry); an empty value adds no header.
      add_header Set-Cookie $auth_cookie;
      add_header X-Auth-Reason $auth_reason always;
      add_header X-Test-Sidecar $auth_sidecar always;
      # proxy_set_header replaces any header of that name the client sent: a forged X-Auth-Subject never arrives.
      proxy_set_header X-Auth-Subject $auth_subject;
      proxy_set_header X-Auth-Subject-Encoding $auth_subject_encoding;
      proxy_set_header X-Auth-Token-Id $auth_token_id;
      proxy_pass http://127.0.0.1:${backendPort};
    }
  }
`,
    );
}

const skip = nginxSkipReason();
// A skipped test (not a skipped suite) so that the run's summary counts it as skipped.
if (skip) test('nginx auth_request in front of two sidecars', { skip }, () => undefined);
else
  describe('nginx auth_request in front of two sidecars', () => {
    before(async () => {
      shared = await tempDir('tokensync-nginx-it-');
      const secret = join(shared, 'token_secret');
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
        'authentication.token.require.consistent.ip': true,
        'authentication.token.clock.skew': `${SKEW_S}s`,
      });
      [a, b] = await startSidecars([
        { nodeId: 'a', dir: join(shared, 'a'), props: props('a') },
        { nodeId: 'b', dir: join(shared, 'b'), props: props('b') },
      ]);
      backend = createServer((req, res) => {
        backendHits++;
        lastHeaders = req.headers;
        const body = JSON.stringify({
          subject: req.headers['x-auth-subject'] ?? null,
          subjectEncoding: req.headers['x-auth-subject-encoding'] || null,
          tokenId: req.headers['x-auth-token-id'] ?? null,
          path: req.url,
        });
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'theme=dark; Path=/' }).end(body);
      });
      await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
      const backendAt = `127.0.0.1:${(backend.address() as AddressInfo).port}`;
      nginx = await new NginxProcess(forwardAuthHttp([a.port, b.port], (backend.address() as AddressInfo).port)).start();
      const demoConf = await readFile(join(ROOT, 'docker', 'nginx.conf'), 'utf8');
      demo = await new NginxProcess((port, prefix) =>
        localizeConfig(demoConf, {
          prefix,
          port,
          hosts: {
            'sidecar1:7468': `127.0.0.1:${a.port}`,
            'sidecar2:7468': `127.0.0.1:${b.port}`,
            'app1:3000': backendAt,
            'app2:3000': backendAt,
          },
        }),
      ).start();
    });

    after(async () => {
      await Promise.all([nginx?.stop(), demo?.stop()]);
      backend?.closeAllConnections();
      await new Promise((r) => (backend ? backend.close(r) : r(undefined)));
      await Promise.all([a?.stop(), b?.stop()]);
      if (shared) await rm(shared, { recursive: true, force: true });
    });

    const viaProxy = (headers: Record<string, string> = {}, path = '/app/page') => request(nginx.url, 'GET', path, { headers });

    test('a valid cookie passes: the backend gets the subject and token id from the sidecar, a forged X-Auth-Subject never arrives', async () => {
      const { body: issued } = await a.api.issue({ subject: 'alice', clientIp: '127.0.0.1' });
      const sidecars = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const res = await viaProxy({ cookie: `tokensync=${issued.token}`, 'x-auth-subject': 'mallory', 'x-auth-token-id': 'forged' });
        assert.equal(res.status, 200, `${res.text}\n${await nginx.errorLog()}`);
        assert.deepEqual(res.body, { subject: 'alice', subjectEncoding: null, tokenId: issued.jti, path: '/app/page' });
        sidecars.add(String(res.headers['x-test-sidecar']));
        assert.deepEqual(setCookies(res), ['theme=dark; Path=/'], 'no reissue of a fresh token');
      }
      assert.deepEqual([...sidecars].sort(), [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`].sort(), 'both sidecars answered');
      assert.equal(lastHeaders.cookie, `tokensync=${issued.token}`, 'the backend still gets the cookie');
      const bearer = await viaProxy({ authorization: `Bearer ${issued.token}` });
      assert.equal(bearer.body.subject, 'alice');
    });

    test("no cookie: 401 at the proxy with the sidecar's Bearer challenge; the backend is never reached", async () => {
      const before = backendHits;
      const res = await viaProxy();
      assert.equal(res.status, 401);
      assert.match(
        String(res.headers['www-authenticate']),
        /^Bearer realm="tokensync", error="invalid_token", error_description="malformed"$/,
      );
      assert.equal(res.headers['x-auth-reason'], 'malformed');
      const forged = await viaProxy({ cookie: 'tokensync=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA', 'x-auth-subject': 'mallory' });
      assert.equal(forged.status, 401);
      assert.equal(backendHits, before);
    });

    test('a token revoked through the other sidecar is refused at the proxy, whichever sidecar nginx asks', async () => {
      const { body: issued } = await a.api.issue({ subject: 'bob', clientIp: '127.0.0.1' });
      assert.equal((await viaProxy({ cookie: `tokensync=${issued.token}` })).status, 200);
      assert.equal((await b.api.revoke(issued.jti)).status, 204);
      // Sidecar b refuses at once; a learns of the deletion from the store's change notification: wait for that event.
      await waitFor(
        async () => (await a.api.validate(issued.token, '127.0.0.1')).status === 401,
        'the revocation to reach sidecar a',
        2000,
      );
      const before = backendHits;
      const sidecars = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const res = await viaProxy({ cookie: `tokensync=${issued.token}` });
        assert.equal(res.status, 401);
        assert.equal(res.headers['x-auth-reason'], 'revoked');
        sidecars.add(String(res.headers['x-test-sidecar']));
      }
      assert.equal(sidecars.size, 2, 'both sidecars refused it');
      assert.equal(backendHits, before);
    });

    test('logout everywhere through one sidecar: refused at the proxy at once (every member acknowledged it)', async () => {
      const { body: t1 } = await a.api.issue({ subject: 'carol', clientIp: '127.0.0.1' });
      const { body: t2 } = await b.api.issue({ subject: 'carol', kind: 'api', clientIp: '127.0.0.1' });
      const out = await b.api.logout('carol');
      assert.deepEqual([...out.body.acknowledgedBy].sort(), ['a', 'b']);
      for (let i = 0; i < 4; i++) {
        for (const t of [t1, t2]) assert.equal((await viaProxy({ cookie: `tokensync=${t.token}` })).status, 401);
      }
    });

    test('address binding: nginx passes the client address it saw; a forged X-Forwarded-For does not help', async () => {
      const { body: issued } = await a.api.issue({ subject: 'dave', clientIp: '203.0.113.9' });
      const res = await viaProxy({ cookie: `tokensync=${issued.token}`, 'x-forwarded-for': '203.0.113.9' });
      assert.equal(res.status, 401);
      assert.equal(res.headers['x-auth-reason'], 'ip_mismatch');
    });

    test('a subject that is not printable ASCII reaches the backend percent-encoded, and says so', async () => {
      const { body: issued } = await a.api.issue({ subject: 'zoë', clientIp: '127.0.0.1' });
      const res = await viaProxy({ cookie: `tokensync=${issued.token}` });
      assert.equal(res.status, 200);
      assert.deepEqual(
        { subject: res.body.subject, subjectEncoding: res.body.subjectEncoding },
        { subject: 'zo%C3%AB', subjectEncoding: 'percent' },
      );
      assert.equal(decodeURIComponent(res.body.subject), 'zoë');
    });

    /**
     * A browser using one session through `proxy` for longer than the session's lifetime: reissued again and again,
     * each new cookie accepted, the app's own cookies beside it, and the first token dead by the end.
     */
    async function sessionOutlivesItsFirstToken(proxy: NginxProcess, subject: string, path: string) {
      const { body: issued } = await a.api.issue({ subject, ttl: LIFETIME_S, clientIp: '127.0.0.1' });
      const firstDeadAt = Date.parse(issued.expiresAt) + SKEW_S * 1000;
      const use = await useSession({ url: proxy.url, path, token: issued.token, until: () => Date.now() > firstDeadAt + 500 });
      assert.ok(
        use.reissues.length >= 2,
        `reissued ${use.reissues.length} times in ${use.answers.length} requests over more than one lifetime`,
      );
      for (const r of use.answers) assert.deepEqual([r.body.subject, r.body.tokenId], [subject, issued.jti]);
      for (const c of use.reissues) assert.match(c, /^tokensync=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax; Max-Age=\d+$/);
      for (const r of use.answers)
        assert.ok(setCookies(r).includes('theme=dark; Path=/'), "the backend's own cookie passes beside a reissue");
      const first = await request(proxy.url, 'GET', path, { headers: { cookie: `tokensync=${issued.token}` } });
      assert.equal(first.status, 401);
      assert.equal(first.headers['x-auth-reason'], 'expired');
      const current = await request(proxy.url, 'GET', path, { headers: { cookie: `tokensync=${use.tokens.at(-1)}` } });
      assert.equal(current.status, 200);
      assert.equal(current.body.tokenId, issued.jti);
    }

    test("sliding expiry: docs/stack.md's config hands each reissued cookie to the browser; a session in constant use outlives its first token", async () => {
      await sessionOutlivesItsFirstToken(nginx, 'erin', '/app/page');
    });

    test("sliding expiry: so does the compose demo's docker/nginx.conf, on a protected path", async () => {
      await sessionOutlivesItsFirstToken(demo, 'erin2', '/private/page');
    });

    test('a one-time token lets one request through nginx: then 401 consumed from either sidecar, the backend never reached again', async () => {
      const { body: issued } = await a.api.issue({ subject: 'otto', kind: 'onetime', clientIp: '127.0.0.1' });
      const first = await viaProxy({ cookie: `tokensync=${issued.token}` });
      assert.equal(first.status, 200, `${first.text}\n${await nginx.errorLog()}`);
      assert.equal(first.body.subject, 'otto');
      const before = backendHits;
      const sidecars = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const res = await viaProxy({ cookie: `tokensync=${issued.token}` });
        assert.equal(res.status, 401);
        assert.equal(res.headers['x-auth-reason'], 'consumed');
        sidecars.add(String(res.headers['x-test-sidecar']));
      }
      assert.equal(sidecars.size, 2, 'both sidecars refused it');
      assert.equal(backendHits, before);
    });

    test('one-time tokens presented 8 times at once through nginx (round robin over both sidecars): one request through per token', async () => {
      for (let round = 0; round < 10; round++) {
        const { body: issued } = await (round % 2 ? b : a).api.issue({ subject: `otto-${round}`, kind: 'onetime', clientIp: '127.0.0.1' });
        const before = backendHits;
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => viaProxy({ cookie: `tokensync=${issued.token}` }, `/app/${i}`)),
        );
        const statuses = results.map((r) => `${r.status} ${r.headers['x-auth-reason'] ?? ''}`.trim()).sort();
        assert.deepEqual(statuses, ['200', ...Array(7).fill('401 consumed')], `round ${round}`);
        assert.equal(backendHits - before, 1, 'the backend saw one request');
      }
    });

    test('one sidecar down: nginx asks the other, and requests keep passing; both down: 500, never a pass', async () => {
      const { body: issued } = await b.api.issue({ subject: 'frank', clientIp: '127.0.0.1' });
      await a.stop();
      for (let i = 0; i < 4; i++) {
        const res = await viaProxy({ cookie: `tokensync=${issued.token}` });
        assert.equal(res.status, 200, `${res.text}\n${await nginx.errorLog()}`);
        assert.equal(res.headers['x-test-sidecar'] !== undefined, true);
        assert.equal(res.body.subject, 'frank');
      }
      // Both down: an error at the proxy, never a pass.
      await b.stop();
      const before = backendHits;
      const res = await viaProxy({ cookie: `tokensync=${issued.token}` });
      assert.equal(res.status, 500);
      assert.equal(backendHits, before);
    });
  });

/**
 * docs/stack.md's deliberate exception to `Cache-Control: no-store`: nginx caching positive answers for a few
 * seconds, keyed on the credentials and the client address. The price is measured here: a revoked token keeps
 * passing until its cached answer runs out.
 */
const CACHE_SECONDS = 2;
if (skip) test('nginx caching positive forward-auth answers', { skip }, () => undefined);
else
  describe('nginx caching positive forward-auth answers', () => {
    let sidecar: SidecarProcess;
    let echo: Server;
    let proxy: NginxProcess;
    let dir: string;
    before(async () => {
      dir = await tempDir('tokensync-nginx-cache-');
      sidecar = await new SidecarProcess({ nodeId: 'cache', dir, props: { 'app.data.dir': join(dir, 'appdata') } }).start();
      echo = createServer((req, res) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ subject: req.headers['x-auth-subject'] ?? null })),
      );
      await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
      const echoPort = (echo.address() as AddressInfo).port;
      proxy = await new NginxProcess((port, prefix) =>
        configFromHttp(
          prefix,
          `
  proxy_cache_path ${prefix}/auth-cache levels=1 keys_zone=tokensync_auth:1m max_size=16m inactive=60s;
  server {
    listen 127.0.0.1:${port};
    location = /_tokensync_auth {
      internal;
      proxy_pass http://127.0.0.1:${sidecar.port}/v1/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_cache tokensync_auth;
      proxy_cache_key "$cookie_tokensync|$http_authorization|$remote_addr";
      proxy_cache_valid 200 ${CACHE_SECONDS}s;
      proxy_ignore_headers Cache-Control Expires;
    }
    location / {
      auth_request /_tokensync_auth;
      auth_request_set $auth_subject $upstream_http_x_auth_subject;
      auth_request_set $auth_cookie $upstream_http_set_cookie;
      auth_request_set $auth_cache $upstream_cache_status;
      add_header Set-Cookie $auth_cookie;
      add_header X-Test-Auth-Cache $auth_cache always;
      proxy_set_header X-Auth-Subject $auth_subject;
      proxy_pass http://127.0.0.1:${echoPort};
    }
  }
`,
        ),
      ).start();
    });
    after(async () => {
      await proxy?.stop();
      echo?.closeAllConnections();
      await new Promise((r) => (echo ? echo.close(r) : r(undefined)));
      await sidecar?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test(`a revoked token passes from the cache for at most ${CACHE_SECONDS} s, then is refused; refusals are never cached`, async () => {
      const { body: issued } = await sidecar.api.issue({ subject: 'gus' });
      const cookie = `tokensync=${issued.token}`;
      const first = await request(proxy.url, 'GET', '/', { headers: { cookie } });
      assert.equal(first.status, 200);
      assert.equal(first.headers['x-test-auth-cache'], 'MISS');
      assert.equal((await request(proxy.url, 'GET', '/', { headers: { cookie } })).headers['x-test-auth-cache'], 'HIT');
      assert.equal((await sidecar.api.revoke(issued.jti)).status, 204);
      const revokedAt = Date.now();
      const stale = await request(proxy.url, 'GET', '/', { headers: { cookie } });
      assert.equal(stale.status, 200, 'the cached positive answer still lets it through');
      assert.equal(stale.body.subject, 'gus');
      await waitFor(
        async () => (await request(proxy.url, 'GET', '/', { headers: { cookie } })).status === 401,
        'the cached answer to expire',
        (CACHE_SECONDS + 2) * 1000,
        50,
      );
      assert.ok(Date.now() - revokedAt <= (CACHE_SECONDS + TIME_SCALE) * 1000, `refused ${Date.now() - revokedAt} ms after the revocation`);
      for (let i = 0; i < 3; i++)
        assert.equal((await request(proxy.url, 'GET', '/', { headers: { cookie } })).status, 401, 'a 401 is not cached');
      // Another user's cookie is another cache key.
      const other = await sidecar.api.issue({ subject: 'hana' });
      const theirs = await request(proxy.url, 'GET', '/', { headers: { cookie: `tokensync=${other.body.token}` } });
      assert.equal(theirs.body.subject, 'hana');
    });

    test('the one request a one-time token lets through is never cached: the next one is refused, not served from the cache', async () => {
      const { body: issued } = await sidecar.api.issue({ subject: 'jo', kind: 'onetime' });
      const cookie = `tokensync=${issued.token}`;
      const first = await request(proxy.url, 'GET', '/', { headers: { cookie } });
      assert.equal(first.status, 200);
      assert.equal(first.body.subject, 'jo');
      for (let i = 0; i < 3; i++) {
        const again = await request(proxy.url, 'GET', '/', { headers: { cookie } });
        assert.equal(again.status, 401, `presentation ${i + 2}: ${again.headers['x-test-auth-cache']}`);
      }
    });

    test('an answer carrying a reissued cookie is not cached (nginx does not cache responses with Set-Cookie)', async () => {
      const { body: issued } = await sidecar.api.issue({ subject: 'ida', ttl: 4 });
      const cookie = `tokensync=${issued.token}`;
      let res = await request(proxy.url, 'GET', '/', { headers: { cookie } });
      await waitFor(
        async () => {
          res = await request(proxy.url, 'GET', '/', { headers: { cookie } });
          return ([] as string[]).concat(res.headers['set-cookie'] ?? []).some((c) => c.startsWith('tokensync='));
        },
        'a reissued cookie',
        8000,
        100,
      );
      assert.notEqual(res.headers['x-test-auth-cache'], 'HIT');
      const next = await request(proxy.url, 'GET', '/', { headers: { cookie } });
      assert.notEqual(next.headers['x-test-auth-cache'], 'HIT', 'the reissuing answer was not stored');
      assert.match(String(next.headers['set-cookie']), /^tokensync=/);
    });
  });
