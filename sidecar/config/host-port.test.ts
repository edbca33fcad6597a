import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatHostPort, isValidHost, parseHostPort } from './host-port.js';

test('parseHostPort reads names, IPv4 and bracketed IPv6', () => {
  assert.deepEqual(parseHostPort('localhost:80', { minPort: 1 }), { host: 'localhost', port: 80 });
  assert.deepEqual(parseHostPort('10.1.2.3:0', { minPort: 0 }), { host: '10.1.2.3', port: 0 });
  assert.deepEqual(parseHostPort('[::1]:7468', { minPort: 0 }), { host: '::1', port: 7468 });
  assert.deepEqual(parseHostPort('zk_1', { defaultPort: 2181, minPort: 1 }), { host: 'zk_1', port: 2181 });
});

test('parseHostPort needs a port when there is no default', () => {
  assert.throws(() => parseHostPort('localhost', { minPort: 0 }), /has no port/);
  assert.throws(() => parseHostPort('[::1]', { minPort: 0 }), /has no port/);
});

test('formatHostPort brackets IPv6 only', () => {
  assert.equal(formatHostPort({ host: '::1', port: 1 }), '[::1]:1');
  assert.equal(formatHostPort({ host: 'zk1', port: 2181 }), 'zk1:2181');
});

test('isValidHost', () => {
  for (const host of ['a', 'zk-1.example.com', 'zk_1', '192.168.0.1', '::1', 'fe80::1', 'A1']) {
    assert.ok(isValidHost(host), host);
  }
  for (const host of ['', '-a', 'a-', 'a..b', 'a b', '1.2.3', '256.0.0.1', 'a/b', 'x'.repeat(64), `${'a.'.repeat(127)}ab`]) {
    assert.ok(!isValidHost(host), host);
  }
});
