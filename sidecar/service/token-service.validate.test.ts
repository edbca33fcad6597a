import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_OPTIONS } from '../config/options.js';
import { Mirror } from '../mirror/mirror.js';
import type { TokenStore } from '../store/token-store.js';
import { newJti } from '../store/token-record.js';
import { TokenCodec } from '../tokens/token-codec.js';
import { TokenPolicy } from '../tokens/token-policy.js';
import { TEST_SECRET_A, TEST_SECRET_B, testKeys } from '../tokens/test-keys.js';
import { ManualClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import type { WritePath } from './write-path.js';
import { TokenService } from './token-service.js';

/**
 * The validation path forward-auth takes (`validateNow`): answered synchronously when the mirror settles
 * the token, a promise only when the store must be asked; and the verified-token memory never lets a
 * token through that the codec would refuse.
 */

function setup() {
  const clock = new ManualClock();
  const codec = new TokenCodec(testKeys(TEST_SECRET_A, TEST_SECRET_B));
  const policy = new TokenPolicy(DEFAULT_OPTIONS.token, clock);
  const mirror = new Mirror(16, { clock });
  mirror.markInitialized();
  const asked: string[] = [];
  const store = {
    state: 'connected',
    exists: async (ref: { jti: string }) => {
      asked.push(ref.jti);
      return false;
    },
  } as unknown as TokenStore;
  const service = new TokenService({
    nodeId: 'test',
    cookieName: 'tokensync',
    outagePolicy: 'serve-cached',
    store,
    mirror,
    codec,
    policy,
    writes: undefined as unknown as WritePath,
    clock,
    logger: silentLogger(),
  });
  const issue = (subject: string, inMirror = true) => {
    const { claims } = policy.issue('session', subject, newJti('session'));
    claims.lgn = mirror.gen(subject); // as TokenService.issue signs it
    if (inMirror) mirror.add({ jti: claims.jti, subject });
    return { token: codec.sign(claims), jti: claims.jti };
  };
  return { clock, codec, mirror, service, asked, issue };
}

test('a token the mirror holds is answered synchronously, again and again; one it does not know goes to the store', async () => {
  const { service, asked, issue } = setup();
  const known = issue('alice');
  for (let i = 0; i < 3; i++) {
    const result = service.validateNow(known.token);
    assert.ok(!(result instanceof Promise));
    assert.equal(result.valid, true);
    assert.equal(result.valid && result.claims.sub, 'alice');
  }
  const unknown = issue('bob', false);
  const pending = service.validateNow(unknown.token);
  assert.ok(pending instanceof Promise);
  assert.deepEqual(await pending, { valid: false, reason: 'revoked', message: 'no such token record (revoked or never issued)' });
  assert.deepEqual(asked, [unknown.jti]);
  // the awaited form gives the same answers
  assert.equal((await service.validate(known.token)).valid, true);
  assert.equal((await service.validate('garbage')).valid, false);
});

test('a remembered token still meets expiry, revocation and logout markers on every call', () => {
  const { clock, mirror, service, issue } = setup();
  const a = issue('alice');
  assert.equal((service.validateNow(a.token) as { valid: boolean }).valid, true);
  mirror.remove({ jti: a.jti, subject: 'alice' });
  assert.equal((service.validateNow(a.token) as { reason?: string }).reason, 'revoked');
  const b = issue('bob');
  assert.equal((service.validateNow(b.token) as { valid: boolean }).valid, true);
  mirror.applyMarker('bob', { gen: 1 }); // the first logout of bob: the token carries generation 0
  assert.equal((service.validateNow(b.token) as { reason?: string }).reason, 'revoked');
  const c = issue('carol');
  assert.equal((service.validateNow(c.token) as { valid: boolean }).valid, true);
  clock.advance(DEFAULT_OPTIONS.token.expirationMs + DEFAULT_OPTIONS.token.clockSkewMs + 2_000);
  assert.equal((service.validateNow(c.token) as { reason?: string }).reason, 'expired');
});

test('a token ending like a remembered one but different anywhere else is verified, not taken from memory', () => {
  const { service, issue } = setup();
  const { token } = issue('alice');
  assert.equal((service.validateNow(token) as { valid: boolean }).valid, true);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const forgedPayload = Buffer.from(
    JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'mallory' }),
  ).toString('base64url');
  for (const forged of [`${header}.${forgedPayload}.${signature}`, `x${token}`, `${header}X.${payload}.${signature}`]) {
    const result = service.validateNow(forged);
    assert.ok(!(result instanceof Promise));
    assert.equal(result.valid, false, forged);
  }
});

test('a remembered token stops validating as soon as its secret is retired', () => {
  const { codec, service, issue } = setup();
  const { token } = issue('alice');
  assert.equal((service.validateNow(token) as { valid: boolean }).valid, true);
  codec.setKeys(testKeys(TEST_SECRET_B));
  assert.equal((service.validateNow(token) as { reason?: string }).reason, 'bad_signature');
});
