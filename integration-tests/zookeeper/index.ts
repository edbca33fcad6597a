/**
 * The ZooKeeper test harness: `startZooKeeper()` gives a running ZooKeeper (one server or an ensemble) behind one
 * interface, from containers where a container runtime is reachable and the image is present, from local java
 * processes otherwise; the choice is made once per test run and said in one line (see provider-choice.ts).
 *
 * ```ts
 * await using zk = await startZooKeeper({ servers: 3 });
 * const leader = await zk.waitForQuorum();
 * await zk.kill(leader);
 * ```
 *
 * `TOKENSYNC_ZK_PROVIDER=local|container` forces a provider; `TOKENSYNC_TEST_TIMEOUT_MULTIPLIER` scales every
 * wait of the harness.
 */
import { findLocalZooKeeper, LocalZooKeeper, type WaitForQuorumOptions, type ZooKeeperMode } from './local-zookeeper.js';
import {
  chooseProvider,
  DEFAULT_ZOOKEEPER_IMAGE,
  importTestcontainers,
  prepareTestcontainers,
  type ZooKeeperProvider,
} from './provider-choice.js';

export {
  DEFAULT_ZOOKEEPER_JAR,
  findLocalZooKeeper,
  fourLetterWord,
  LocalZooKeeper,
  parseSrvrMode,
  scaledTimeout,
  StartedLocalZooKeeper,
  type LocalZooKeeperAvailability,
  type WaitForQuorumOptions,
  type ZooKeeperMode,
} from './local-zookeeper.js';
// The container module is NOT re-exported: loading it loads testcontainers, which may throw (see that file).
export {
  chooseProvider,
  DEFAULT_ZOOKEEPER_IMAGE,
  probeContainerRuntime,
  type ProviderChoice,
  type ZooKeeperProvider,
} from './provider-choice.js';

/**
 * A running ZooKeeper, whichever provider runs it. Servers are addressed by index, 0-based (myid `i + 1`).
 */
export interface ZooKeeperCluster extends AsyncDisposable {
  readonly provider: ZooKeeperProvider;
  /** Every server, comma separated `host:port` pairs. */
  readonly connectString: string;
  /** Number of servers. */
  readonly servers: number;
  /** Just server `i`. */
  getServerConnectString(index: number): string;
  /** Starts a stopped or killed server again, same address and data; resolves once its port is open. */
  start(index: number): Promise<void>;
  /** Graceful stop (SIGTERM), waits for the exit. */
  stop(index: number): Promise<void>;
  /** Crash (SIGKILL). */
  kill(index: number): Promise<void>;
  /** Freeze (SIGSTOP / container pause): connections stay open, nothing answers. */
  pause(index: number): Promise<void>;
  resume(index: number): Promise<void>;
  /** `srvr`'s mode; `down` for a stopped, paused or not-serving server. */
  mode(index: number): Promise<ZooKeeperMode>;
  /** The current leader (the standalone server for one server), if there is one. */
  leaderIndex(): Promise<number | undefined>;
  /** Waits for one leader with every running server serving; resolves the leader's index. */
  waitForQuorum(options?: WaitForQuorumOptions): Promise<number>;
  /** Stops everything and removes what was created. Idempotent. */
  close(): Promise<void>;
}

export interface StartZooKeeperOptions {
  /** @default 1 */
  servers?: 1 | 3;
  /**
   * TTL nodes (`zookeeper.extendedTypesEnabled`; container nodes work without it). On by default here, unlike
   * in ZooKeeper itself: pass `false` to test against a server configured as most production ones are.
   * @default true
   */
  extendedTypes?: boolean;
  /** Overrides `TOKENSYNC_ZK_PROVIDER` and detection. */
  provider?: ZooKeeperProvider;
  /** Container image for the container provider. @default 'zookeeper:3.8.4' */
  image?: string;
}

/** Neither provider can run here; the message says what to install. */
export class ZooKeeperUnavailableError extends Error {
  override readonly name = 'ZooKeeperUnavailableError';
  readonly code = 'harness.zookeeper_unavailable';
}

/** Starts a ZooKeeper with the provider that {@link chooseProvider} picks and waits until it serves. */
export async function startZooKeeper(options: StartZooKeeperOptions = {}): Promise<ZooKeeperCluster> {
  const servers = options.servers ?? 1;
  const extendedTypes = options.extendedTypes ?? true;
  const image = options.image ?? DEFAULT_ZOOKEEPER_IMAGE;
  const choice = await chooseProvider(options.provider, image);

  if (choice.provider === 'container') {
    try {
      const { startZooKeeperContainers } = await loadContainerProvider();
      return await startZooKeeperContainers({ servers, extendedTypes, image });
    } catch (error) {
      // The runtime answered and the image is there, so this is unexpected: say so, and fall back unless forced.
      if (choice.forced) throw error;
      process.emitWarning(`ZooKeeper containers failed to start, using local processes: ${String(error)}`);
    }
  }

  const local = findLocalZooKeeper();
  if (!local.available) {
    const why = choice.provider === 'local' ? choice.reason : 'the containers failed to start';
    throw new ZooKeeperUnavailableError(`${local.reason} (no container provider either: ${why})`);
  }
  const builder = new LocalZooKeeper(servers);
  if (extendedTypes) builder.withExtendedTypes();
  return builder.start();
}

/**
 * Loads testcontainers by itself before the module that imports it statically. When testcontainers throws while
 * loading (Node 20 with testcontainers 12), the static import from an ES module also leaves an
 * unhandledRejection behind (seen on Node 20.20), which fails the test run although the error was caught here.
 * A direct dynamic import rejects cleanly, and once it succeeded the static import is served from the cache.
 */
async function loadContainerProvider(): Promise<typeof import('./zookeeper-container.js')> {
  await importTestcontainers();
  await prepareTestcontainers();
  return import('./zookeeper-container.js');
}
