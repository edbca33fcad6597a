import type { TokensyncOptions } from '../config/options.js';
import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/clock.js';
import type { TokenStore } from './token-store.js';
import { DirectoryStore } from './directory/directory-store.js';
import { ConfigError } from '../errors/config-error.js';

/**
 * The store `cluster.store.type` names. The ZooKeeper client (a native
 * module) is loaded only when it is chosen.
 */
export async function createStore(options: TokensyncOptions, logger: Logger, clock?: Clock): Promise<TokenStore> {
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
  });
}
