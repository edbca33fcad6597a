import type { TokensyncOptions } from '../config/options.js';
import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/clock.js';
import type { TokenStore } from './token-store.js';
import type { BindingStatus } from './zookeeper/binding-patch.js';
import { DirectoryStore } from './directory/directory-store.js';
import { type DirectoryUsage, directoryUsage } from './directory/directory-usage.js';
import { ConfigError } from '../errors/config-error.js';
import { loadConfig } from '../config/load-config.js';
import { upgradeCommand } from './record-layout.js';

/** Settings a caller may tighten beyond the properties file. */
export interface CreateStoreOverrides {
  /**
   * ZOOKEEPER: how long `start()` waits for the first connection. A CLI command wants to fail sooner than a
   * sidecar that is starting up with its ensemble.
   * @default the store's own (10 s)
   */
  connectTimeoutMs?: number;
  /** ZOOKEEPER: the sidecar's journal id; its record creates then carry receipts (ZooKeeperStoreOptions.receiptPrefix). */
  receiptPrefix?: string;
}

let warnedUnpatched = false;

/**
 * What the configured DIRECTORY store's folder already holds, read without starting a store (a node about to make
 * its own signing secret asks); `undefined` for ZOOKEEPER, whose members never make their own.
 */
export function storeUsage(options: TokensyncOptions): Promise<DirectoryUsage | undefined> {
  if (options.store.type !== 'DIRECTORY') return Promise.resolve(undefined);
  return directoryUsage(options.store.directoryPath, options.nodeId);
}

/**
 * Throws the one-line ConfigError a ZOOKEEPER store gives when its native binding is missing or not built (an
 * install whose scripts were blocked), before a sidecar writes anything. Reads files only; never loads the binding.
 */
export async function assertStoreLoadable(options: TokensyncOptions): Promise<BindingStatus | undefined> {
  if (options.store.type !== 'ZOOKEEPER') return undefined;
  const binding = await import('./zookeeper/binding-patch.js');
  const status = binding.zookeeperBindingStatus();
  const problem = binding.missingBindingProblem(status);
  if (problem) throw new ConfigError('config.invalid', problem, { key: 'cluster.store.type', value: 'ZOOKEEPER' });
  return status;
}

/**
 * The store `cluster.store.type` names. The ZooKeeper client (a native
 * module) is loaded only when it is chosen.
 */
export async function createStore(
  options: TokensyncOptions,
  logger: Logger,
  clock?: Clock,
  overrides: CreateStoreOverrides = {},
): Promise<TokenStore> {
  if (options.store.type === 'DIRECTORY') {
    return new DirectoryStore({
      root: options.store.directoryPath,
      shards: options.store.directoryShards,
      rescanIntervalMs: options.store.rescanIntervalMs,
      logger,
      clock,
      nodeId: options.nodeId,
      clockSkewMs: options.token.clockSkewMs,
      upgradeCommand: upgradeCommand(options.configFile),
    });
  }
  const zk = options.store.zookeeper;
  if (!zk.connect) {
    const example = 'zk1:2181,zk2:2181,zk3:2181/tokensync';
    throw new ConfigError('config.missing', `is required when cluster.store.type is ZOOKEEPER (e.g. ${example})`, {
      key: 'cluster.store.zookeeper.connect',
    });
  }
  const binding = await import('./zookeeper/binding-patch.js');
  const status = await assertStoreLoadable(options);
  if (status && status.patches.length < binding.BINDING_PATCH_IDS.length && !warnedUnpatched) {
    warnedUnpatched = true;
    logger.warn(binding.unpatchedBindingWarning(status));
  }
  // Loaded here, not at the top, so DIRECTORY users never load the native ZooKeeper client.
  const { ZooKeeperStore } = await import('./zookeeper/index.js');
  return new ZooKeeperStore({
    servers: zk.connect.servers,
    chroot: zk.connect.chroot,
    sessionTimeoutMs: zk.sessionTimeoutMs,
    auth: zk.auth,
    shards: zk.shards,
    createBatch: zk.writeBatch,
    ...(zk.resyncJitterMs !== undefined && { maxResyncJitterMs: zk.resyncJitterMs }),
    logger,
    upgradeCommand: upgradeCommand(options.configFile),
    clock,
    ...(overrides.connectTimeoutMs !== undefined && { connectTimeoutMs: overrides.connectTimeoutMs }),
    ...(overrides.receiptPrefix !== undefined && { receiptPrefix: overrides.receiptPrefix }),
  });
}

/**
 * The previous store of a migration cutover (`cluster.store.fallback.config`), created but not started:
 * `undefined` when none is configured. Its properties file must load, and must name another store than
 * `options` does; a problem with it is reported against `cluster.store.fallback.config`.
 */
export async function createFallbackStore(
  options: TokensyncOptions,
  logger: Logger,
  clock?: Clock,
  overrides: CreateStoreOverrides = {},
): Promise<TokenStore | undefined> {
  const path = options.store.fallbackConfig;
  if (!path) return undefined;
  const key = 'cluster.store.fallback.config';
  let previous: TokensyncOptions;
  try {
    previous = (await loadConfig(path)).options;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(err.code, `names a properties file that does not load: ${err.message}`, { key, value: path, cause: err });
  }
  if (storeIdentity(previous) === storeIdentity(options)) {
    const message = "names this node's own store; it must name the previous store of the migration";
    throw new ConfigError('config.invalid', message, { key, value: path });
  }
  return createStore(previous, logger, clock, overrides);
}

/** Which store a configuration names: the folder, or the ensemble and chroot. */
function storeIdentity(options: TokensyncOptions): string {
  if (options.store.type === 'DIRECTORY') return `DIRECTORY ${options.store.directoryPath}`;
  const connect = options.store.zookeeper.connect;
  return `ZOOKEEPER ${[...(connect?.servers ?? [])].sort().join(',')}${connect?.chroot ?? ''}`;
}
