import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeOptions } from './describe-options.js';
import { parseProperties } from './load-config.js';
import type { TokensyncOptions } from './options.js';

const base = parseProperties('', { baseDir: '/srv', env: { hostname: 'n1' } }).options;

test('describeOptions is a JSON-safe deep copy', () => {
  const described = describeOptions(base);
  assert.deepEqual(described, base);
  assert.deepEqual(JSON.parse(JSON.stringify(described)), described);
  assert.notEqual(described.store, base.store);
  assert.notEqual(described.sidecar.trustedProxies, base.sidecar.trustedProxies);
});

test('describeOptions masks the password, even on a hand-built options object', () => {
  const options: TokensyncOptions = {
    ...base,
    store: {
      ...base.store,
      zookeeper: { ...base.store.zookeeper, auth: { scheme: 'digest', user: 'u', password: 'hunter2' } },
    },
  };
  const described = describeOptions(options);
  assert.deepEqual(described.store.zookeeper.auth, { scheme: 'digest', user: 'u', password: '***' });
  assert.ok(!JSON.stringify(described).includes('hunter2'));
  assert.equal(options.store.zookeeper.auth?.password, 'hunter2', 'the input is not modified');
});

test('absent optional settings stay absent', () => {
  const described = describeOptions(base);
  assert.ok(!('auth' in described.store.zookeeper));
  assert.ok(!('connect' in described.store.zookeeper));
  assert.ok(!('adminTokenFile' in described.sidecar));
});
