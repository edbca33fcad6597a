import type { TokensyncOptions } from '../config/options.js';
import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/clock.js';
import type { TokenStore } from './token-store.js';
import { DirectoryStore } from './directory/directory-store.js';
import { ConfigError } from '../errors/config-error.js';

/** Settings a caller may tighten beyond the properties file. */
export interface CreateStoreOverrides {
  /**
   * ZOOKEEPER: how long `start()` waits for the first connection. A CLI command wants to fail sooner than a
   * sidecar that is starting up with its ensemble.
   * @default the store's own (10 s)
   */
  connectTimeoutMs?: number;
}

/**
 * The store `cluster.store.type` names. The ZooKeeper client (a native
 * module) is loaded only when it is chosen.
 */
export async function createStore(options: TokensyncOptions, logger: Logger, clock?: Clock, overrides: CreateStoreOverrides = {}): Promise<TokenStore> {
  if (options.store.type === 'DIRECTORY') {
    return new DirectoryStore({
      root: options.store.directoryPath,
      shards: options.store.directoryShards,
      rescanIntervalMs: options.store.rescanIntervalMs,
      logger,
      clock,
      nodeId: options.nodeId,
    });
  }
  const zk = options.store.zookeeper;
  if (!zk.connect) {
    throw new ConfigError('config.missing', 'is required when cluster.store.type is ZOOKEEPER (e.g. zk1:2181,zk2:2181,zk3:2181/tokensync)', {
      key: 'cluster.store.zookeeper.connect',
    });
  }
  // Loaded by name so DIRECTORY users never load the native ZooKeeper client.
  const modulePath = './zookeeper/index.js';
  const { ZooKeeperStore } = (await import(modulePath)) as { ZooKeeperStore: new (o: object) => TokenStore };
  return new ZooKeeperStore({
    servers: zk.connect.servers,
    chroot: zk.connect.chroot,
    sessionTimeoutMs: zk.sessionTimeoutMs,
    auth: zk.auth,
    shards: zk.shards,
    logger,
    clock,
    ...(overrides.connectTimeoutMs !== undefined && { connectTimeoutMs: overrides.connectTimeoutMs }),
  });
}
