import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../errors/config-error.js';
import { formatConnectString, parseConnectString } from './connect-string.js';

test('standard form: chroot after the last host', () => {
  assert.deepEqual(parseConnectString('zk1:2181,zk2:2182/tokensync'), {
    servers: ['zk1:2181', 'zk2:2182'],
    chroot: '/tokensync',
  });
});

test('per-host form with the same chroot on every host', () => {
  assert.deepEqual(parseConnectString('zkhost1:2181/pano,zkhost2:2181/pano'), {
    servers: ['zkhost1:2181', 'zkhost2:2181'],
    chroot: '/pano',
  });
  assert.deepEqual(parseConnectString('a/app/sub/,b/app/sub').chroot, '/app/sub');
});

test('no chroot, default port, whitespace around hosts', () => {
  assert.deepEqual(parseConnectString(' zk1 , zk2:2888 ,10.0.0.3 '), {
    servers: ['zk1:2181', 'zk2:2888', '10.0.0.3:2181'],
    chroot: '',
  });
});

test('chroot is normalized: no trailing slash, "/" alone is none', () => {
  assert.equal(parseConnectString('zk1:2181/app/').chroot, '/app');
  assert.equal(parseConnectString('zk1:2181/').chroot, '');
  assert.equal(parseConnectString('zk1:2181/a/b-c_d.e').chroot, '/a/b-c_d.e');
});

test('IPv6 in brackets, with and without a port', () => {
  assert.deepEqual(parseConnectString('[::1]:2181,[2001:db8::7]/app'), {
    servers: ['[::1]:2181', '[2001:db8::7]:2181'],
    chroot: '/app',
  });
});

test('differing chroots name both', () => {
  assert.throws(
    () => parseConnectString('zkhost1:2181/pano,zkhost2:2181/other'),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.code === 'config.invalid' &&
      error.message.includes('"/pano"') &&
      error.message.includes('"/other"'),
  );
});

test('bad connect strings are one-line ConfigErrors that quote the string', () => {
  const cases: [string, RegExp][] = [
    ['', /is empty/],
    ['zk1:2181,,zk2:2181', /empty server/],
    ['zk1:2181,', /empty server/],
    ['zk1:0', /port 0, which is out of range \(use a port from 1 to 65535\)/],
    ['zk1:65536', /port 65536, which is out of range/],
    ['zk1:abc', /port "abc", which is not a number/],
    ['zk1:', /port "", which is not a number/],
    ['zk1:2181,zk2:99999', /bad server "zk2:99999": it has port 99999/],
    ['bad host:2181', /invalid host "bad host"/],
    ['-zk:2181', /invalid host/],
    ['300.1.1.1:2181', /invalid host "300.1.1.1"/],
    [':2181', /has no host/],
    ['::1:2181', /IPv6 address without brackets/],
    ['[::1:2181', /"\[" without "\]"/],
    ['[zk1]:2181', /not an IPv6 address/],
    ['[::1]2181', /after "\]"/],
    ['zk1:2181/app,zk2:2181', /chroot after "zk1:2181\/app" but not after every host/],
    ['zk1/a//b', /invalid chroot "\/a\/\/b": empty segment/],
    ['zk1//', /empty segment/],
    ['zk1/a/../b', /"\." and "\.\." are not allowed/],
    ['zk1/./b', /"\." and "\.\." are not allowed/],
    ['zk1/a\u0001b', /control or reserved characters/],
    ['zk1/zookeeper/x', /reserved by ZooKeeper/],
    ['zk1:2181,ZK1:2181', /lists ZK1:2181 twice/],
    ['zk1,zk1:2181', /twice/],
  ];
  for (const [text, problem] of cases) {
    assert.throws(
      () => parseConnectString(text),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, text);
        assert.equal(error.code, 'config.invalid');
        assert.match(error.message, problem);
        assert.ok(error.message.startsWith(JSON.stringify(text)), error.message);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
      text,
    );
  }
});

test('formatConnectString gives the standard form, which parses back', () => {
  for (const text of ['zk1:2181,zk2:2181/pano', '[::1]:2181', 'a:1,b:2,c:3/x/y']) {
    const parsed = parseConnectString(text);
    assert.equal(formatConnectString(parsed), text);
    assert.deepEqual(parseConnectString(formatConnectString(parsed)), parsed);
  }
  assert.equal(formatConnectString(parseConnectString('zkhost1/pano,zkhost2/pano')), 'zkhost1:2181,zkhost2:2181/pano');
  assert.throws(() => formatConnectString({ servers: [], chroot: '' }), RangeError);
});
