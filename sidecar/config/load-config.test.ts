import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inspect } from 'node:util';
import { ConfigError } from '../errors/config-error.js';
import { describeOptions } from './describe-options.js';
import { KNOWN_KEYS } from './keys.js';
import { loadConfig, parseProperties, type ParsePropertiesOptions } from './load-config.js';
import type { TokensyncOptions } from './options.js';
import { tempDir } from '../util/test-temp-dirs.js';

const BASE = '/srv/tokensync';
const ENV = { hostname: 'node-a', cwd: '/cwd' };
const parse = (text: string, options: ParsePropertiesOptions = {}) => parseProperties(text, { baseDir: BASE, env: ENV, ...options });

function expectedDefaults(base: string, hostname = ENV.hostname): TokensyncOptions {
  return {
    nodeId: hostname,
    appDataDir: `${base}/appdata`,
    store: {
      type: 'DIRECTORY',
      directoryPath: `${base}/appdata/shared`,
      zookeeper: { sessionTimeoutMs: 15_000, shards: 4096, writeBatch: 128 },
      directoryShards: 256,
      rescanIntervalMs: 5_000,
      outagePolicy: 'serve-cached',
      reaperIntervalMs: 60_000,
      reaperRate: 500,
      journalDir: `${base}/appdata/journal`,
    },
    token: {
      cookie: 'tokensync',
      secretFile: `${base}/appdata/token_secret`,
      algorithm: 'HS256',
      expirationMs: 7 * 86_400_000,
      sliding: true,
      absoluteLifetimeMs: 30 * 86_400_000,
      idleTimeoutMs: 0,
      onetimeExpirationMs: 120_000,
      requireConsistentIp: false,
      clockSkewMs: 30_000,
    },
    sidecar: {
      listen: { host: '127.0.0.1', port: 7468 },
      trustedProxies: ['127.0.0.0/8', '::1/128'],
      maxBodyBytes: 16_384,
    },
    log: { level: 'info' },
  };
}

/** Asserts a one-line ConfigError and returns it for further checks. */
function configError(fn: () => unknown, code: ConfigError['code'] = 'config.invalid'): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.name, 'ConfigError');
    assert.equal(error.code, code, error.message);
    assert.doesNotMatch(error.message, /[\r\n]/);
    return error;
  }
  assert.fail('expected a ConfigError');
}

test('an empty file gives every default', () => {
  assert.deepEqual(parse(''), { options: expectedDefaults(BASE), warnings: [] });
});

test('comments, blank lines and Java separators are understood', () => {
  const { options, warnings } = parse(
    ['# comment', '! also a comment', '', 'node.id: n1', 'log.level   debug', 'authentication.token.cookie = \\', '    sid'].join('\n'),
  );
  assert.deepEqual(warnings, []);
  assert.equal(options.nodeId, 'n1');
  assert.equal(options.log.level, 'debug');
  assert.equal(options.token.cookie, 'sid');
});

test('every key is read into its option', () => {
  const text = `
node.id=node-7
app.data.dir=/var/lib/tokensync
cluster.store.type=ZOOKEEPER
cluster.store.directory.path=/mnt/shared
cluster.store.zookeeper.connect=zk1:2181,zk2/pano
cluster.store.zookeeper.session.timeout=30s
cluster.store.zookeeper.auth=digest:sync:pa:ss
authentication.token.cookie=SID
authentication.token.secret.file=/etc/tokensync/secret
authentication.token.expiration=1d
authentication.token.sliding=no
authentication.token.absolute.lifetime=2d
authentication.token.idle.timeout=30m
authentication.token.onetime.expiration=5m
authentication.token.require.consistent.ip=on
authentication.token.clock.skew=0
sidecar.listen=[::1]:0
sidecar.admin.token.file=/etc/tokensync/admin
cluster.store.outage.policy=reject
log.level=warn
cluster.store.zookeeper.shards=16
cluster.store.zookeeper.write.batch=1
cluster.store.zookeeper.resync.jitter=30s
cluster.store.directory.shards=1
cluster.store.directory.rescan.interval=250ms
cluster.store.reaper.interval=10s
cluster.store.reaper.rate=0.5
cluster.store.journal.dir=/var/journal
cluster.store.fallback.config=/etc/tokensync/old.properties
authentication.token.algorithm=hs512
sidecar.trusted.proxies=10.0.0.0/8, 192.168.1.7 ,fd00::/8
sidecar.max.body=1m
`;
  const { options, warnings } = parse(text);
  assert.deepEqual(warnings, []);
  assert.deepEqual(options, {
    nodeId: 'node-7',
    appDataDir: '/var/lib/tokensync',
    store: {
      type: 'ZOOKEEPER',
      directoryPath: '/mnt/shared',
      zookeeper: {
        connect: { servers: ['zk1:2181', 'zk2:2181'], chroot: '/pano' },
        sessionTimeoutMs: 30_000,
        auth: { scheme: 'digest', user: 'sync', password: 'pa:ss' },
        shards: 16,
        writeBatch: 1,
        resyncJitterMs: 30_000,
      },
      directoryShards: 1,
      rescanIntervalMs: 250,
      outagePolicy: 'reject',
      reaperIntervalMs: 10_000,
      reaperRate: 0.5,
      journalDir: '/var/journal',
      fallbackConfig: '/etc/tokensync/old.properties',
    },
    token: {
      cookie: 'SID',
      secretFile: '/etc/tokensync/secret',
      algorithm: 'HS512',
      expirationMs: 86_400_000,
      sliding: false,
      absoluteLifetimeMs: 2 * 86_400_000,
      idleTimeoutMs: 1_800_000,
      onetimeExpirationMs: 300_000,
      requireConsistentIp: true,
      clockSkewMs: 0,
    },
    sidecar: {
      listen: { host: '::1', port: 0 },
      adminTokenFile: '/etc/tokensync/admin',
      trustedProxies: ['10.0.0.0/8', '192.168.1.7', 'fd00::/8'],
      maxBodyBytes: 1_048_576,
    },
    log: { level: 'warn' },
  } satisfies TokensyncOptions);
  // Every documented key was exercised above.
  const written = text
    .trim()
    .split('\n')
    .map((line) => line.split('=')[0]);
  assert.deepEqual(written.sort(), Object.keys(KNOWN_KEYS).sort());
});

test('store type, outage policy, log level and algorithm are case-insensitive', () => {
  const { options } = parse(
    'cluster.store.type=zookeeper\ncluster.store.zookeeper.connect=zk1\ncluster.store.outage.policy=REJECT\nlog.level=Debug\nauthentication.token.algorithm=hs384',
  );
  assert.equal(options.store.type, 'ZOOKEEPER');
  assert.equal(options.store.outagePolicy, 'reject');
  assert.equal(options.log.level, 'debug');
  assert.equal(options.token.algorithm, 'HS384');
  assert.equal(parse('cluster.store.type=Directory').options.store.type, 'DIRECTORY');
});

test('booleans accept true/false/yes/no/on/off/1/0 in any case', () => {
  for (const [text, value] of [
    ['TRUE', true],
    ['Yes', true],
    ['on', true],
    ['1', true],
    ['false', false],
    ['NO', false],
    ['Off', false],
    ['0', false],
  ] as const) {
    assert.equal(parse(`authentication.token.sliding=${text}`).options.token.sliding, value, text);
  }
});

test('idle timeout: zero in any unit means off; negative is an error', () => {
  for (const text of ['0', '0s', '0ms', '0d']) {
    assert.equal(parse(`authentication.token.idle.timeout=${text}`).options.token.idleTimeoutMs, 0, text);
  }
  const error = configError(() => parse('authentication.token.idle.timeout=-1s'));
  assert.equal(error.message, 'authentication.token.idle.timeout: "-1s" is negative (use 45s, 30m, 12h, 7d or bare seconds)');
});

test('durations accept every form in the file', () => {
  assert.equal(parse('authentication.token.expiration=90').options.token.expirationMs, 90_000);
  assert.equal(parse('authentication.token.expiration=1h30m').options.token.expirationMs, 5_400_000);
  assert.equal(parse('authentication.token.expiration=  12h  ').options.token.expirationMs, 43_200_000);
});

test('a bad value is one line naming the key, the value and what is allowed', () => {
  assert.equal(
    configError(() => parse('authentication.token.expiration=7 days')).message,
    'authentication.token.expiration: "7 days" is not a duration (use 45s, 30m, 12h, 7d or bare seconds)',
  );

  const cases: [key: string, value: string, problem: RegExp][] = [
    ['node.id', 'node 1', /is not a valid node id \(use 1 to 253 letters/],
    ['node.id', '..', /is not a valid node id/],
    ['node.id', '-n', /is not a valid node id/],
    ['app.data.dir', 'a\0b', /NUL/],
    ['cluster.store.type', 'redis', /is not a store type \(use DIRECTORY or ZOOKEEPER\)/],
    ['cluster.store.zookeeper.connect', 'zk1:2181/a,zk2:2181/b', /differing chroots "\/a" and "\/b"/],
    ['cluster.store.zookeeper.connect', 'zk1:70000', /port 70000, which is out of range/],
    ['cluster.store.zookeeper.session.timeout', '1s', /is out of range \(use a duration from 2s to 10m\)/],
    ['cluster.store.zookeeper.session.timeout', '11m', /is out of range/],
    ['cluster.store.zookeeper.session.timeout', 'soon', /is not a duration/],
    ['authentication.token.cookie', 'my cookie', /is not a valid cookie name/],
    ['authentication.token.cookie', 'a;b', /is not a valid cookie name/],
    ['authentication.token.expiration', '0s', /is out of range \(use a duration greater than 0\)/],
    ['authentication.token.expiration', '-7d', /is negative/],
    ['authentication.token.sliding', 'maybe', /is not a boolean \(use true, false, yes, no, on, off, 1 or 0\)/],
    ['authentication.token.absolute.lifetime', '0', /is out of range/],
    ['authentication.token.idle.timeout', 'never', /is not a duration/],
    ['authentication.token.onetime.expiration', '0', /is out of range \(use a duration greater than 0\)/],
    ['authentication.token.require.consistent.ip', 'y', /is not a boolean/],
    ['authentication.token.clock.skew', '11m', /is out of range \(use a duration from 0s to 10m\)/],
    ['sidecar.listen', '127.0.0.1', /has no port/],
    ['sidecar.listen', '127.0.0.1:65536', /port 65536, which is out of range \(use a port from 0 to 65535\)/],
    ['sidecar.listen', '::1:7468', /IPv6 address without brackets/],
    ['cluster.store.outage.policy', 'serve_cached', /is not an outage policy \(use serve-cached or reject\)/],
    ['log.level', 'trace', /is not a log level \(use error, warn, info or debug\)/],
    ['cluster.store.zookeeper.shards', '8', /is not a power of two from 16 to 65536/],
    ['cluster.store.zookeeper.shards', '100', /is not a power of two/],
    ['cluster.store.zookeeper.shards', '131072', /is not a power of two/],
    ['cluster.store.zookeeper.write.batch', '0', /is not a whole number from 1 to 1000/],
    ['cluster.store.zookeeper.write.batch', '1001', /is not a whole number from 1 to 1000/],
    ['cluster.store.zookeeper.write.batch', '12.5', /is not a whole number/],
    ['cluster.store.directory.shards', '8192', /is not a power of two from 1 to 4096/],
    ['cluster.store.directory.shards', '0', /is not a power of two/],
    ['cluster.store.directory.shards', '2.0', /is not a power of two/],
    ['cluster.store.directory.rescan.interval', '10ms', /is out of range \(use a duration from 100ms to 1h\)/],
    ['cluster.store.reaper.interval', '2d', /is out of range \(use a duration from 1s to 1d\)/],
    ['cluster.store.reaper.rate', '0', /is not a number greater than 0/],
    ['cluster.store.reaper.rate', '-5', /is not a number greater than 0/],
    ['cluster.store.reaper.rate', 'fast', /is not a number greater than 0/],
    ['authentication.token.algorithm', 'RS256', /is not an algorithm \(use HS256, HS384 or HS512\)/],
    ['sidecar.trusted.proxies', 'proxy.local', /is not an IP address or CIDR/],
    ['sidecar.max.body', '512', /is out of range \(use a size from 1k to 10m\)/],
    ['sidecar.max.body', '11m', /is out of range/],
    ['sidecar.max.body', '1g', /is not a size/],
  ];
  for (const [key, value, problem] of cases) {
    const error = configError(() => parse(`${key}=${value}`));
    assert.equal(error.key, key);
    assert.equal(error.value, value);
    assert.ok(error.message.startsWith(`${key}: ${JSON.stringify(value)} `), error.message);
    assert.match(error.message, problem);
  }
});

test('a bad entry of a list is named on its own', () => {
  const error = configError(() => parse('sidecar.trusted.proxies=10.0.0.0/8,10.0.0.0/33'));
  assert.equal(error.value, '10.0.0.0/33');
  assert.ok(error.message.startsWith('sidecar.trusted.proxies: "10.0.0.0/33" is not an IP address or CIDR'));
  assert.match(configError(() => parse('sidecar.trusted.proxies=10.0.0.1,,10.0.0.2')).message, /empty entry/);
});

test('trusted proxies: "none" trusts no one', () => {
  assert.deepEqual(parse('sidecar.trusted.proxies=none').options.sidecar.trustedProxies, []);
});

test('sizes accept bytes and k/m suffixes', () => {
  assert.equal(parse('sidecar.max.body=2048').options.sidecar.maxBodyBytes, 2048);
  assert.equal(parse('sidecar.max.body=64K').options.sidecar.maxBodyBytes, 65_536);
  assert.equal(parse('sidecar.max.body=10m').options.sidecar.maxBodyBytes, 10_485_760);
});

test('an empty value is an error, except for path keys where it means "use the default"', () => {
  const error = configError(() => parse('authentication.token.expiration='));
  assert.equal(
    error.message,
    'authentication.token.expiration: "" is empty (use a duration greater than 0, or remove the line for the default: 7d)',
  );
  for (const key of ['cluster.store.type', 'cluster.store.zookeeper.connect', 'cluster.store.zookeeper.auth', 'log.level']) {
    assert.equal(configError(() => parse(`${key}=   `)).key, key);
  }
  const { options } = parse(
    [
      'app.data.dir=',
      'cluster.store.directory.path=',
      'authentication.token.secret.file=',
      'cluster.store.journal.dir=',
      'sidecar.admin.token.file=',
      'cluster.store.fallback.config=',
    ].join('\n'),
  );
  assert.deepEqual(options, expectedDefaults(BASE));
});

test('the first bad value in file order wins', () => {
  const error = configError(() => parse('log.level=loud\nauthentication.token.expiration=7 days'));
  assert.equal(error.key, 'log.level');
});

test('absolute lifetime shorter than expiration is an error naming both', () => {
  const written = configError(() => parse('authentication.token.expiration=2d\nauthentication.token.absolute.lifetime=1d'));
  assert.equal(
    written.message,
    'authentication.token.absolute.lifetime: "1d" is shorter than authentication.token.expiration, 2d (use at least 2d)',
  );
  const defaulted = configError(() => parse('authentication.token.expiration=60d'));
  assert.equal(defaulted.key, 'authentication.token.absolute.lifetime');
  assert.match(defaulted.message, /"30d" \(the default\) is shorter than authentication\.token\.expiration, 60d/);
  // Equal is fine: the session simply cannot slide.
  assert.equal(parse('authentication.token.expiration=30d').options.token.absoluteLifetimeMs, 30 * 86_400_000);
});

test('ZOOKEEPER needs a connect string; the error names the key', () => {
  const error = configError(() => parse('cluster.store.type=ZOOKEEPER'), 'config.missing');
  assert.equal(error.key, 'cluster.store.zookeeper.connect');
  assert.match(error.message, /^cluster\.store\.zookeeper\.connect: is required when cluster\.store\.type is ZOOKEEPER/);
});

test('a connect string is validated even while the store is DIRECTORY', () => {
  configError(() => parse('cluster.store.zookeeper.connect=zk1:0'));
});

test('an unknown key is a warning with the nearest known key', () => {
  const { options, warnings } = parse('authentication.token.expiraton=1d\nNODE.ID=x\nsomething.else=1\nnode.id=n1\nnode.id=n2');
  assert.deepEqual(warnings, [
    'key "node.id" is set more than once; the last value is used',
    'unknown key "authentication.token.expiraton" (did you mean "authentication.token.expiration"?)',
    'unknown key "NODE.ID" (did you mean "node.id"?)',
    'unknown key "something.else"',
  ]);
  assert.equal(options.token.expirationMs, 7 * 86_400_000, 'a misspelt key does not apply');
  assert.equal(options.nodeId, 'n2');
});

test('strict: an unknown key is an error', () => {
  const error = configError(() => parse('authentication.token.expiraton=1d', { strict: true }), 'config.unknown_key');
  assert.equal(error.key, 'authentication.token.expiraton');
  assert.equal(error.value, undefined);
  assert.equal(error.message, 'authentication.token.expiraton: unknown key (did you mean "authentication.token.expiration"?)');
  assert.deepEqual(parse('node.id=n1', { strict: true }).warnings, []);
});

test('a byte order mark does not become part of the first key', () => {
  const { options, warnings } = parse('\uFEFFnode.id=n1\n');
  assert.deepEqual(warnings, []);
  assert.equal(options.nodeId, 'n1');
});

test('node.id defaults to the host name, which must itself be a valid id', () => {
  assert.equal(parse('', { env: { hostname: 'web-3.example.com' } }).options.nodeId, 'web-3.example.com');
  const error = configError(() => parse('', { env: { hostname: 'bad host' } }));
  assert.equal(error.key, 'node.id');
  assert.match(error.message, /^node\.id: "bad host" is the host name, which is not a valid node id \(set node\.id/);
  assert.equal(parse('node.id=ok', { env: { hostname: 'bad host' } }).options.nodeId, 'ok');
});

test('relative paths resolve against baseDir, derived defaults against app.data.dir', () => {
  const { options } = parse(
    'app.data.dir=data\nauthentication.token.secret.file=../secrets/s\nsidecar.admin.token.file=admin.token\ncluster.store.fallback.config=old.properties',
  );
  assert.equal(options.appDataDir, `${BASE}/data`);
  assert.equal(options.store.directoryPath, `${BASE}/data/shared`);
  assert.equal(options.store.journalDir, `${BASE}/data/journal`);
  assert.equal(options.token.secretFile, '/srv/secrets/s');
  assert.equal(options.sidecar.adminTokenFile, `${BASE}/admin.token`);
  assert.equal(options.store.fallbackConfig, `${BASE}/old.properties`);
  // A path set explicitly is relative to the file, not to app.data.dir.
  assert.equal(parse('app.data.dir=data\ncluster.store.directory.path=shared').options.store.directoryPath, `${BASE}/shared`);
});

test('without baseDir, relative paths resolve against the working directory', () => {
  assert.equal(parseProperties('', { env: ENV }).options.appDataDir, '/cwd/appdata');
});

test('the password never appears in errors, descriptions, JSON or inspect output', () => {
  const password = 'Sup3r:s3cret-pw';
  const bare = 'Sup3r-s3cret-pw';
  const badAuth = [bare, `sasl:u:${bare}`, `digest:${bare}`, `digest::${bare}`, `DIGEST:${bare}:`, `digest :u:${bare}`];
  for (const value of badAuth) {
    const error = configError(() => parse(`cluster.store.zookeeper.auth=${value}`));
    assert.equal(error.key, 'cluster.store.zookeeper.auth');
    assert.equal(error.value, undefined);
    assert.ok(!error.message.includes('s3cret'), error.message);
    assert.ok(!inspect(error).includes('s3cret'));
    assert.match(error.message, /digest:user:password; value not shown/);
  }

  const text = `cluster.store.zookeeper.auth=digest:sync:${password}\ncluster.store.type=ZOOKEEPER`;
  const missing = configError(() => parse(text), 'config.missing');
  assert.ok(!missing.message.includes('s3cret'));

  const { options } = parse(`${text}\ncluster.store.zookeeper.connect=zk1`);
  assert.equal(options.store.zookeeper.auth?.password, password, 'the client still gets the password');
  const described = JSON.stringify(describeOptions(options));
  assert.ok(!described.includes('s3cret'), described);
  assert.match(described, /"password":"\*\*\*"/);
  assert.ok(!JSON.stringify(options).includes('s3cret'));
  assert.ok(!inspect(options, { depth: Infinity }).includes('s3cret'));
  assert.ok(!inspect({ ...options.store.zookeeper }, { depth: Infinity }).includes('s3cret'));
});

test('the auth password may contain colons; the scheme is case-insensitive', () => {
  const { options } = parse('cluster.store.zookeeper.auth=DIGEST:u:a:b:c');
  assert.deepEqual(options.store.zookeeper.auth, { scheme: 'digest', user: 'u', password: 'a:b:c' });
});

let dir: string;
before(async () => {
  dir = await tempDir('tokensync-config-');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('loadConfig reads the file and resolves paths against its directory', async () => {
  await mkdir(join(dir, 'conf'));
  const file = join(dir, 'conf', 'node1.properties');
  await writeFile(file, 'node.id=node1\napp.data.dir=../state\nlog.levl=debug\n');
  const loaded = await loadConfig(file, { env: ENV });
  assert.equal(loaded.path, file);
  assert.equal(loaded.options.nodeId, 'node1');
  assert.equal(loaded.options.appDataDir, join(dir, 'state'));
  assert.equal(loaded.options.token.secretFile, join(dir, 'state', 'token_secret'));
  assert.deepEqual(loaded.warnings, ['unknown key "log.levl" (did you mean "log.level"?)']);
});

test('loadConfig resolves a relative path against the working directory', async () => {
  await writeFile(join(dir, 'relative.properties'), 'node.id=rel\n');
  const loaded = await loadConfig('relative.properties', { env: { cwd: dir } });
  assert.equal(loaded.path, join(dir, 'relative.properties'));
  assert.equal(loaded.options.appDataDir, join(dir, 'appdata'));
});

test('loadConfig without a path gives all defaults', async () => {
  const loaded = await loadConfig(undefined, { env: ENV });
  assert.deepEqual(loaded, { options: expectedDefaults('/cwd'), warnings: [] });
});

test('loadConfig passes strict on', async () => {
  const file = join(dir, 'strict.properties');
  await writeFile(file, 'nodeid=x\n');
  await assert.rejects(loadConfig(file, { strict: true }), { code: 'config.unknown_key', key: 'nodeid' });
});

test('an unreadable file is config.unreadable naming the path', async () => {
  const missing = join(dir, 'nope.properties');
  await assert.rejects(loadConfig(missing), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.code, 'config.unreadable');
    assert.equal(error.value, missing);
    assert.equal(error.message, `${JSON.stringify(missing)} is not a readable configuration file (no such file, ENOENT)`);
    return true;
  });
  await assert.rejects(loadConfig(dir), { code: 'config.unreadable', message: /it is a directory, EISDIR/ });
});

test('sidecar.listen: a port alone listens on loopback', () => {
  assert.deepEqual(parse('sidecar.listen=7471').options.sidecar.listen, { host: '127.0.0.1', port: 7471 });
  assert.deepEqual(parse('sidecar.listen=0').options.sidecar.listen, { host: '127.0.0.1', port: 0 });
  assert.throws(() => parse('sidecar.listen=74710'), /^ConfigError: sidecar\.listen: "74710" has port 74710, which is out of range/);
});
