import { hostname } from 'node:os';
import type { ConnectString } from './connect-string.js';

export type StoreType = 'DIRECTORY' | 'ZOOKEEPER';
export type OutagePolicy = 'serve-cached' | 'reject';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type TokenAlgorithm = 'HS256' | 'HS384' | 'HS512';

/**
 * The sidecar's effective configuration, as loaded from a properties file.
 * Every path is absolute once loaded. Keys marked EXTENSION are ours, not in the
 * outside contract.
 */
export interface TokensyncOptions {
  /**
   * `node.id`: this node's name in the cluster (membership znode, journal).
   * @default os.hostname()
   */
  nodeId: string;
  /**
   * `app.data.dir`: `<AppData>`, local state of this node. Relative values are
   * resolved against the properties file's directory (the working directory
   * when there is no file).
   * @default './appdata'
   */
  appDataDir: string;
  store: StoreOptions;
  token: TokenOptions;
  sidecar: SidecarOptions;
  log: LogOptions;
  /**
   * The properties file these options were loaded from (absolute), when there was one: not a key, but what a
   * command a log line suggests needs (`tokensync store upgrade --config <it>`).
   */
  configFile?: string;
}

export interface StoreOptions {
  /**
   * `cluster.store.type`, case-insensitive in the file.
   * @default 'DIRECTORY'
   */
  type: StoreType;
  /**
   * `cluster.store.directory.path`: root of the DIRECTORY store.
   * @default '<appDataDir>/shared'
   */
  directoryPath: string;
  zookeeper: ZooKeeperOptions;
  /**
   * EXTENSION `cluster.store.directory.shards`: a power of two from 1 to 4096.
   * @default 256
   */
  directoryShards: number;
  /**
   * EXTENSION `cluster.store.directory.rescan.interval`: how often the DIRECTORY
   * store rescans, since file events are not delivered on every file system.
   * @default 5000 (5s)
   */
  rescanIntervalMs: number;
  /**
   * `cluster.store.outage.policy`: how to validate while the store is unreachable.
   * @default 'serve-cached'
   */
  outagePolicy: OutagePolicy;
  /**
   * EXTENSION `cluster.store.reaper.interval`: how often expired records are deleted.
   * @default 60000 (60s)
   */
  reaperIntervalMs: number;
  /**
   * EXTENSION `cluster.store.reaper.rate`: deletes per second, so a backlog of
   * expired records does not flood the store.
   * @default 500
   */
  reaperRate: number;
  /**
   * EXTENSION `cluster.store.journal.dir`: writes accepted during a store outage.
   * @default '<appDataDir>/journal'
   */
  journalDir: string;
  /**
   * EXTENSION `cluster.store.fallback.config`: the previous store's properties
   * file, during a store migration cutover.
   * @default undefined (none)
   */
  fallbackConfig?: string;
}

export interface ZooKeeperOptions {
  /**
   * `cluster.store.zookeeper.connect`; required when the store type is ZOOKEEPER.
   * @default undefined (none)
   */
  connect?: ConnectString;
  /**
   * `cluster.store.zookeeper.session.timeout`: from 2s to 10m.
   * @default 15000 (15s)
   */
  sessionTimeoutMs: number;
  /**
   * `cluster.store.zookeeper.auth` (`digest:user:password`). Never log it; use
   * `describeOptions()`.
   * @default undefined (none: open ACLs)
   */
  auth?: ZooKeeperAuth;
  /**
   * EXTENSION `cluster.store.zookeeper.shards`: a power of two from 16 to 65536.
   * Read only when the tree is first created; `/meta` holds it after that.
   * @default 4096
   */
  shards: number;
  /**
   * EXTENSION `cluster.store.zookeeper.write.batch`: most record creates in one ZooKeeper transaction (the creates
   * asked for together leave as one multi); 1 sends one create per record. From 1 to 1000.
   * @default 128
   */
  writeBatch: number;
  /**
   * EXTENSION `cluster.store.zookeeper.resync.jitter`: most random delay before the resync that follows a reconnect
   * (a validation meanwhile lists its token's shard itself). Absent: min(2 s, session timeout / 4).
   */
  resyncJitterMs?: number;
}

export interface ZooKeeperAuth {
  scheme: 'digest';
  user: string;
  password: string;
}

export interface TokenOptions {
  /**
   * `authentication.token.cookie`: an RFC 6265 cookie name.
   * @default 'tokensync'
   */
  cookie: string;
  /**
   * `authentication.token.secret.file`: the shared signing secrets.
   * @default '<appDataDir>/token_secret'
   */
  secretFile: string;
  /**
   * EXTENSION `authentication.token.algorithm`.
   * @default 'HS256'
   */
  algorithm: TokenAlgorithm;
  /**
   * `authentication.token.expiration`: lifetime of a session token, > 0.
   * @default 604800000 (7d)
   */
  expirationMs: number;
  /**
   * `authentication.token.sliding`: reissue a session token past half its lifetime.
   * @default true
   */
  sliding: boolean;
  /**
   * `authentication.token.absolute.lifetime`: no reissue past this age; at
   * least `expirationMs`.
   * @default 2592000000 (30d)
   */
  absoluteLifetimeMs: number;
  /**
   * `authentication.token.idle.timeout`: 0 means off.
   * @default 0
   */
  idleTimeoutMs: number;
  /**
   * `authentication.token.onetime.expiration`: lifetime of a one-time token, > 0.
   * @default 120000 (2m)
   */
  onetimeExpirationMs: number;
  /**
   * `authentication.token.require.consistent.ip`: bind tokens to the client address.
   * @default false
   */
  requireConsistentIp: boolean;
  /**
   * `authentication.token.clock.skew`: tolerance between node clocks, 0 to 10m.
   * @default 30000 (30s)
   */
  clockSkewMs: number;
}

export interface SidecarOptions {
  /**
   * `sidecar.listen` (`host:port`, `[::1]:7468`); port 0 picks a free port.
   * The host is kept without brackets, ready for `server.listen()`.
   * @default { host: '127.0.0.1', port: 7468 }
   */
  listen: { host: string; port: number };
  /**
   * `sidecar.admin.token.file`: when set, admin endpoints need its contents as a bearer token.
   * @default undefined (admin endpoints open)
   */
  adminTokenFile?: string;
  /**
   * EXTENSION `sidecar.trusted.proxies`: IPs or CIDRs whose `X-Forwarded-For` is honoured.
   * @default ['127.0.0.0/8', '::1/128']
   */
  trustedProxies: string[];
  /**
   * EXTENSION `sidecar.max.body`: largest request body in bytes, 1k to 10m.
   * @default 16384 (16k)
   */
  maxBodyBytes: number;
}

export interface LogOptions {
  /**
   * `log.level`.
   * @default 'info'
   */
  level: LogLevel;
}

/**
 * The defaults, and the only place they are written down in code.
 *
 * Paths here are relative: `appDataDir` to the properties file's directory (or
 * the working directory), `directoryPath`, `journalDir` and `secretFile` to
 * `appDataDir`. The loader resolves them; use `loadConfig()` or
 * `parseProperties('')` for a ready-to-use default configuration.
 */
export const DEFAULT_OPTIONS: TokensyncOptions = deepFreeze({
  nodeId: hostname(),
  appDataDir: './appdata',
  store: {
    type: 'DIRECTORY',
    directoryPath: 'shared',
    zookeeper: {
      sessionTimeoutMs: 15_000,
      shards: 4096,
      writeBatch: 128,
    },
    directoryShards: 256,
    rescanIntervalMs: 5_000,
    outagePolicy: 'serve-cached',
    reaperIntervalMs: 60_000,
    reaperRate: 500,
    journalDir: 'journal',
  },
  token: {
    cookie: 'tokensync',
    secretFile: 'token_secret',
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
});

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
}
