import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, SidecarProcess, runCli, startSidecars, tempDir, writeProperties } from './support/sidecar-process.js';
import { CaddyProcess, caddySkipReason, findCaddy } from './support/caddy.js';
import { setCookies, useSession } from './support/browser-session.js';
import { request } from './support/http.js';
import { TIME_SCALE, waitFor } from '../sidecar/util/wait-for.js';

/**
 * A real Caddy (Debian's package) running docker/Caddyfile as shipped, in
 * front of two real sidecars sharing a DIRECTORY store and of a backend that
 * echoes what Caddy tells it. Which sidecar Caddy asked is read from the
 * sidecars' own validation counters, not from anything added to the file.
 */

/** Session lifetime on these sidecars: short, so a session in use is reissued within seconds. */
const LIFETIME_S = 2 * TIME_SCALE;
const SKEW_S = 1;
const CADDYFILE = join(ROOT, 'docker', 'Caddyfile');
/** Tokens of the tests that are not about expiry. */
const LONG_TTL = '1h';

let backend: Server;
let backendHits = 0;
let shared: string;
let caddy: CaddyProcess;
let a: SidecarProcess;
let b: SidecarProcess;

/** Validations a sidecar has answered so far (valid or not): how often Caddy asked it. */
async function asked(sidecar: SidecarProcess): Promise<number> {
  const res = await sidecar.api.get('/metrics');
  let n = 0;
  for (const m of res.text.matchAll(/^tokensync_validations_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

const skip = caddySkipReason();

test('docker/Caddyfile is formatted as `caddy fmt` writes it (Caddy warns at every start otherwise)', { skip }, () => {
  const fmt = spawnSync(findCaddy()!, ['fmt', CADDYFILE], { encoding: 'utf8' });
  assert.equal(fmt.status, 0, fmt.stderr);
  assert.equal(fmt.stdout, readFileSync(CADDYFILE, 'utf8'));
});

// A skipped test (not a skipped suite) so that the run's summary counts it as skipped.
if (skip) test('Caddy forward auth (docker/Caddyfile) in front of two sidecars', { skip }, () => undefined);
else
  describe('Caddy forward auth (docker/Caddyfile) in front of two sidecars', () => {
    before(async () => {
      shared = await tempDir('tokensync-caddy-it-');
      const secret = join(shared, 'token_secret');
      const gen = await runCli([
        'secret',
        'generate',
        '--config',
        await writeProperties(join(shared, 'cli.properties'), { 'authentication.token.secret.file': secret }),
      ]);
      assert.equal(gen.code, 0, gen.stderr);
      const spec = (nodeId: string) => ({
        nodeId,
        dir: join(shared, nodeId),
        props: {
          'app.data.dir': join(shared, nodeId, 'appdata'),
          'cluster.store.directory.path': join(shared, 'store'),
          'authentication.token.secret.file': secret,
          'authentication.token.require.consistent.ip': true,
          'authentication.token.expiration': `${LIFETIME_S}s`,
          'authentication.token.clock.skew': `${SKEW_S}s`,
        },
      });
      [a, b] = await startSidecars([spec('a'), spec('b')]);
      backend = createServer((req, res) => {
        backendHits++;
        let length = 0;
        req.on('data', (c: Buffer) => (length += c.length));
        req.on('end', () => {
          const body = JSON.stringify({
            subject: req.headers['x-auth-subject'] ?? null,
            subjectEncoding: req.headers['x-auth-subject-encoding'] ?? null,
            tokenId: req.headers['x-auth-token-id'] ?? null,
            kind: req.headers['x-auth-token-kind'] ?? null,
            cookie: req.headers.cookie ?? null,
            method: req.method,
            path: req.url,
            bodyLength: length,
          });
          res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'theme=dark; Path=/' }).end(body);
        });
      });
      await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
      caddy = await new CaddyProcess({
        caddyfile: CADDYFILE,
        env: (port) => ({
          LISTEN: `http://127.0.0.1:${port}`,
          TOKENSYNC_UPSTREAM: `127.0.0.1:${a.port} 127.0.0.1:${b.port}`,
          APP_UPSTREAM: `127.0.0.1:${(backend.address() as AddressInfo).port}`,
        }),
      }).start();
    });

    after(async () => {
      await caddy?.stop();
      backend?.closeAllConnections();
      await new Promise((r) => (backend ? backend.close(r) : r(undefined)));
      await Promise.all([a?.stop(), b?.stop()]);
      if (shared) await rm(shared, { recursive: true, force: true });
    });

    const viaProxy = (headers: Record<string, string> = {}, path = '/app/page') => request(caddy.url, 'GET', path, { headers });
    const forged = {
      'x-auth-subject': 'mallory',
      'x-auth-subject-encoding': 'percent',
      'x-auth-token-id': 'forged',
      'x-auth-token-kind': 'api',
    };

    test('a valid cookie passes: the app gets subject, token id and kind from the sidecar, never the ones the client sent; both sidecars are asked', async () => {
      const { body: issued } = await a.api.issue({ subject: 'alice', ttl: LONG_TTL, clientIp: '127.0.0.1' });
      const cookie = `tokensync=${issued.token}`;
      const before = [await asked(a), await asked(b)];
      for (let i = 0; i < 4; i++) {
        const res = await viaProxy({ cookie, ...forged });
        assert.equal(res.status, 200, `${res.text}\n${caddy.logs}`);
        assert.deepEqual(res.body, {
          subject: 'alice',
          subjectEncoding: null,
          tokenId: issued.jti,
          kind: 'session',
          cookie,
          method: 'GET',
          path: '/app/page',
          bodyLength: 0,
        });
        assert.deepEqual(setCookies(res), ['theme=dark; Path=/'], "no reissue of a fresh token; the app's own cookie passes");
      }
      assert.deepEqual([(await asked(a)) - before[0]!, (await asked(b)) - before[1]!], [2, 2], 'round robin over both sidecars');
      // The auth request is a bodiless GET; the app still gets the client's method and body.
      const post = await request(caddy.url, 'POST', '/app/form', { headers: { cookie }, body: { note: 'x'.repeat(1000) } });
      assert.equal(post.status, 200);
      assert.deepEqual([post.body.method, post.body.path, post.body.subject], ['POST', '/app/form', 'alice']);
      assert.equal(post.body.bodyLength, JSON.stringify({ note: 'x'.repeat(1000) }).length);
    });

    test("no cookie: 401 at the proxy with the sidecar's WWW-Authenticate and X-Auth-Reason, forged identity headers or not; the app is never reached", async () => {
      const before = backendHits;
      for (const headers of [{}, forged, { ...forged, cookie: 'tokensync=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA' }]) {
        const res = await viaProxy(headers);
        assert.equal(res.status, 401, JSON.stringify(headers));
        assert.match(
          String(res.headers['www-authenticate']),
          /^Bearer realm="tokensync", error="invalid_token", error_description="(malformed|bad_signature)"$/,
        );
        assert.match(String(res.headers['x-auth-reason']), /^(malformed|bad_signature)$/);
        assert.equal(res.body.valid, false);
        assert.equal(setCookies(res).length, 0);
      }
      const none = await viaProxy();
      assert.equal(none.headers['x-auth-reason'], 'malformed');
      assert.match(String(none.headers['cache-control']), /no-store/);
      assert.equal(backendHits, before);
    });

    test('an API token as Authorization: Bearer passes, and the app is told its kind', async () => {
      const { body: issued } = await b.api.issue({ subject: 'svc-report', kind: 'api', clientIp: '127.0.0.1' });
      for (let i = 0; i < 2; i++) {
        const res = await viaProxy({ authorization: `Bearer ${issued.token}`, 'x-auth-token-kind': 'session' });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual([res.body.subject, res.body.tokenId, res.body.kind], ['svc-report', issued.jti, 'api']);
      }
    });

    test('a token revoked through the other sidecar is refused at the proxy, whichever sidecar Caddy asks', async () => {
      const { body: issued } = await a.api.issue({ subject: 'bob', ttl: LONG_TTL, clientIp: '127.0.0.1' });
      const cookie = `tokensync=${issued.token}`;
      assert.equal((await viaProxy({ cookie })).status, 200);
      assert.equal((await b.api.revoke(issued.jti)).status, 204);
      // Sidecar b refuses at once; a learns of the deletion from the store's change notification: wait for that event.
      await waitFor(
        async () => (await a.api.validate(issued.token, '127.0.0.1')).status === 401,
        'the revocation to reach sidecar a',
        2000,
      );
      const before = [backendHits, await asked(a), await asked(b)];
      for (let i = 0; i < 4; i++) {
        const res = await viaProxy({ cookie });
        assert.equal(res.status, 401);
        assert.equal(res.headers['x-auth-reason'], 'revoked');
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="tokensync", error="invalid_token", error_description="revoked"');
      }
      assert.equal(backendHits, before[0]);
      assert.deepEqual([(await asked(a)) - before[1]!, (await asked(b)) - before[2]!], [2, 2], 'both sidecars refused it');
    });

    test('address binding: Caddy passes the address it saw; a forged X-Forwarded-For or X-Real-IP does not help', async () => {
      const { body: issued } = await a.api.issue({ subject: 'dave', ttl: LONG_TTL, clientIp: '203.0.113.9' });
      const res = await viaProxy({ cookie: `tokensync=${issued.token}`, 'x-forwarded-for': '203.0.113.9', 'x-real-ip': '203.0.113.9' });
      assert.equal(res.status, 401);
      assert.equal(res.headers['x-auth-reason'], 'ip_mismatch');
    });

    test('a subject that is not printable ASCII reaches the app percent-encoded, and says so', async () => {
      const { body: issued } = await a.api.issue({ subject: 'zoë', ttl: LONG_TTL, clientIp: '127.0.0.1' });
      const res = await viaProxy({ cookie: `tokensync=${issued.token}` });
      assert.equal(res.status, 200);
      assert.deepEqual([res.body.subject, res.body.subjectEncoding], ['zo%C3%AB', 'percent']);
    });

    test('sliding expiry: a session in constant use through Caddy is reissued again and again, each new cookie accepted, and outlives its first token', async () => {
      const { body: issued } = await a.api.issue({ subject: 'erin', clientIp: '127.0.0.1' });
      const firstDeadAt = Date.parse(issued.expiresAt) + SKEW_S * 1000;
      const use = await useSession({ url: caddy.url, path: '/app/page', token: issued.token, until: () => Date.now() > firstDeadAt + 500 });
      assert.ok(
        use.reissues.length >= 2,
        `reissued ${use.reissues.length} times in ${use.answers.length} requests over more than one lifetime`,
      );
      for (const r of use.answers) assert.deepEqual([r.body.subject, r.body.tokenId], ['erin', issued.jti]);
      for (const c of use.reissues) assert.match(c, /^tokensync=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax; Max-Age=\d+$/);
      for (const r of use.answers) assert.ok(setCookies(r).includes('theme=dark; Path=/'), "the app's own cookie passes beside a reissue");
      // The first token has run out by now; the session has not.
      const first = await viaProxy({ cookie: `tokensync=${issued.token}` });
      assert.equal(first.status, 401);
      assert.equal(first.headers['x-auth-reason'], 'expired');
      const current = await viaProxy({ cookie: `tokensync=${use.tokens.at(-1)}` });
      assert.equal(current.status, 200);
      assert.equal(current.body.tokenId, issued.jti);
    });

    test('an empty sidecar list or no app: 503 at the proxy, never a pass', async () => {
      const { body: issued } = await a.api.issue({ subject: 'gus', ttl: LONG_TTL, clientIp: '127.0.0.1' });
      const app = `127.0.0.1:${(backend.address() as AddressInfo).port}`;
      const sidecars = `127.0.0.1:${a.port} 127.0.0.1:${b.port}`;
      const hits = backendHits;
      const cases: Array<[Record<string, string>, number]> = [
        [{ TOKENSYNC_UPSTREAM: '', APP_UPSTREAM: app }, 503],
        [{ TOKENSYNC_UPSTREAM: sidecars }, 503],
      ];
      for (const [env, status] of cases) {
        const misconfigured = await new CaddyProcess({ caddyfile: CADDYFILE, env: (port) => ({ LISTEN: `:${port}`, ...env }) }).start();
        try {
          const res = await request(misconfigured.url, 'GET', '/', { headers: { cookie: `tokensync=${issued.token}` } });
          assert.equal(res.status, status, JSON.stringify(env));
        } finally {
          await misconfigured.stop();
        }
      }
      assert.equal(backendHits, hits);
    });

    test('one sidecar down: Caddy asks the other and requests keep passing; both down: 502, never a pass', async () => {
      const { body: issued } = await b.api.issue({ subject: 'frank', ttl: LONG_TTL, clientIp: '127.0.0.1' });
      await a.stop();
      const before = await asked(b);
      for (let i = 0; i < 6; i++) {
        const res = await viaProxy({ cookie: `tokensync=${issued.token}` });
        assert.equal(res.status, 200, `${res.text}\n${caddy.logs.slice(-3000)}`);
        assert.equal(res.body.subject, 'frank');
      }
      assert.equal((await asked(b)) - before, 6, 'sidecar b answered every request');
      await b.stop();
      const hits = backendHits;
      const res = await viaProxy({ cookie: `tokensync=${issued.token}` });
      assert.equal(res.status, 502);
      assert.equal(backendHits, hits);
    });
  });
