import { formatDuration } from './duration.js';
import { DEFAULT_OPTIONS as D } from './options.js';
import {
  addressList,
  boolean,
  byteSize,
  connectString,
  cookieName,
  digestAuth,
  duration,
  formatSize,
  listenAddress,
  nodeId,
  oneOf,
  path,
  positiveNumber,
  powerOfTwo,
  wholeNumber,
  type ValueRule,
} from './value-rules.js';

export interface KeySpec<T> extends ValueRule<T> {
  description: string;
  /** The default, as a person would write it in the file. */
  default: string;
  /** Ours, not in the outside contract. */
  extension?: true;
  /** Never echo the value: not in errors, not in descriptions. */
  secret?: true;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Every key the loader understands, in the order the README lists them. */
export const KEY_SPECS = {
  'node.id': {
    description: "this node's name in the cluster",
    default: 'host name',
    ...nodeId(),
  },
  'app.data.dir': {
    description: '<AppData>: local state of this node',
    default: D.appDataDir,
    ...path(),
  },
  'cluster.store.type': {
    description: 'shared store: DIRECTORY (embedded) or ZOOKEEPER',
    default: D.store.type,
    ...oneOf('a store type', ['DIRECTORY', 'ZOOKEEPER']),
  },
  'cluster.store.directory.path': {
    description: 'DIRECTORY store root',
    default: `<AppData>/${D.store.directoryPath}`,
    ...path(),
  },
  'cluster.store.zookeeper.connect': {
    description: 'ZooKeeper connect string, required for ZOOKEEPER; the per-host form zk1:2181/app,zk2:2181/app is accepted too',
    default: 'none',
    ...connectString(),
  },
  'cluster.store.zookeeper.session.timeout': {
    description: 'ZooKeeper session timeout',
    default: formatDuration(D.store.zookeeper.sessionTimeoutMs),
    ...duration(2 * SECOND, 10 * MINUTE),
  },
  'cluster.store.zookeeper.auth': {
    description: 'when set, every znode we create is readable and writable by this identity alone',
    default: 'none',
    secret: true,
    ...digestAuth(),
  },
  'authentication.token.cookie': {
    description: 'cookie name; must be the same on every node',
    default: D.token.cookie,
    ...cookieName(),
  },
  'authentication.token.secret.file': {
    description: 'shared signing secrets, one per line; must be the same on every node',
    default: `<AppData>/${D.token.secretFile}`,
    ...path(),
  },
  'authentication.token.expiration': {
    description: 'lifetime of a session token',
    default: formatDuration(D.token.expirationMs),
    ...duration(1),
  },
  'authentication.token.sliding': {
    description: 'reissue a session token once past half its lifetime',
    default: String(D.token.sliding),
    ...boolean(),
  },
  'authentication.token.absolute.lifetime': {
    description: 'no reissue past this age from first login; at least authentication.token.expiration',
    default: formatDuration(D.token.absoluteLifetimeMs),
    ...duration(1),
  },
  'authentication.token.idle.timeout': {
    description: 'reject a session token unused for this long',
    default: '0 (off)',
    ...duration(0, undefined, '0 (off) or a duration'),
  },
  'authentication.token.onetime.expiration': {
    description: 'lifetime of a one-time token',
    default: formatDuration(D.token.onetimeExpirationMs),
    ...duration(1),
  },
  'authentication.token.require.consistent.ip': {
    description: 'reject a token presented from another client address than it was issued to',
    default: String(D.token.requireConsistentIp),
    ...boolean(),
  },
  'authentication.token.clock.skew': {
    description: 'tolerance for clocks of different nodes',
    default: formatDuration(D.token.clockSkewMs),
    ...duration(0, 10 * MINUTE),
  },
  'sidecar.listen': {
    description: 'HTTP address of the sidecar; port 0 picks a free port',
    default: `${D.sidecar.listen.host}:${D.sidecar.listen.port}`,
    ...listenAddress(),
  },
  'sidecar.admin.token.file': {
    description: 'when set, admin endpoints need Authorization: Bearer <contents>',
    default: 'none',
    ...path(),
  },
  'cluster.store.outage.policy': {
    description: 'while the store is unreachable: validate from the mirror, or reject',
    default: D.store.outagePolicy,
    ...oneOf('an outage policy', ['serve-cached', 'reject']),
  },
  'log.level': {
    description: 'log verbosity',
    default: D.log.level,
    ...oneOf('a log level', ['error', 'warn', 'info', 'debug']),
  },
  'cluster.store.zookeeper.shards': {
    description: 'record shards in ZooKeeper; read only when the tree is first created',
    default: String(D.store.zookeeper.shards),
    extension: true,
    ...powerOfTwo(16, 65_536),
  },
  'cluster.store.zookeeper.write.batch': {
    description: 'most token records created in one ZooKeeper transaction (multi); 1 sends one create per token',
    default: String(D.store.zookeeper.writeBatch),
    extension: true,
    ...wholeNumber(1, 1000),
  },
  'cluster.store.zookeeper.resync.jitter': {
    description: 'most random delay before a sidecar re-lists every shard after a reconnect (spreads the reads of a cluster)',
    default: 'min(2s, session timeout / 4)',
    extension: true,
    ...duration(0, 10 * MINUTE),
  },
  'cluster.store.directory.shards': {
    description: 'record shards (subdirectories) of the DIRECTORY store',
    default: String(D.store.directoryShards),
    extension: true,
    ...powerOfTwo(1, 4096),
  },
  'cluster.store.directory.rescan.interval': {
    description: 'DIRECTORY store rescan period, for file systems without change events',
    default: formatDuration(D.store.rescanIntervalMs),
    extension: true,
    ...duration(100, HOUR),
  },
  'cluster.store.reaper.interval': {
    description: 'how often expired records are deleted from the store',
    default: formatDuration(D.store.reaperIntervalMs),
    extension: true,
    ...duration(SECOND, DAY),
  },
  'cluster.store.reaper.rate': {
    description: 'most expired records deleted per second',
    default: String(D.store.reaperRate),
    extension: true,
    ...positiveNumber(),
  },
  'cluster.store.journal.dir': {
    description: 'journal of writes accepted during a store outage',
    default: `<AppData>/${D.store.journalDir}`,
    extension: true,
    ...path(),
  },
  'cluster.store.fallback.config': {
    description: "the previous store's properties file, during a store migration cutover",
    default: 'none',
    extension: true,
    ...path(),
  },
  'authentication.token.algorithm': {
    description: 'HMAC algorithm of issued tokens',
    default: D.token.algorithm,
    extension: true,
    ...oneOf('an algorithm', ['HS256', 'HS384', 'HS512']),
  },
  'sidecar.trusted.proxies': {
    description: 'X-Forwarded-For and X-Real-IP are honoured only from these addresses',
    default: D.sidecar.trustedProxies.join(','),
    extension: true,
    ...addressList(),
  },
  'sidecar.max.body': {
    description: 'largest request body accepted',
    default: formatSize(D.sidecar.maxBodyBytes),
    extension: true,
    ...byteSize(1024, 10 * 1024 * 1024),
  },
} satisfies Record<string, KeySpec<unknown>>;

export type ConfigKey = keyof typeof KEY_SPECS;

/** What a key's rule produces. */
export type KeyValue<K extends ConfigKey> = ReturnType<(typeof KEY_SPECS)[K]['parse']>;

/** A key as documented for people (README, `config check`). */
export interface KnownKey {
  description: string;
  /** The default as text, e.g. `7d`, `<AppData>/shared`, `none`. */
  default: string;
  /** What values are allowed, in words. */
  allowed: string;
  /** An extension of ours rather than a key of the outside contract. */
  extension: boolean;
}

/** Every key the properties file may hold, with its description, default and allowed values. */
export const KNOWN_KEYS: Readonly<Record<ConfigKey, Readonly<KnownKey>>> = Object.freeze(
  Object.fromEntries(
    Object.entries(KEY_SPECS).map(([key, spec]: [string, KeySpec<unknown>]) => [
      key,
      Object.freeze({
        description: spec.description,
        default: spec.default,
        allowed: spec.allowed,
        extension: spec.extension === true,
      }),
    ]),
  ) as Record<ConfigKey, KnownKey>,
);

export function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(KEY_SPECS, key);
}
