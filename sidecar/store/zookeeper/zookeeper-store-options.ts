import type { Logger } from '../../util/logger.js';
import type { Clock } from '../../util/clock.js';
import { isValidChroot, isValidShardCount } from './layout.js';

export interface ZooKeeperAuth {
  scheme: 'digest';
  user: string;
  password: string;
}

export interface ZooKeeperStoreOptions {
  /** `host:port` of every server of the ensemble; loopback or real hosts. */
  servers: string[];
  /** `''` or an absolute path such as `/pano`; created when missing. */
  chroot: string;
  sessionTimeoutMs: number;
  /** When set, the tree is readable and writable by this digest identity alone. */
  auth?: ZooKeeperAuth;
  /** Shard count for a NEW tree; afterwards `/meta` wins. A power of two. */
  shards: number;
  logger: Logger;
  clock?: Clock;
  /**
   * How long `start()` waits for the first connection.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * A request unanswered for this long fails with {@link StoreUnavailableError}.
   * @default sessionTimeoutMs / 2, between 1 s and 10 s
   */
  operationTimeoutMs?: number;
  /**
   * Reads in flight during a rebuild or a listing.
   * @default 256
   */
  readConcurrency?: number;
  /**
   * Upper bound of the random delay before a resync after a reconnect, so that sidecars do not all
   * re-read the ensemble at once.
   * @default min(2000, sessionTimeoutMs / 4)
   */
  maxResyncJitterMs?: number;
  /**
   * How a watching store hears of records (see {@link TreeWatcher}): `persistent` (one persistent recursive
   * watch; ZooKeeper 3.6+ and the patched binding, else it falls back by itself) or `one-shot` (a child watch per
   * shard, re-listed on every change; kept for comparison and for older servers).
   * @default 'persistent'
   */
  recordWatch?: 'persistent' | 'one-shot';
  /**
   * Record creates per ZooKeeper transaction (multi), at most: the creates of one event-loop turn, and those that
   * wait while {@link createsInFlight} transactions are unanswered, leave as one (see {@link CreateBatcher}). 1: one
   * plain create per record. Needs the patched binding (else every create goes alone).
   * @default 128
   */
  createBatch?: number;
  /**
   * Create transactions unanswered at once before new creates wait for the next one.
   * @default 2
   */
  createsInFlight?: number;
  /**
   * Set by a sidecar (its journal's id): every record-create transaction also creates a receipt named
   * `<prefix>.<run>.<random>` under `/replays` and deletes those of earlier answered ones, so that a create whose
   * answer is lost can be settled before its journaled copy is replayed (see ReplayReceipts). Unset (the CLI, a
   * migration): no receipts.
   */
  receiptPrefix?: string;
  /** The command a layout-1 store's one warning line names (record-layout.ts `upgradeCommand`). @default 'tokensync store upgrade' */
  upgradeCommand?: string;
}

/** Throws a TypeError naming the first option that cannot work. */
export function checkStoreOptions(options: ZooKeeperStoreOptions): void {
  if (!Array.isArray(options.servers) || options.servers.length === 0) {
    throw new TypeError('ZooKeeperStore: servers must list at least one host:port');
  }
  for (const server of options.servers) {
    if (!/^[^\s,/@]+:\d{1,5}$/.test(server)) {
      throw new TypeError(`ZooKeeperStore: '${server}' is not host:port (cluster.store.zookeeper.connect)`);
    }
  }
  if (!isValidChroot(options.chroot)) {
    throw new TypeError(`ZooKeeperStore: chroot '${options.chroot}' must be '' or an absolute path like /pano`);
  }
  if (!(options.sessionTimeoutMs > 0)) throw new TypeError('ZooKeeperStore: sessionTimeoutMs must be > 0');
  if (!isValidShardCount(options.shards)) {
    throw new TypeError(`ZooKeeperStore: shards ${options.shards} must be a power of two up to 65536`);
  }
  if (options.auth && (options.auth.scheme !== 'digest' || !options.auth.user || options.auth.password === undefined)) {
    throw new TypeError('ZooKeeperStore: auth must be { scheme: "digest", user, password }');
  }
  if (options.receiptPrefix !== undefined && !/^[A-Za-z0-9_-]{1,24}$/.test(options.receiptPrefix)) {
    throw new TypeError(`ZooKeeperStore: receiptPrefix '${options.receiptPrefix}' must be 1 to 24 base64url characters`);
  }
}
