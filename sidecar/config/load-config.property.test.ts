import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { stringify } from 'dot-properties';
import fc from 'fast-check';
import { ConfigError, type ConfigErrorCode } from '../errors/config-error.js';
import { describeOptions } from './describe-options.js';
import { formatDuration } from './duration.js';
import { KNOWN_KEYS, type ConfigKey } from './keys.js';
import { parseProperties, type ParsedConfig } from './load-config.js';
import type { TokensyncOptions } from './options.js';

/**
 * Properties of the properties-file loader: whatever text an operator (or a
 * broken deploy script) puts in the file, start-up ends in options or in one
 * ConfigError line, never in another exception; and every valid value written
 * to the file comes back as the option it stands for.
 */

const BASE = '/srv/tokensync';
const ENV = { hostname: 'node-a', cwd: '/cwd' };
const CODES: ConfigErrorCode[] = ['config.invalid', 'config.unknown_key', 'config.missing', 'config.unreadable'];
const KEYS = Object.keys(KNOWN_KEYS) as ConfigKey[];

function parse(text: string, strict = false): ParsedConfig {
  return parseProperties(text, { baseDir: BASE, env: ENV, strict });
}

/** Parses and sorts the outcome: options, or a ConfigError checked for shape. Anything else fails the property. */
function parseOrConfigError(text: string, strict = false): ParsedConfig | ConfigError {
  try {
    const parsed = parse(text, strict);
    for (const w of parsed.warnings) assert.doesNotMatch(w, /[\r\n]/, 'a warning is one line');
    return parsed;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `${JSON.stringify(text.slice(0, 200))} threw ${inspect(error)}`);
    assert.ok(CODES.includes(error.code), error.code);
    assert.doesNotMatch(error.message, /[\r\n]/, 'the message is one line');
    assert.ok(error.message.length > 0);
    return error;
  }
}

/** One `key=value` line as a person (or a script) might write it: known keys, near misses, separators, escapes. */
const keyArb = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 1, arbitrary: fc.constantFrom(...KEYS).map((k) => k.toUpperCase()) },
  { weight: 1, arbitrary: fc.constantFrom(...KEYS).map((k) => k.slice(0, -1)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);
const valueArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '1e309',
    'true',
    'ZOOKEEPER',
    'zookeeper',
    'digest:u:p',
    'digest::',
    '[::1]:0',
    '0.0.0.0:99999',
    '\\',
    '\\u12',
    '\\uZZZZ',
    '\u0000',
    '7 days',
    '1d',
    '1ms',
  ),
);
const separatorArb = fc.constantFrom('=', ':', ' ', ' = ', '\t', '=\\\n   ');
const lineArb = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(keyArb, separatorArb, valueArb).map(([k, sep, v]) => `${k}${sep}${v}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '# comment', '! comment', '\\', '=', ':', '\uFEFF', '   \\') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
);
const fileArb = fc.tuple(fc.array(lineArb, { maxLength: 12 }), fc.constantFrom('\n', '\r\n', '\r')).map(([lines, nl]) => lines.join(nl));

test('any string as a properties file gives options or a one-line ConfigError, nothing else', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => void parseOrConfigError(text)),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary-ascii', maxLength: 200 }), (text) => void parseOrConfigError(text)),
    { numRuns: 500 },
  );
});

test('files of plausible and implausible key=value lines give options or a one-line ConfigError, strict or not', () => {
  fc.assert(
    fc.property(fileArb, fc.boolean(), (text, strict) => {
      const outcome = parseOrConfigError(text, strict);
      if (strict && !(outcome instanceof ConfigError))
        assert.ok(!outcome.warnings.some((w) => w.startsWith('unknown key')), 'strict never warns about unknown keys');
    }),
    { numRuns: 2000 },
  );
});

test('unknown keys are warnings naming the key, or config.unknown_key when strict', () => {
  const unknown = fc.stringMatching(/^[a-z][a-z.]{0,30}$/).filter((k) => !KEYS.includes(k as ConfigKey));
  fc.assert(
    fc.property(unknown, (key) => {
      const loose = parse(`${key}=1`);
      assert.equal(loose.warnings.length, 1);
      assert.ok(loose.warnings[0]!.startsWith(`unknown key ${JSON.stringify(key)}`), loose.warnings[0]);
      const strict = parseOrConfigError(`${key}=1`, true);
      assert.ok(strict instanceof ConfigError && strict.code === 'config.unknown_key' && strict.key === key);
    }),
  );
});

/** Where a key's value lands in the options, for the round trips. */
const READ: Partial<Record<ConfigKey, (o: TokensyncOptions) => unknown>> = {
  'node.id': (o) => o.nodeId,
  'app.data.dir': (o) => o.appDataDir,
  'cluster.store.type': (o) => o.store.type,
  'cluster.store.directory.path': (o) => o.store.directoryPath,
  'cluster.store.zookeeper.session.timeout': (o) => o.store.zookeeper.sessionTimeoutMs,
  'authentication.token.cookie': (o) => o.token.cookie,
  'authentication.token.secret.file': (o) => o.token.secretFile,
  'authentication.token.expiration': (o) => o.token.expirationMs,
  'authentication.token.sliding': (o) => o.token.sliding,
  'authentication.token.absolute.lifetime': (o) => o.token.absoluteLifetimeMs,
  'authentication.token.idle.timeout': (o) => o.token.idleTimeoutMs,
  'authentication.token.onetime.expiration': (o) => o.token.onetimeExpirationMs,
  'authentication.token.require.consistent.ip': (o) => o.token.requireConsistentIp,
  'authentication.token.clock.skew': (o) => o.token.clockSkewMs,
  'sidecar.listen': (o) => o.sidecar.listen,
  'sidecar.admin.token.file': (o) => o.sidecar.adminTokenFile,
  'cluster.store.outage.policy': (o) => o.store.outagePolicy,
  'log.level': (o) => o.log.level,
  'cluster.store.zookeeper.shards': (o) => o.store.zookeeper.shards,
  'cluster.store.zookeeper.write.batch': (o) => o.store.zookeeper.writeBatch,
  'cluster.store.directory.shards': (o) => o.store.directoryShards,
  'cluster.store.directory.rescan.interval': (o) => o.store.rescanIntervalMs,
  'cluster.store.reaper.interval': (o) => o.store.reaperIntervalMs,
  'cluster.store.reaper.rate': (o) => o.store.reaperRate,
  'cluster.store.journal.dir': (o) => o.store.journalDir,
  'cluster.store.fallback.config': (o) => o.store.fallbackConfig,
  'authentication.token.algorithm': (o) => o.token.algorithm,
  'sidecar.trusted.proxies': (o) => o.sidecar.trustedProxies,
  'sidecar.max.body': (o) => o.sidecar.maxBodyBytes,
};

/** A value written with the properties format's own escaping (dot-properties), so any text survives the file. */
function line(key: ConfigKey, value: string): string {
  return `${stringify([[key, value]], { lineWidth: null })}\n`;
}

function roundTrip(key: ConfigKey, written: string, expected: unknown, extra = ''): void {
  const { options, warnings } = parse(`${extra}${line(key, written)}`);
  assert.deepEqual(warnings, []);
  assert.deepEqual(READ[key]!(options), expected, `${key}=${written}`);
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

test('durations round-trip through the file in every key, inside each key’s range', () => {
  const ranges: [ConfigKey, number, number][] = [
    ['cluster.store.zookeeper.session.timeout', 2 * SECOND, 10 * MINUTE],
    ['authentication.token.onetime.expiration', 1, Number.MAX_SAFE_INTEGER],
    ['authentication.token.idle.timeout', 0, Number.MAX_SAFE_INTEGER],
    ['authentication.token.clock.skew', 0, 10 * MINUTE],
    ['cluster.store.directory.rescan.interval', 100, HOUR],
    ['cluster.store.reaper.interval', SECOND, DAY],
  ];
  for (const [key, min, max] of ranges) {
    fc.assert(
      fc.property(fc.integer({ min, max }), fc.boolean(), (ms, bare) => {
        const written = bare && ms % 1000 === 0 ? String(ms / 1000) : formatDuration(ms);
        roundTrip(key, written, ms);
      }),
      { numRuns: 200 },
    );
    // Just outside the range: refused, naming the key.
    for (const ms of [min - 1, max + 1].filter((n) => n >= 0 && n <= Number.MAX_SAFE_INTEGER)) {
      const outcome = parseOrConfigError(line(key, formatDuration(ms)));
      assert.ok(outcome instanceof ConfigError && outcome.key === key && /out of range/.test(outcome.message), `${key} ${ms}`);
    }
  }
  // Expiration and absolute lifetime are checked against each other.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 400 * DAY }), fc.integer({ min: 1, max: 400 * DAY }), (expiration, absolute) => {
      const text = `${line('authentication.token.expiration', formatDuration(expiration))}${line('authentication.token.absolute.lifetime', formatDuration(absolute))}`;
      const outcome = parseOrConfigError(text);
      if (absolute >= expiration) {
        assert.ok(!(outcome instanceof ConfigError), outcome instanceof ConfigError ? outcome.message : '');
        assert.equal(outcome.options.token.expirationMs, expiration);
        assert.equal(outcome.options.token.absoluteLifetimeMs, absolute);
      } else {
        assert.ok(outcome instanceof ConfigError && outcome.key === 'authentication.token.absolute.lifetime');
      }
    }),
  );
});

test('booleans, choices and numbers round-trip in any case', () => {
  const truthy = fc.mixedCase(fc.constantFrom('true', 'yes', 'on', '1'));
  const falsy = fc.mixedCase(fc.constantFrom('false', 'no', 'off', '0'));
  for (const key of ['authentication.token.sliding', 'authentication.token.require.consistent.ip'] as const) {
    fc.assert(fc.property(truthy, (w) => roundTrip(key, w, true)));
    fc.assert(fc.property(falsy, (w) => roundTrip(key, w, false)));
  }
  const choices: [ConfigKey, readonly string[]][] = [
    ['cluster.store.outage.policy', ['serve-cached', 'reject']],
    ['log.level', ['error', 'warn', 'info', 'debug']],
    ['authentication.token.algorithm', ['HS256', 'HS384', 'HS512']],
  ];
  for (const [key, values] of choices) {
    const written = fc.constantFrom(...values).chain((v) => fc.tuple(fc.constant(v), fc.mixedCase(fc.constant(v))));
    fc.assert(fc.property(written, ([v, text]) => roundTrip(key, text, v)));
  }
  fc.assert(fc.property(fc.mixedCase(fc.constant('directory')), (w) => roundTrip('cluster.store.type', w, 'DIRECTORY')));
  fc.assert(fc.property(fc.integer({ min: 4, max: 16 }), (p) => roundTrip('cluster.store.zookeeper.shards', String(2 ** p), 2 ** p)));
  fc.assert(fc.property(fc.integer({ min: 0, max: 12 }), (p) => roundTrip('cluster.store.directory.shards', String(2 ** p), 2 ** p)));
  fc.assert(fc.property(fc.integer({ min: 1, max: 1_000_000 }), (n) => roundTrip('cluster.store.reaper.rate', String(n), n)));
  const size = fc.oneof(
    fc.integer({ min: 1024, max: 10 * 1024 * 1024 }).map((n) => [String(n), n] as const),
    fc.tuple(fc.integer({ min: 1, max: 10 * 1024 }), fc.constantFrom('k', 'K')).map(([n, k]) => [`${n}${k}`, n * 1024] as const),
    fc.tuple(fc.integer({ min: 1, max: 10 }), fc.constantFrom('m', 'M')).map(([n, m]) => [`${n}${m}`, n * 1024 * 1024] as const),
  );
  fc.assert(fc.property(size, ([text, bytes]) => roundTrip('sidecar.max.body', text, bytes)));
});

test('names, addresses and paths round-trip', () => {
  fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/), (id) => roundTrip('node.id', id, id)));
  fc.assert(
    fc.property(fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,40}$/), (name) => roundTrip('authentication.token.cookie', name, name)),
  );
  fc.assert(
    fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (host, port) =>
      roundTrip('sidecar.listen', `${host}:${port}`, { host, port }),
    ),
  );
  fc.assert(
    fc.property(fc.ipV6(), fc.integer({ min: 0, max: 65535 }), (host, port) =>
      roundTrip('sidecar.listen', `[${host}]:${port}`, { host, port }),
    ),
  );
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.oneof(
          fc.ipV4(),
          fc.ipV4().map((ip) => `${ip}/${ip.length % 33}`),
        ),
        { minLength: 1, maxLength: 5 },
      ),
      (list) => roundTrip('sidecar.trusted.proxies', list.join(', '), list),
    ),
  );
  // Paths: any text without NUL and without surrounding whitespace, escaped by the properties writer.
  const pathText = fc
    .string({ unit: 'binary', minLength: 1, maxLength: 40 })
    .filter((p) => !p.includes('\0') && p.trim() === p && p !== '');
  for (const key of [
    'app.data.dir',
    'cluster.store.directory.path',
    'authentication.token.secret.file',
    'sidecar.admin.token.file',
    'cluster.store.journal.dir',
    'cluster.store.fallback.config',
  ] as const) {
    fc.assert(
      fc.property(pathText, (p) => roundTrip(key, p, resolve(BASE, p))),
      { numRuns: 200 },
    );
  }
  // A relative app.data.dir moves every derived default with it.
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z][a-z0-9/_-]{0,20}$/), (dir) => {
      const { options } = parse(line('app.data.dir', dir));
      const appData = resolve(BASE, dir);
      assert.equal(options.store.directoryPath, resolve(appData, 'shared'));
      assert.equal(options.token.secretFile, resolve(appData, 'token_secret'));
      assert.equal(options.store.journalDir, resolve(appData, 'journal'));
    }),
  );
});

test('a repeated key keeps its last value and warns once per repeat', () => {
  fc.assert(
    fc.property(fc.array(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), { minLength: 1, maxLength: 6 }), (ids) => {
      const { options, warnings } = parse(ids.map((id) => line('node.id', id)).join(''));
      assert.equal(options.nodeId, ids.at(-1));
      assert.equal(warnings.length, ids.length - 1);
    }),
  );
});

test('the ZooKeeper password never shows: not in errors, not in the options as logged', () => {
  const password = fc.stringMatching(/^[A-Za-z0-9:!@#%^&*()_+=-]{1,30}$/).map((p) => `PW${p}`);
  const user = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
  fc.assert(
    fc.property(user, password, (u, p) => {
      const { options } = parse(
        `${line('cluster.store.zookeeper.auth', `digest:${u}:${p}`)}cluster.store.type=ZOOKEEPER\ncluster.store.zookeeper.connect=zk1\n`,
      );
      assert.deepEqual({ ...options.store.zookeeper.auth }, { scheme: 'digest', user: u, password: p });
      for (const shown of [JSON.stringify(options), inspect(options, { depth: 10 }), JSON.stringify(describeOptions(options))]) {
        assert.ok(!shown.includes(p), `password in ${shown.slice(0, 300)}`);
      }
    }),
  );
  // A malformed value is refused without echoing any part of it.
  const bad = fc.oneof(
    password.map((p) => `nodigest:${p}`),
    password.map((p) => `digest::${p}`),
    password.map((p) => `${p}`),
  );
  fc.assert(
    fc.property(bad, (value) => {
      const outcome = parseOrConfigError(line('cluster.store.zookeeper.auth', value));
      assert.ok(outcome instanceof ConfigError && outcome.key === 'cluster.store.zookeeper.auth');
      assert.ok(!outcome.message.includes(value) && outcome.value === undefined, outcome.message);
      assert.ok(!outcome.message.includes(value.slice(value.indexOf('PW'))), outcome.message);
    }),
  );
});
