import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KNOWN_KEYS } from './keys.js';

// The Configuration table of the outside contract (shared/CONTRACT.md).
const CONTRACT_KEYS = [
  'node.id',
  'app.data.dir',
  'cluster.store.type',
  'cluster.store.directory.path',
  'cluster.store.zookeeper.connect',
  'cluster.store.zookeeper.session.timeout',
  'cluster.store.zookeeper.auth',
  'authentication.token.cookie',
  'authentication.token.secret.file',
  'authentication.token.expiration',
  'authentication.token.sliding',
  'authentication.token.absolute.lifetime',
  'authentication.token.idle.timeout',
  'authentication.token.onetime.expiration',
  'authentication.token.require.consistent.ip',
  'authentication.token.clock.skew',
  'sidecar.listen',
  'sidecar.admin.token.file',
  'cluster.store.outage.policy',
  'log.level',
];

test('KNOWN_KEYS lists the contract keys first, in contract order, then our extensions', () => {
  const keys = Object.keys(KNOWN_KEYS);
  assert.deepEqual(keys.slice(0, CONTRACT_KEYS.length), CONTRACT_KEYS);
  for (const key of CONTRACT_KEYS) assert.equal(KNOWN_KEYS[key as keyof typeof KNOWN_KEYS].extension, false, key);
  for (const key of keys.slice(CONTRACT_KEYS.length)) {
    assert.equal(KNOWN_KEYS[key as keyof typeof KNOWN_KEYS].extension, true, key);
  }
});

test('every key has a description, a default and what is allowed', () => {
  for (const [key, known] of Object.entries(KNOWN_KEYS)) {
    assert.ok(known.description.length > 0, key);
    assert.ok(known.default.length > 0, key);
    assert.ok(known.allowed.length > 0, key);
  }
});

test('defaults as text match the contract', () => {
  const defaults = Object.fromEntries(Object.entries(KNOWN_KEYS).map(([key, known]) => [key, known.default]));
  assert.deepEqual(
    {
      'app.data.dir': defaults['app.data.dir'],
      'cluster.store.type': defaults['cluster.store.type'],
      'cluster.store.directory.path': defaults['cluster.store.directory.path'],
      'cluster.store.zookeeper.session.timeout': defaults['cluster.store.zookeeper.session.timeout'],
      'authentication.token.cookie': defaults['authentication.token.cookie'],
      'authentication.token.secret.file': defaults['authentication.token.secret.file'],
      'authentication.token.expiration': defaults['authentication.token.expiration'],
      'authentication.token.sliding': defaults['authentication.token.sliding'],
      'authentication.token.absolute.lifetime': defaults['authentication.token.absolute.lifetime'],
      'authentication.token.onetime.expiration': defaults['authentication.token.onetime.expiration'],
      'authentication.token.require.consistent.ip': defaults['authentication.token.require.consistent.ip'],
      'authentication.token.clock.skew': defaults['authentication.token.clock.skew'],
      'sidecar.listen': defaults['sidecar.listen'],
      'cluster.store.outage.policy': defaults['cluster.store.outage.policy'],
      'log.level': defaults['log.level'],
    },
    {
      'app.data.dir': './appdata',
      'cluster.store.type': 'DIRECTORY',
      'cluster.store.directory.path': '<AppData>/shared',
      'cluster.store.zookeeper.session.timeout': '15s',
      'authentication.token.cookie': 'tokensync',
      'authentication.token.secret.file': '<AppData>/token_secret',
      'authentication.token.expiration': '7d',
      'authentication.token.sliding': 'true',
      'authentication.token.absolute.lifetime': '30d',
      'authentication.token.onetime.expiration': '2m',
      'authentication.token.require.consistent.ip': 'false',
      'authentication.token.clock.skew': '30s',
      'sidecar.listen': '127.0.0.1:7468',
      'cluster.store.outage.policy': 'serve-cached',
      'log.level': 'info',
    },
  );
});

test('KNOWN_KEYS cannot be changed by a caller', () => {
  assert.ok(Object.isFrozen(KNOWN_KEYS));
  assert.ok(Object.isFrozen(KNOWN_KEYS['node.id']));
});
