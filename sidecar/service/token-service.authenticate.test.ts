import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_OPTIONS } from '../config/options.js';
import { Metrics } from '../metrics/metrics.js';
import { Mirror } from '../mirror/mirror.js';
import { DirectoryStore } from '../store/directory/directory-store.js';
import { newJti, type TokenKind } from '../store/token-record.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';
import { TokenCodec } from '../tokens/token-codec.js';
import { TokenPolicy } from '../tokens/token-policy.js';
import { TEST_SECRET_A, testKeys } from '../tokens/test-keys.js';
import { ManualClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import type { WritePath } from './write-path.js';
import { TokenService, type Validation } from './token-service.js';

/**
 * `authenticate` (what forward-auth and the in-process Express middleware grant requests on) against a real
 * DIRECTORY store shared by two services, each with its own mirror: a one-time token lets exactly one call
 * through, on either node; `validate` only peeks at it; other tokens answer as `validateNow` does, in the same
 * tick. The mirrors are fed by hand (no watches), which is the moment before a node hears of a consumption.
 */

const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

async function cluster() {
  const root = await mkdtemp(join(tmpdir(), 'tokensync-authenticate-unit-'));
  roots.push(root);
  const clock = new ManualClock(Date.now());
  const codec = new TokenCodec(testKeys(TEST_SECRET_A));
  const policy = new TokenPolicy(DEFAULT_OPTIONS.token, clock);
  const node = async (nodeId: string) => {
    const store = new DirectoryStore({ root, shards: 4, rescanIntervalMs: 60_000, logger: silentLogger(), nodeId });
    await store.start({ watch: false });
    const mirror = new Mirror(4, { clock });
    mirror.markInitialized();
    const metrics = new Metrics(
      { mirrorSize: () => 0, mirrorLagMs: () => 0, journalPending: () => 0, storeState: () => store.state },
      { defaultMetrics: false },
    );
    const service = new TokenService({
      nodeId,
      cookieName: 'tokensync',
      outagePolicy: 'serve-cached',
      store,
      mirror,
      codec,
      policy,
      writes: undefined as unknown as WritePath, // nothing here issues through the service
      metrics,
      clock,
      logger: silentLogger(),
    });
    return { store, mirror, metrics, service };
  };
  const a = await node('a');
  const b = await node('b');
  /** A token whose record is in the store and in both mirrors, as after its creation was heard everywhere. */
  const issue = async (kind: TokenKind, subject: string) => {
    const { claims, recordExpiresAt } = policy.issue(kind, subject, newJti(kind));
    const ref = { jti: claims.jti, subject };
    assert.equal(await a.store.create({ ...ref, kind, issuedAt: claims.ath, expiresAt: recordExpiresAt, node: 'a' }), true);
    a.mirror.add(ref);
    b.mirror.add(ref);
    return { token: codec.sign(claims), ref };
  };
  return { a, b, issue };
}

async function counted(metrics: Metrics, name: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text.split('\n').filter((line) => line.startsWith(name));
}

test('a one-time token: the first authenticate is granted and uses it up; every later one, on either node, is refused as consumed', async () => {
  const { a, b, issue } = await cluster();
  const { token, ref } = await issue('onetime', 'carol');
  const first = await a.service.authenticate(token);
  assert.equal(first.valid, true);
  assert.equal(first.valid && first.consumed, true);
  assert.equal(first.valid && first.claims.sub, 'carol');
  assert.equal(await a.store.exists(ref), false, 'the record is gone from the store');

  // Node a knows at once; node b has not heard yet (its mirror still holds the record): the store decides.
  assert.deepEqual(pick(await a.service.authenticate(token)), { valid: false, reason: 'consumed' });
  assert.equal(b.mirror.lookup(ref.jti).presence, 'present');
  assert.deepEqual(pick(await b.service.authenticate(token)), { valid: false, reason: 'consumed' });
  assert.deepEqual(pick(await b.service.authenticate(token)), { valid: false, reason: 'consumed' });

  assert.deepEqual(await counted(a.metrics, 'tokensync_onetime_consumptions_total'), [
    'tokensync_onetime_consumptions_total{result="won"} 1',
    'tokensync_onetime_consumptions_total{result="lost"} 1',
  ]);
  assert.deepEqual(await counted(b.metrics, 'tokensync_onetime_consumptions_total'), [
    'tokensync_onetime_consumptions_total{result="lost"} 2',
  ]);
  assert.deepEqual(await counted(a.metrics, 'tokensync_validations_total'), [
    'tokensync_validations_total{result="valid",reason=""} 1',
    'tokensync_validations_total{result="invalid",reason="consumed"} 1',
  ]);
});

test('validate only peeks at a one-time token (valid, consumed: false), as often as asked; it stays for the one authenticate', async () => {
  const { a, b, issue } = await cluster();
  const { token, ref } = await issue('onetime', 'dave');
  for (const node of [a, b, a, b]) {
    const peek = await node.service.validate(token);
    assert.equal(peek.valid, true);
    assert.equal(peek.valid && peek.consumed, false);
  }
  assert.equal(await a.store.exists(ref), true, 'a peek leaves the record');
  assert.equal((await b.service.authenticate(token)).valid, true);
  assert.deepEqual(pick(await b.service.validate(token)), { valid: false, reason: 'consumed' });
  // Node a hears of it by the store's notification (by hand here); until then its peek answers from its mirror.
  a.mirror.remove(ref);
  assert.deepEqual(pick(await a.service.validate(token)), { valid: false, reason: 'consumed' });
});

test('authenticate, consume and authenticate on the other node racing for one token: exactly one is granted, 40 times', async () => {
  const { a, b, issue } = await cluster();
  for (let round = 0; round < 40; round++) {
    const { token } = await issue('onetime', `racer-${round}`);
    const results = await Promise.all([
      a.service.authenticate(token),
      b.service.authenticate(token),
      a.service.consume(token),
      b.service.authenticate(token),
      b.service.consume(token),
    ]);
    assert.equal(results.filter((r) => r.valid).length, 1, `round ${round}: ${JSON.stringify(results.map(pick))}`);
    assert.ok(results.every((r) => r.valid || r.reason === 'consumed'));
  }
});

test('session and api tokens: authenticate answers as validateNow does, synchronously, and never uses them up', async () => {
  const { a, issue } = await cluster();
  for (const kind of ['session', 'api'] as const) {
    const { token, ref } = await issue(kind, `user-${kind}`);
    for (let i = 0; i < 3; i++) {
      const result = a.service.authenticate(token);
      assert.ok(!(result instanceof Promise));
      assert.equal(result.valid, true);
      assert.equal(result.valid && result.consumed, undefined);
    }
    assert.equal(await a.store.exists(ref), true);
  }
  assert.deepEqual(pick(a.service.authenticate('not.a.token') as Validation), { valid: false, reason: 'malformed' });
});

test('with the store unreachable a one-time token is never let through: StoreUnavailableError (503), the token still unused', async () => {
  const { a, b, issue } = await cluster();
  const { token, ref } = await issue('onetime', 'erin');
  await a.store.close();
  await assert.rejects(async () => a.service.authenticate(token), StoreUnavailableError);
  assert.deepEqual(await counted(a.metrics, 'tokensync_onetime_consumptions_total'), [
    'tokensync_onetime_consumptions_total{result="unavailable"} 1',
  ]);
  assert.equal(await b.store.exists(ref), true);
  assert.equal((await b.service.authenticate(token)).valid, true, 'usable once, on a node that reaches the store');
});

test('a one-time token journaled here and not yet replayed: consuming it is 503 (retry), not consumed; once replayed, it is used once', async () => {
  const { a, b } = await cluster();
  const { claims, recordExpiresAt } = new TokenPolicy(DEFAULT_OPTIONS.token, new ManualClock(Date.now())).issue(
    'onetime',
    'frank',
    newJti('onetime'),
  );
  const ref = { jti: claims.jti, subject: 'frank' };
  const token = new TokenCodec(testKeys(TEST_SECRET_A)).sign(claims);
  // what a journaled issue leaves: the record in this node's overlay, not in the store (the store is back, the replay not done)
  a.mirror.addPending(ref);
  await assert.rejects(async () => a.service.authenticate(token), StoreUnavailableError);
  await assert.rejects(() => a.service.consume(token), StoreUnavailableError);
  assert.equal((await a.service.validate(token)).valid, true, 'a peek still sees it');
  // the replay: the record created, the overlay settled
  assert.equal(await a.store.create({ ...ref, kind: 'onetime', issuedAt: claims.ath, expiresAt: recordExpiresAt, node: 'a' }), true);
  a.mirror.settle(ref.jti);
  const spent = await a.service.consume(token);
  assert.equal(spent.valid && spent.consumed, true);
  b.mirror.add(ref);
  assert.deepEqual(pick(await b.service.authenticate(token)), { valid: false, reason: 'consumed' });
});

function pick(v: Validation): { valid: boolean; reason?: string } {
  return v.valid ? { valid: true } : { valid: false, reason: v.reason };
}
