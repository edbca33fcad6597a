import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { DEFAULT_OPTIONS } from './options.js';

test('DEFAULT_OPTIONS holds the contract defaults', () => {
  assert.equal(DEFAULT_OPTIONS.nodeId, hostname());
  assert.equal(DEFAULT_OPTIONS.appDataDir, './appdata');
  assert.equal(DEFAULT_OPTIONS.store.type, 'DIRECTORY');
  assert.equal(DEFAULT_OPTIONS.store.zookeeper.sessionTimeoutMs, 15_000);
  assert.equal(DEFAULT_OPTIONS.store.outagePolicy, 'serve-cached');
  assert.equal(DEFAULT_OPTIONS.token.expirationMs, 604_800_000);
  assert.equal(DEFAULT_OPTIONS.token.absoluteLifetimeMs, 2_592_000_000);
  assert.equal(DEFAULT_OPTIONS.token.onetimeExpirationMs, 120_000);
  assert.equal(DEFAULT_OPTIONS.token.clockSkewMs, 30_000);
  assert.deepEqual(DEFAULT_OPTIONS.sidecar.listen, { host: '127.0.0.1', port: 7468 });
  assert.equal(DEFAULT_OPTIONS.log.level, 'info');
});

test('DEFAULT_OPTIONS is frozen all the way down, so no caller can change the defaults for others', () => {
  const frozen = (value: object): void => {
    assert.ok(Object.isFrozen(value));
    for (const child of Object.values(value)) if (typeof child === 'object' && child !== null) frozen(child);
  };
  frozen(DEFAULT_OPTIONS);
  assert.throws(() => {
    (DEFAULT_OPTIONS.sidecar.trustedProxies as string[]).push('0.0.0.0/0');
  }, TypeError);
});
