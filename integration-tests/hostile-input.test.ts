import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { request as plainRequest, type Api, type HttpResult } from './support/http.js';
import {
  b64url,
  decodeJwtPart,
  forgeJwt,
  kidOfSecret,
  LOOPBACK,
  rawHttp,
  rawRequest as plainRawRequest,
  readSigningSecret,
  snapshotDiff,
  storeSnapshot,
} from './support/fuzz.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Attacks on a live sidecar (DIRECTORY store) over HTTP: forged and tampered
 * JWTs, cookie tricks, limits, slow clients, broken encodings, nesting,
 * numbers and prototype keys. Each gets the right 4xx or 401 with a reason,
 * never a 5xx, and leaves the store as it was. The first list of hostile
 * bodies is in directory-cluster.test.ts; this file does not repeat it.
 */

let dir: string;
let storeRoot: string;
let secretPath: string;
let secret: string;
let kid: string;
let sidecar: SidecarProcess;
/** A valid session token for alice, an api token for bob, issued before the attacks. */
let alice: { token: string; jti: string };
let bob: { token: string; jti: string };

const SKEW_S = 2;
const COOKIE = 'tokensync';

/** Every request this file sends and the status it got, for the figures in docs/reliability.md. */
const tally = { requests: 0, statuses: new Map<number, number>() };
function counted<T extends { status: number }>(res: T): T {
  tally.requests++;
  tally.statuses.set(res.status, (tally.statuses.get(res.status) ?? 0) + 1);
  return res;
}
const request: typeof plainRequest = (...args) => plainRequest(...args).then(counted);
const rawRequest: typeof plainRawRequest = (...args) => plainRawRequest(...args).then(counted);
function countedApi(api: Api): Api {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function'
        ? (...args: unknown[]) => (value as (...a: unknown[]) => Promise<HttpResult>).apply(target, args).then(counted)
        : value;
    },
  });
}

before(async () => {
  dir = await tempDir('tokensync-hostile-');
  storeRoot = join(dir, 'store');
  secretPath = join(dir, 'token_secret');
  const base = { 'cluster.store.directory.path': storeRoot, 'authentication.token.secret.file': secretPath };
  const cli = await writeProperties(join(dir, 'cli.properties'), { ...base, 'app.data.dir': join(dir, 'appdata-cli') });
  const gen = await runCli(['secret', 'generate', '--config', cli]);
  assert.equal(gen.code, 0, gen.stderr);
  secret = await readSigningSecret(secretPath);
  kid = kidOfSecret(secret);
  sidecar = await new SidecarProcess({
    nodeId: 'hostile',
    dir,
    props: {
      ...base,
      'app.data.dir': join(dir, 'appdata'),
      'authentication.token.clock.skew': `${SKEW_S}s`,
      'authentication.token.require.consistent.ip': true,
      // Nothing may change the store behind the tests' backs.
      'cluster.store.reaper.interval': '1d',
    },
  }).start();
  sidecar.api = countedApi(sidecar.api);
  const a = await sidecar.api.issue({ subject: 'alice' });
  const b = await sidecar.api.issue({ subject: 'bob', kind: 'api' });
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  alice = { token: a.body.token, jti: a.body.jti };
  bob = { token: b.body.token, jti: b.body.jti };
});

after(async () => {
  if (!sidecar) return;
  const statuses = [...tally.statuses]
    .sort(([a], [b]) => a - b)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
  console.log(`hostile-input: ${tally.requests} requests (plus 41 slow connections); statuses ${statuses}`);
  const healthy = (await sidecar.api.get('/healthz').catch(() => undefined))?.status;
  const code = await sidecar.stop();
  assert.equal(healthy, 200, 'still healthy after every attack');
  assert.equal(code, 0, 'a clean stop');
  const unexpected = sidecar.logs.split('\n').filter((l) => /unexpected error/.test(l));
  assert.deepEqual(unexpected, [], 'the sidecar logged an unexpected error (a 500)');
});

// ---------------------------------------------------------------- helpers

const now = () => Math.floor(Date.now() / 1000);
const jti = () => `app-${randomBytes(9).toString('base64url')}`;

function post(path: string, raw: string | Buffer, headers: Record<string, string> = {}): Promise<HttpResult> {
  return request(sidecar.url, 'POST', path, { rawBody: raw, headers: { 'content-type': 'application/json', ...headers } });
}

/** A 4xx with the API's error shape: `{error, message}`, or `{valid:false, reason, message}` for a refused token. */
function assertRefused(res: HttpResult, status: number, code?: string, what = ''): void {
  const context = `${what} -> ${res.status} ${res.text.slice(0, 300)}`;
  assert.equal(res.status, status, context);
  assert.ok(res.status >= 400 && res.status < 500, context);
  if (res.body?.valid === false) {
    assert.equal(typeof res.body.reason, 'string', context);
    assert.equal(typeof res.body.message, 'string', context);
    if (code) assert.equal(res.body.reason, code, context);
  } else {
    assert.equal(typeof res.body?.error, 'string', context);
    assert.equal(typeof res.body?.message, 'string', context);
    if (code) assert.equal(res.body.error, code, context);
  }
}

/** Runs `fn` and asserts the store holds exactly what it held before. */
async function withUnchangedStore(fn: () => Promise<void>): Promise<void> {
  const before = await storeSnapshot(storeRoot);
  assert.ok(before.size > 0, 'the snapshot sees the records issued in before()');
  await fn();
  assert.deepEqual(snapshotDiff(before, await storeSnapshot(storeRoot)), [], 'the store changed');
}

/**
 * Presents a token at every entry point and expects the same refusal from
 * each: validate, forward auth by cookie and by bearer, consume, and mirror.
 */
async function refusedEverywhere(token: string, reason: string, what: string, message?: RegExp): Promise<void> {
  const validate = await post('/v1/validate', JSON.stringify({ token }));
  assertRefused(validate, 401, reason, `${what}: validate`);
  if (message) assert.match(validate.body.message, message, what);
  const entries: Record<string, string>[] = [{ cookie: `${COOKIE}=${token}` }, { authorization: `Bearer ${token}` }];
  for (const headers of entries) {
    const auth = await sidecar.api.auth(headers);
    assertRefused(auth, 401, reason, `${what}: auth ${Object.keys(headers)[0]}`);
    assert.equal(auth.headers['x-auth-reason'], reason, what);
    assert.match(String(auth.headers['www-authenticate']), /^Bearer realm="tokensync", error="invalid_token"/);
    assert.equal(auth.headers['x-auth-subject'], undefined, what);
  }
  assertRefused(await post('/v1/tokens/consume', JSON.stringify({ token })), 401, reason, `${what}: consume`);
  assertRefused(await post('/v1/tokens', JSON.stringify({ token })), 400, `token.${reason}`, `${what}: mirror`);
}

// ---------------------------------------------------------------- JWT attacks

test('alg none and algorithm confusion are refused as bad_signature at every entry point', async () => {
  await withUnchangedStore(async () => {
    const [h, p, s] = alice.token.split('.');
    const header = decodeJwtPart(alice.token, 0);
    const payload = decodeJwtPart(alice.token, 1);
    const attacks: Array<[string, string]> = [
      ['alg none, no signature', `${b64url({ ...header, alg: 'none' })}.${p}.`],
      ['alg none, signature kept', `${b64url({ ...header, alg: 'none' })}.${p}.${s}`],
      ['alg None', `${b64url({ alg: 'None', typ: 'JWT' })}.${p}.`],
      ['alg NONE', `${b64url({ alg: 'NONE', typ: 'JWT' })}.${p}.`],
      ['no alg at all', `${b64url({ typ: 'JWT', kid })}.${p}.${s}`],
      ['alg as an array', forgeJwt({ alg: ['HS256'], typ: 'JWT', kid }, payload, secret)],
      ['HS512 with the right secret', forgeJwt({ alg: 'HS512', typ: 'JWT', kid }, payload, secret, 'sha512')],
      ['HS384 with the right secret', forgeJwt({ alg: 'HS384', typ: 'JWT', kid }, payload, secret, 'sha384')],
      ['RS256 header, HMAC with the secret as "public key"', forgeJwt({ alg: 'RS256', typ: 'JWT', kid }, payload, secret)],
      ['ES256 header', forgeJwt({ alg: 'ES256', typ: 'JWT' }, payload, secret)],
      ['hs256 in lower case', forgeJwt({ alg: 'hs256', typ: 'JWT', kid }, payload, secret)],
      ['the header swapped, signature kept', `${b64url({ ...header, alg: 'HS512' })}.${p}.${s}`],
    ];
    assert.equal(`${h}.${p}.${s}`, alice.token);
    for (const [what, token] of attacks) await refusedEverywhere(token, 'bad_signature', what);
  });
});

test('unknown and path-like kids are refused, even on a token signed with the right secret', async () => {
  await withUnchangedStore(async () => {
    const payload = { sub: 'alice', jti: alice.jti, knd: 'session', iat: now(), exp: now() + 3600, ath: Date.now() };
    const kids: unknown[] = [
      'nope',
      '../../token_secret',
      secretPath,
      `file://${secretPath}`,
      '/dev/zero',
      '/proc/self/environ',
      '..\\..\\token_secret',
      '%2e%2e%2ftoken_secret',
      '\u0000',
      '__proto__',
      'constructor',
      'toString',
      42,
      null,
      {},
      [kid],
      'x'.repeat(2000),
    ];
    for (const k of kids)
      await refusedEverywhere(
        forgeJwt({ alg: 'HS256', typ: 'JWT', kid: k }, payload, secret),
        'bad_signature',
        `kid ${JSON.stringify(k).slice(0, 40)}`,
      );
  });
});

test('tampered claims, a swapped payload and a wrong secret are refused as bad_signature', async () => {
  await withUnchangedStore(async () => {
    const [h, , s] = alice.token.split('.');
    const claims = decodeJwtPart(alice.token, 1);
    const tampered: Array<[string, Record<string, unknown>]> = [
      ['sub changed', { ...claims, sub: 'admin' }],
      ['sub changed to another real subject', { ...claims, sub: 'bob' }],
      ['exp pushed out', { ...claims, exp: (claims.exp as number) + 10 * 365 * 86_400 }],
      ['exp removed', (({ exp: _exp, ...rest }) => rest)(claims)],
      ['kind changed to api', { ...claims, knd: 'api' }],
      ['jti of another token', { ...claims, jti: bob.jti }],
      ['bound to an address', { ...claims, cip: '203.0.113.7' }],
      ['first login moved later (logout markers)', { ...claims, ath: Date.now() + 86_400_000 }],
    ];
    for (const [what, c] of tampered) await refusedEverywhere(`${h}.${b64url(c)}.${s}`, 'bad_signature', what);
    await refusedEverywhere(`${h}.${bob.token.split('.')[1]}.${s}`, 'bad_signature', "bob's payload under alice's signature");
    const wrong = randomBytes(48).toString('base64url');
    await refusedEverywhere(forgeJwt({ alg: 'HS256', typ: 'JWT', kid }, claims, wrong), 'bad_signature', 'wrong secret, right kid');
    await refusedEverywhere(forgeJwt({ alg: 'HS256', typ: 'JWT' }, claims, wrong), 'bad_signature', 'wrong secret, no kid');
    await refusedEverywhere(forgeJwt({ alg: 'HS256', typ: 'JWT', kid }, claims, ''), 'bad_signature', 'empty secret');
    await refusedEverywhere(
      forgeJwt({ alg: 'HS256', typ: 'JWT', kid }, claims, secret.slice(0, -1)),
      'bad_signature',
      'secret with its last character dropped',
    );
    await refusedEverywhere(`${h}.${b64url(claims)}.`, 'malformed', 'signature stripped');
    // The untouched token is still fine: nothing above hurt it.
    assert.equal((await sidecar.api.validate(alice.token)).status, 200);
  });
});

test('expired and not-yet-valid tokens are refused as expired, issued or forged', async () => {
  const shortLived = await sidecar.api.issue({ subject: 'short', ttl: 1 });
  assert.equal(shortLived.status, 201);
  assert.equal((await sidecar.api.validate(shortLived.body.token)).status, 200);
  // A 1 s token is refused once its exp plus the 2 s clock skew has passed: wait for it, no longer.
  await waitFor(
    async () => (await sidecar.api.validate(shortLived.body.token)).body.reason === 'expired',
    'the 1 s token to expire',
    10_000,
    100,
  );
  await withUnchangedStore(async () => {
    await refusedEverywhere(shortLived.body.token, 'expired', 'issued with ttl 1s, now past exp + skew', /^expired at /);
    const t = now();
    const base = { sub: 'alice', jti: jti(), knd: 'session', ath: Date.now() - 7_200_000 };
    await refusedEverywhere(
      forgeJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...base, iat: t - 7200, exp: t - 3600 }, secret),
      'expired',
      'forged, expired an hour ago',
      /^expired at /,
    );
    await refusedEverywhere(
      forgeJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...base, iat: t, nbf: t + 3600, exp: t + 7200 }, secret),
      'expired',
      'nbf an hour ahead',
      /^not valid before /,
    );
    await refusedEverywhere(
      forgeJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...base, iat: t, nbf: t + 60 + SKEW_S, exp: t + 7200 }, secret),
      'expired',
      'nbf just past the skew',
      /^not valid before /,
    );
    // The same forged claims inside the skew are no longer refused for time: the missing record refuses them.
    const inSkew = await post(
      '/v1/validate',
      JSON.stringify({ token: forgeJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...base, iat: t, nbf: t - 1, exp: t + 7200 }, secret) }),
    );
    assertRefused(inSkew, 401, 'revoked', 'nbf in the past, no record');
  });
  await sidecar.api.revoke(shortLived.body.jti);
});

test('duplicate cookies of our name are refused; identical duplicates and other cookies are not', async () => {
  await withUnchangedStore(async () => {
    const forged = `${alice.token.split('.').slice(0, 2).join('.')}.${randomBytes(32).toString('base64url')}`;
    const cases: Array<[string, Record<string, string>, number, string?]> = [
      ['our cookie once, among others', { cookie: `a=1; ${COOKIE}=${alice.token}; b=2` }, 200],
      ['the same value twice', { cookie: `${COOKIE}=${alice.token}; ${COOKIE}=${alice.token}` }, 200],
      ['quoted value', { cookie: `${COOKIE}="${alice.token}"` }, 200],
      ['valid then forged', { cookie: `${COOKIE}=${alice.token}; ${COOKIE}=${forged}` }, 401, 'malformed'],
      ['forged then valid', { cookie: `${COOKIE}=${forged}; ${COOKIE}=${alice.token}` }, 401, 'malformed'],
      ["alice's then bob's", { cookie: `${COOKIE}=${alice.token}; ${COOKIE}=${bob.token}` }, 401, 'malformed'],
      ['valid then empty', { cookie: `${COOKIE}=${alice.token}; ${COOKIE}=` }, 401, 'malformed'],
      [
        'forged cookie, valid bearer: the cookie is what counts',
        { cookie: `${COOKIE}=${forged}`, authorization: `Bearer ${alice.token}` },
        401,
        'bad_signature',
      ],
      ['name in another case', { cookie: `TOKENSYNC=${alice.token}` }, 401, 'malformed'],
      [
        'prefixed and suffixed names',
        { cookie: `x${COOKIE}=${alice.token}; ${COOKIE}_=${alice.token}; __Host-${COOKIE}=${alice.token}` },
        401,
        'malformed',
      ],
      ['a token longer than 4096 characters', { cookie: `${COOKIE}=${'A'.repeat(5000)}` }, 401, 'malformed'],
    ];
    for (const [what, headers, status, reason] of cases) {
      const res = await sidecar.api.auth(headers);
      if (status === 200) {
        assert.equal(res.status, 200, `${what}: ${res.text}`);
        assert.equal(res.headers['x-auth-subject'], 'alice', what);
      } else {
        assertRefused(res, status, reason, what);
      }
    }
    const dupMessage = (await sidecar.api.auth({ cookie: `${COOKIE}=${alice.token}; ${COOKIE}=${forged}` })).body.message;
    assert.match(dupMessage, /more than one tokensync cookie/);
    // Two Cookie header lines are joined by the server: the duplicate is still seen.
    const twoLines = await rawRequest(
      sidecar.port,
      rawHttp('GET', '/v1/auth', [
        ['Cookie', `${COOKIE}=${alice.token}`],
        ['Cookie', `${COOKIE}=${forged}`],
      ]),
    );
    assert.equal(twoLines.status, 401);
    assert.match(twoLines.head, /X-Auth-Reason: malformed/i);
  });
});

test('oversized headers get 431 and oversized bodies 413, at once, and the sidecar carries on', async () => {
  await withUnchangedStore(async () => {
    const big = 'z'.repeat(17_000);
    const headerCases: Array<[string, Buffer]> = [
      ['one long cookie', rawHttp('GET', '/v1/auth', [['Cookie', `${COOKIE}=${big}`]])],
      [
        'many headers adding up',
        rawHttp(
          'GET',
          '/v1/auth',
          Array.from({ length: 100 }, (_, i) => [`X-H${i}`, 'v'.repeat(200)] as [string, string]),
        ),
      ],
      ['a long request target', rawHttp('GET', `/v1/tokens?subject=${big}`)],
      ['a long bearer token', rawHttp('GET', '/v1/auth', [['Authorization', `Bearer ${big}`]])],
    ];
    for (const [what, bytes] of headerCases) {
      const started = Date.now();
      const res = await rawRequest(sidecar.port, bytes, 5000);
      assert.equal(res.status, 431, `${what}: ${res.head}`);
      assert.equal(JSON.parse(res.body).error, 'request.headers_too_large', what);
      assert.ok(Date.now() - started < 2000, `${what} took ${Date.now() - started} ms`);
    }
    // Just under the limit is served (and refused for what it says, not for its size).
    const underLimit = await sidecar.api.auth({ cookie: `junk=${'z'.repeat(15_000)}` });
    assertRefused(underLimit, 401, 'malformed', '15 KB of other cookies');

    const pad = (json: string, size: number) => Buffer.from(json.replace(/}$/, `${' '.repeat(size - Buffer.byteLength(json))}}`));
    for (const path of ['/v1/tokens', '/v1/validate', '/v1/tokens/consume']) {
      const atLimit = pad('{"token":"a.b.c"}', 16 * 1024);
      assert.equal(atLimit.length, 16_384);
      const served = await post(path, atLimit);
      assert.notEqual(served.status, 413, `${path}: exactly sidecar.max.body is accepted`);
      assert.ok(served.status < 500, `${path}: ${served.status}`);
      assertRefused(await post(path, pad('{"token":"a.b.c"}', 16 * 1024 + 1)), 413, 'request.too_large', `${path} one byte over`);
      assertRefused(await post(path, Buffer.alloc(1024 * 1024, 0x20)), 413, 'request.too_large', `${path} 1 MiB`);
      // Declared too large, and never sent: answered at once, without waiting for a body.
      const started = Date.now();
      const declared = await rawRequest(
        sidecar.port,
        rawHttp('POST', path, [
          ['Content-Type', 'application/json'],
          ['Content-Length', '1000000000'],
        ]),
        5000,
      );
      assert.equal(declared.status, 413, `${path} declared 1 GB: ${declared.head}`);
      assert.ok(Date.now() - started < 2000, `declared 1 GB took ${Date.now() - started} ms`);
      // Chunked, no length declared: counted as it arrives.
      const chunk = `1000\r\n${' '.repeat(4096)}\r\n`;
      const chunked = await rawRequest(
        sidecar.port,
        Buffer.from(
          `POST ${path} HTTP/1.1\r\nHost: ${LOOPBACK}\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.repeat(5)}0\r\n\r\n`,
        ),
        5000,
      );
      assert.equal(chunked.status, 413, `${path} chunked 20 KiB: ${chunked.head}`);
    }
    // A compressed body is not inflated: it is not JSON.
    assertRefused(
      await post('/v1/validate', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), { 'content-encoding': 'gzip' }),
      400,
      undefined,
      'gzip body',
    );
    assert.equal((await sidecar.api.validate(alice.token)).status, 200);
  });
});

test('slow clients holding partial requests do not stop the sidecar serving others', async () => {
  const sockets: Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  const open = (first: string, drip?: string): Socket => {
    const socket = connect(sidecar.port, LOOPBACK);
    socket.on('error', () => undefined);
    socket.write(first);
    if (drip) timers.push(setInterval(() => socket.writable && socket.write(drip), 200));
    sockets.push(socket);
    return socket;
  };
  try {
    // 20 clients sending headers a line at a time, 20 sending a body a byte at a time.
    for (let i = 0; i < 20; i++) open(`GET /v1/auth HTTP/1.1\r\nHost: ${LOOPBACK}\r\n`, `X-Slow-${i}: x\r\n`);
    for (let i = 0; i < 20; i++)
      open(
        `POST /v1/validate HTTP/1.1\r\nHost: ${LOOPBACK}\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{"token":"`,
        'a',
      );
    // One more that stops half way through its body, to be finished later.
    const body = '{"token":"not.a.token"}';
    const late = open(
      `POST /v1/validate HTTP/1.1\r\nHost: ${LOOPBACK}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    const lateAnswer = new Promise<string>((resolve) => {
      let text = '';
      late.on('data', (c: Buffer) => (text += c.toString('latin1')));
      late.on('close', () => resolve(text));
    });
    // Meanwhile: 200 validations, 10 at a time, each answered promptly.
    let slowest = 0;
    const started = Date.now();
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const t0 = Date.now();
          const res = await sidecar.api.validate(alice.token);
          slowest = Math.max(slowest, Date.now() - t0);
          assert.equal(res.status, 200);
        }),
      );
    }
    // Hold the slow clients a little longer than the validations took, bounded.
    await new Promise((r) => setTimeout(r, Math.max(0, 1500 - (Date.now() - started))));
    console.log(`slow clients: 41 held open for ${Date.now() - started} ms; 200 validations meanwhile, slowest ${slowest} ms`);
    assert.ok(slowest < 1000, `slowest validation ${slowest} ms while slow clients were held`);
    // The half-sent body, finished late, is answered as if it had come at once.
    late.write(body.slice(10));
    const text = await Promise.race([lateAnswer, new Promise<string>((r) => setTimeout(() => r('(no answer in 5 s)'), 5000))]);
    assert.match(text, /^HTTP\/1\.1 401 /, text.slice(0, 200));
    assert.match(text, /"reason":"malformed"/);
  } finally {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
  }
  assert.equal((await sidecar.api.get('/healthz')).status, 200);
});

test('invalid UTF-8 is a 4xx, never a mangled subject in the store', async () => {
  await withUnchangedStore(async () => {
    const bad: Array<[string, Buffer]> = [
      ['0xff 0xfe', Buffer.from([0xff, 0xfe])],
      ['an overlong "/"', Buffer.from([0xc0, 0xaf])],
      ['a UTF-16 surrogate', Buffer.from([0xed, 0xa0, 0x80])],
      ['a truncated sequence', Buffer.from([0x61, 0xe2, 0x82])],
      ['a lone continuation byte', Buffer.from([0x80])],
      ['beyond U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
    ];
    for (const [what, bytes] of bad) {
      const json = (field: string) => Buffer.concat([Buffer.from(`{"${field}":"`), bytes, Buffer.from('"}')]);
      const issue = await post('/v1/tokens', json('subject'));
      assertRefused(issue, 400, 'request.malformed_json', `subject with ${what}`);
      assert.match(issue.body.message, /UTF-8/, what);
      assertRefused(
        await post('/v1/tokens', Buffer.concat([Buffer.from('{"subject":"x","attributes":{"'), bytes, Buffer.from('":1}}')])),
        400,
        'request.malformed_json',
        `attribute name with ${what}`,
      );
      assertRefused(await post('/v1/validate', json('token')), 400, 'request.malformed_json', `token with ${what}`);
      assertRefused(await post('/v1/tokens/consume', json('token')), 400, 'request.malformed_json', `consume with ${what}`);
    }
    // Percent-encoded in the path: not a subject, not a jti.
    for (const path of [
      '/v1/subjects/%ff%fe/tokens',
      '/v1/subjects/%C0%AF/tokens',
      '/v1/subjects/%ED%A0%80/tokens',
      '/v1/tokens/%C0%AF%C0%AF%C0%AF%C0%AF',
      '/v1/tokens/%ff%ff%ff%ff%ff%ff%ff%ff',
    ]) {
      const method = path.startsWith('/v1/subjects') ? 'DELETE' : 'GET';
      assertRefused(await request(sidecar.url, method, path), 400, undefined, `${method} ${path}`);
    }
    // Raw bytes in the request line are refused by the HTTP parser; in a cookie they are just not a token.
    const rawPath = await rawRequest(sidecar.port, rawHttp('GET', '/v1/tokens/\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8'));
    assert.ok(rawPath.status >= 400 && rawPath.status < 500, rawPath.head);
    const rawCookie = await rawRequest(
      sidecar.port,
      rawHttp('GET', '/v1/auth', [
        ['Cookie', Buffer.concat([Buffer.from(`${COOKIE}=`), Buffer.from([0xff, 0xfe]), Buffer.from(alice.token)])],
      ]),
    );
    assert.equal(rawCookie.status, 401, rawCookie.head);
    const rawForwarded = await rawRequest(
      sidecar.port,
      rawHttp('GET', '/v1/auth', [
        ['Cookie', `${COOKIE}=${alice.token}`],
        ['X-Forwarded-For', Buffer.from([0xff, 0x2c, 0xfe])],
      ]),
    );
    assert.ok(rawForwarded.status === 200 || rawForwarded.status === 401, rawForwarded.head);
  });
  // Valid UTF-8 beyond ASCII is kept exactly, and sent percent-encoded in X-Auth-Subject.
  const subject = 'zoë 😀 日本';
  const issued = await sidecar.api.issue({ subject, kind: 'api' });
  assert.equal(issued.status, 201);
  assert.equal(issued.body.subject, subject);
  assert.equal((await sidecar.api.inspect(issued.body.jti)).body.subject, subject);
  const auth = await sidecar.api.auth({ authorization: `Bearer ${issued.body.token}` });
  assert.equal(auth.headers['x-auth-subject'], encodeURIComponent(subject));
  assert.equal(auth.headers['x-auth-subject-encoding'], 'percent');
  assert.equal((await sidecar.api.revoke(issued.body.jti)).status, 204);
});

test('deeply nested JSON is a 400 naming the field', async () => {
  await withUnchangedStore(async () => {
    const arrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    const objects = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    const cases: Array<[string, string, string]> = [
      ['/v1/tokens', arrays(8000), 'request.invalid'],
      ['/v1/validate', arrays(8000), 'request.invalid'],
      ['/v1/tokens/consume', arrays(8000), 'request.invalid'],
      ['/v1/tokens', `{"subject":"x","attributes":${objects(2500)}}`, 'request.attributes'],
      ['/v1/tokens', `{"subject":${arrays(7000)}}`, 'request.subject'],
      ['/v1/tokens', `{"subject":"x","kind":${arrays(7000)}}`, 'request.kind'],
      ['/v1/tokens', `{"subject":"x","ttl":${objects(2500)}}`, 'request.ttl'],
      ['/v1/tokens', `{"subject":"x","clientIp":${arrays(7000)}}`, 'request.clientIp'],
      ['/v1/validate', `{"token":${objects(2500)}}`, 'request.token'],
      ['/v1/validate', `{"token":"a.b.c","clientIp":${objects(2500)}}`, 'request.clientIp'],
      ['/v1/tokens', `{"token":${arrays(7000)}}`, 'request.token'],
    ];
    for (const [path, body, code] of cases) {
      assert.ok(body.length <= 16_384, `${body.length} bytes fits sidecar.max.body`);
      assertRefused(await post(path, body), 400, code, `${path} ${body.slice(0, 40)}`);
    }
  });
});

test('huge numbers are a 400 naming the field, in bodies, queries and token claims', async () => {
  await withUnchangedStore(async () => {
    const cases: Array<[string, string, string]> = [
      ['/v1/tokens', '{"subject":"x","ttl":1e400}', 'request.ttl'],
      ['/v1/tokens', '{"subject":"x","ttl":-1e400}', 'request.ttl'],
      ['/v1/tokens', '{"subject":"x","ttl":1e308}', 'request.ttl'],
      ['/v1/tokens', '{"subject":"x","ttl":1e-400}', 'request.ttl'],
      ['/v1/tokens', '{"subject":"x","ttl":4.9e-324}', 'request.ttl'],
      ['/v1/tokens', '{"subject":"x","ttl":12345678901234567890}', 'request.ttl'],
      ['/v1/tokens', '{"subject":"x","ttl":315360001}', 'request.ttl'],
      ['/v1/tokens', '{"subject":"x","ttl":"99999999999999999999d"}', 'request.ttl'],
      ['/v1/tokens', '{"subject":"x","attributes":{"n":1e400}}', 'request.attributes'],
      ['/v1/tokens', '{"subject":"x","attributes":{"n":-1e400}}', 'request.attributes'],
      ['/v1/tokens', '{"subject":1e400}', 'request.subject'],
      ['/v1/tokens', '{"subject":"x","kind":1e400}', 'request.kind'],
      ['/v1/tokens', '{"subject":"x","clientIp":1e400}', 'request.clientIp'],
      ['/v1/validate', '{"token":1e400}', 'request.token'],
      ['/v1/validate', '{"token":"a.b.c","clientIp":12345678901234567890}', 'request.clientIp'],
      ['/v1/tokens/consume', '{"token":-1e400}', 'request.token'],
    ];
    for (const [path, body, code] of cases) assertRefused(await post(path, body), 400, code, `${path} ${body}`);
    for (const query of ['limit=1e400', 'limit=99999999999999999999', 'limit=-1e400', 'limit=Infinity', 'limit=NaN', 'limit=1.5']) {
      assertRefused(await sidecar.api.list(`?${query}`), 400, 'request.limit', query);
    }
    const pastTheEnd = await sidecar.api.list('?cursor=99999999999999999999999:x&limit=1');
    assert.equal(pastTheEnd.status, 200, 'a cursor past every shard is an empty last page');
    assert.deepEqual(pastTheEnd.body, { items: [], nextCursor: null });

    // Claims signed with the right secret, carrying times no Date can hold: malformed, and no record written.
    const t = now();
    const base = { sub: 'alice', knd: 'session', iat: t, exp: t + 3600 };
    const claims: Array<[string, string]> = [
      ['exp 1e308', `"exp":1e308`],
      ['exp past year 275760', `"exp":9000000000000`],
      ['exp 1e400 (Infinity)', `"exp":1e400`],
      ['exp -1e300', `"exp":-1e300`],
      ['iat 1e15', `"iat":1e15`],
      ['ath 1e300', `"ath":1e300`],
      ['nbf 1e300', `"nbf":1e300`],
      ['nbf -1e300', `"nbf":-1e300`],
      ['lft 1e300', `"lft":1e300`],
      ['exp as a string', `"exp":"1e400"`],
    ];
    for (const [what, extra] of claims) {
      const text = JSON.stringify({ ...base, jti: jti() }).replace(/}$/, `,${extra}}`);
      const body = `${b64url({ alg: 'HS256', typ: 'JWT', kid })}.${Buffer.from(text).toString('base64url')}`;
      await refusedEverywhere(`${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`, 'malformed', what);
    }
    // Listing still works: nothing poisoned the store.
    assert.equal((await sidecar.api.list('?limit=1000')).status, 200);
  });
});

test('prototype-pollution keys in bodies, attributes and claims are refused, and pollute nothing', async () => {
  await withUnchangedStore(async () => {
    const cases: Array<[string, string, string]> = [
      ['/v1/tokens', '{"__proto__":{"subject":"polluted"}}', 'request.subject'],
      ['/v1/tokens', '{"constructor":{"prototype":{"subject":"polluted"}}}', 'request.subject'],
      ['/v1/tokens', '{"__proto__":{"kind":"api"},"subject":""}', 'request.subject'],
      ['/v1/tokens', '{"subject":"x","attributes":{"__proto__":"x"}}', 'request.attributes'],
      ['/v1/tokens', '{"subject":"x","attributes":{"__proto__":null}}', 'request.attributes'],
      ['/v1/tokens', '{"subject":"x","attributes":{"__proto__":{"polluted":true}}}', 'request.attributes'],
      ['/v1/tokens', '{"subject":"x","attributes":{"constructor":{"prototype":{"polluted":true}}}}', 'request.attributes'],
      ['/v1/tokens', '{"subject":"x","kind":"__proto__"}', 'request.kind'],
      ['/v1/tokens', '{"subject":"x","kind":"constructor"}', 'request.kind'],
      ['/v1/tokens', '{"subject":"x","kind":"toString"}', 'request.kind'],
      ['/v1/tokens', '{"subject":"x","kind":"api","__proto__":{"ttl":60}}', 'none'],
      ['/v1/validate', '{"__proto__":{"token":"polluted"}}', 'request.token'],
      ['/v1/validate', '{"constructor":{"prototype":{"token":"polluted"}}}', 'request.token'],
      ['/v1/tokens/consume', '{"__proto__":{"token":"polluted"}}', 'request.token'],
      ['/v1/validate', '{"token":"a.b.c","__proto__":{"clientIp":"not an ip"}}', 'none'],
    ];
    const issuedBy: string[] = [];
    for (const [path, body, code] of cases) {
      const res = await post(path, body);
      if (code === 'none') {
        // The __proto__ key is inert data: the request is judged on its own fields.
        assert.ok(res.status === 201 || res.status === 401, `${path} ${body} -> ${res.status} ${res.text}`);
        if (res.status === 201) issuedBy.push(res.body.jti);
        continue;
      }
      assertRefused(res, 400, code, `${path} ${body}`);
    }
    for (const jti of issuedBy) assert.equal((await sidecar.api.revoke(jti)).status, 204);
    assertRefused(await sidecar.api.list('?kind=__proto__'), 400, 'request.kind', 'list kind=__proto__');
    assertRefused(await sidecar.api.list('?kind=constructor'), 400, 'request.kind', 'list kind=constructor');
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      assertRefused(await sidecar.api.inspect(name), 404, 'token.not_found', `inspect ${name}`);
      assertRefused(await sidecar.api.revoke(name), 404, 'token.not_found', `revoke ${name}`);
    }
    // Claims named like Object.prototype members, in a token the application signed itself and past half its life.
    for (const claim of ['constructor', '__proto__', 'toString', 'valueOf']) {
      const t = now();
      const text = `{"sub":"alice","jti":"${jti()}","iat":${t - 3000},"exp":${t + 600},${JSON.stringify(claim)}:{"polluted":true}}`;
      const body = `${b64url({ alg: 'HS256', typ: 'JWT', kid })}.${Buffer.from(text).toString('base64url')}`;
      await refusedEverywhere(
        `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`,
        'malformed',
        `claim ${claim}`,
        new RegExp(`claim name "${claim}"`),
      );
    }
    // Canaries: had any of the above polluted Object.prototype in the sidecar, these would answer differently.
    assertRefused(await post('/v1/validate', '{}'), 400, 'request.token', 'empty validate');
    assertRefused(await post('/v1/tokens', '{}'), 400, 'request.subject', 'empty issue');
    assertRefused(await sidecar.api.auth({}), 401, 'malformed', 'auth without a token');
    const ok = await sidecar.api.validate(alice.token);
    assert.equal(ok.status, 200);
    assert.deepEqual(Object.keys(ok.body).sort(), ['expiresAt', 'jti', 'kind', 'subject', 'valid']);
  });
});

test('attribute names and subjects named like Object.prototype members are plain data', async () => {
  const attributes = { constructor: 'c', toString: 't', hasOwnProperty: 'h', valueOf: 1, prototype: null };
  const issued = await sidecar.api.issue({ subject: 'attrs', kind: 'api', attributes });
  assert.equal(issued.status, 201, issued.text);
  assert.deepEqual((await sidecar.api.inspect(issued.body.jti)).body.attributes, attributes);
  assert.equal((await sidecar.api.revoke(issued.body.jti)).status, 204);

  for (const subject of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    const t = await sidecar.api.issue({ subject });
    assert.equal(t.status, 201, `${subject}: ${t.text}`);
    const v = await sidecar.api.validate(t.body.token);
    assert.equal(v.status, 200, subject);
    assert.equal(v.body.subject, subject);
    assert.equal((await sidecar.api.auth({ cookie: `${COOKIE}=${t.body.token}` })).headers['x-auth-subject'], subject);
    const list = await sidecar.api.list(`?subject=${encodeURIComponent(subject)}`);
    assert.deepEqual(
      list.body.items.map((i: { jti: string }) => i.jti),
      [t.body.jti],
      subject,
    );
    const out = await sidecar.api.logout(subject);
    assert.equal(out.status, 200, subject);
    assert.equal(out.body.revoked, 1, subject);
    assertRefused(await sidecar.api.validate(t.body.token), 401, 'revoked', `${subject} after logout`);
  }
  // Those logouts touched no one else.
  assert.equal((await sidecar.api.validate(alice.token)).status, 200);
  assert.equal((await sidecar.api.validate(bob.token)).status, 200);
});

test('unparseable and absolute-form request targets are a 4xx; an X-Forwarded-For of garbage is a 401', async () => {
  await withUnchangedStore(async () => {
    for (const target of [
      'http://[/',
      'http://a:b@[::1/v1',
      'http://x:99999/',
      'http://x%/',
      'http://',
      'http://[::1',
      'https://]/v1/auth',
    ]) {
      const res = await rawRequest(sidecar.port, rawHttp('GET', target));
      assert.ok(res.status >= 400 && res.status < 500, `GET ${target} -> ${res.head}`);
    }
    for (const target of ['http://127.0.0.1/healthz', '//elsewhere/healthz', '/healthz?x=%', '/./healthz', '/v1/../healthz']) {
      const res = await rawRequest(sidecar.port, rawHttp('GET', target));
      assert.ok(res.status > 0 && res.status < 500, `GET ${target} -> ${res.head}`);
    }
    // Address binding from a trusted proxy (loopback): the client address is whatever the header says.
    const bound = await sidecar.api.issue({ subject: 'bound', kind: 'api', clientIp: '203.0.113.7' });
    assert.equal(bound.status, 201);
    const forwarded = [
      '::%x',
      'fe80::%eth0',
      'fe80::1%eth0',
      '1::%25',
      '::ffff:203.0.113.7%x',
      '::1.2.3.4',
      '1.2.3.4.5',
      '256.1.1.1',
      'unknown',
      ',',
      ', ,',
      '-1',
      'a'.repeat(1000),
      '203.0.113.7, ::%x',
      '::%x, 203.0.113.7',
    ];
    for (const xff of forwarded) {
      for (const header of ['x-forwarded-for', 'x-real-ip']) {
        const res = await sidecar.api.auth({ authorization: `Bearer ${bound.body.token}`, [header]: xff });
        assert.ok(res.status === 200 || res.status === 401, `${header}: ${xff} -> ${res.status} ${res.text}`);
        if (res.status === 401) assert.equal(res.headers['x-auth-reason'], 'ip_mismatch', `${header}: ${xff}`);
      }
      const v = await post('/v1/validate', JSON.stringify({ token: bound.body.token, clientIp: xff }));
      assert.ok(v.status === 400 || v.status === 401, `clientIp ${xff} -> ${v.status} ${v.text}`);
    }
    assert.equal((await sidecar.api.auth({ authorization: `Bearer ${bound.body.token}`, 'x-forwarded-for': '203.0.113.7' })).status, 200);
    assert.equal((await sidecar.api.revoke(bound.body.jti)).status, 204);
  });
});
