/**
 * ZooKeeper in a container, as a testcontainers module: the provider used where a container runtime is
 * reachable. The local-process provider (`local-zookeeper.ts`) mirrors it where none is.
 *
 * ```ts
 * await using zk = await new ZooKeeperContainer('zookeeper:3.8.4').withExtendedTypes().start();
 * connect(zk.getConnectString());
 * ```
 *
 * Caveat: this module imports `testcontainers` at load time, and testcontainers 12 pulls in undici 8, which
 * needs Node >= 22.19 (it throws on load under Node 20). Import this file dynamically, as `index.ts` does, so
 * that a failed load means "no container provider" rather than a crashed test file.
 */
import { AbstractStartedContainer, GenericContainer, Network, Wait, getContainerRuntimeClient, type StartedNetwork } from 'testcontainers';

import type { ZooKeeperCluster } from './index.js';
import { DEFAULT_ZOOKEEPER_IMAGE } from './provider-choice.js';
import {
  freeLoopbackPorts,
  probeListening,
  probeMode,
  scaledTimeout,
  type WaitForQuorumOptions,
  type ZooKeeperMode,
} from './local-zookeeper.js';

export const ZOOKEEPER_CLIENT_PORT = 2181;
const ZOOKEEPER_PEER_PORT = 2888;
const ZOOKEEPER_ELECTION_PORT = 3888;
export { DEFAULT_ZOOKEEPER_IMAGE };

/**
 * Ready means "answers `srvr` with a Mode": `ruok` says `imok` as soon as the port is open, before an ensemble
 * member has a quorum. The official image has bash, so this costs no extra JVM per poll (`zkServer.sh status`
 * would start one). `timeout`: a server still starting can accept the connection and never answer it, and
 * testcontainers waits for each command without a limit of its own (seen: a test file hung for 18 minutes).
 */
const READY_COMMAND = `timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${ZOOKEEPER_CLIENT_PORT} && printf srvr >&3 && grep -q "^Mode: " <&3'`;

export class ZooKeeperContainer extends GenericContainer {
  private readonly serverJvmFlags: string[] = [];
  private hostPort: number | undefined;

  constructor(image = DEFAULT_ZOOKEEPER_IMAGE) {
    super(image);
    this.withEnvironment({
      ZOO_4LW_COMMANDS_WHITELIST: '*',
      ZOO_ADMINSERVER_ENABLED: 'false',
      // Tests open many sessions from one address; ZooKeeper's default caps that at 60.
      ZOO_MAX_CLIENT_CNXNS: '0',
      // As the local provider: a client gets the session timeout it asks for, up to 60 s.
      ZOO_CFG_EXTRA: 'maxSessionTimeout=60000',
    })
      .withWaitStrategy(Wait.forSuccessfulCommand(READY_COMMAND))
      .withStartupTimeout(120_000);
  }

  /** TTL nodes (`-Dzookeeper.extendedTypesEnabled=true`, passed in `SERVER_JVMFLAGS`). */
  withExtendedTypes(enabled = true): this {
    const flag = '-Dzookeeper.extendedTypesEnabled=true';
    const at = this.serverJvmFlags.indexOf(flag);
    if (enabled && at === -1) this.serverJvmFlags.push(flag);
    if (!enabled && at !== -1) this.serverJvmFlags.splice(at, 1);
    return this;
  }

  /** ZooKeeper's time unit (image default 2000 ms); the local provider uses 500 ms. */
  withTickTime(ms: number): this {
    return this.withEnvironment({ ZOO_TICK_TIME: String(ms) });
  }

  /**
   * Makes this container member `myId` (1-based) of an ensemble whose members are reachable under `hostnames`
   * (container names or network aliases, in myid order) on a shared network.
   */
  withEnsembleMember(myId: number, hostnames: readonly string[]): this {
    const servers = hostnames.map(
      (host, i) => `server.${i + 1}=${host}:${ZOOKEEPER_PEER_PORT}:${ZOOKEEPER_ELECTION_PORT};${ZOOKEEPER_CLIENT_PORT}`,
    );
    return this.withEnvironment({ ZOO_MY_ID: String(myId), ZOO_SERVERS: servers.join(' ') });
  }

  /**
   * Binds the client port to a fixed host port. Needed by anything that stops and starts the container: a
   * runtime may hand out a different random host port on every start.
   */
  withHostPort(port: number): this {
    this.hostPort = port;
    return this;
  }

  public override async start(): Promise<StartedZooKeeperContainer> {
    // testcontainers 11 has no hasExposedPort(); ports are numbers, "2181/tcp" strings or bindings.
    const exposed = this.exposedPorts.some((p) => parseInt(String(typeof p === 'object' ? p.container : p), 10) === ZOOKEEPER_CLIENT_PORT);
    if (!exposed) {
      this.withExposedPorts(
        this.hostPort === undefined ? ZOOKEEPER_CLIENT_PORT : { container: ZOOKEEPER_CLIENT_PORT, host: this.hostPort },
      );
    }
    // Published on the host's loopback only (the runtime's default is every interface).
    for (const bindings of Object.values(this.hostConfig.PortBindings ?? {})) {
      for (const binding of bindings as Array<{ HostIp?: string }>) binding.HostIp ??= '127.0.0.1';
    }
    // Set once here rather than in each setter: the runtime's Env list would otherwise hold the key twice.
    if (this.serverJvmFlags.length > 0) this.withEnvironment({ SERVER_JVMFLAGS: this.serverJvmFlags.join(' ') });
    return new StartedZooKeeperContainer(await super.start());
  }
}

export class StartedZooKeeperContainer extends AbstractStartedContainer {
  getClientPort(): number {
    return this.getMappedPort(ZOOKEEPER_CLIENT_PORT);
  }

  /** `host:port` as seen from the test process. */
  getConnectString(): string {
    return `${this.getHost()}:${this.getClientPort()}`;
  }

  /** The server's mode from `srvr`, asked from the test process through the mapped port. */
  mode(timeoutMs = 1_000): Promise<ZooKeeperMode> {
    return probeMode(this.getHost(), this.getClientPort(), timeoutMs);
  }
}

/** Options of {@link startZooKeeperContainers}. */
export interface ZooKeeperContainersOptions {
  servers?: number;
  extendedTypes?: boolean;
  image?: string;
  tickTimeMs?: number;
}

/**
 * Starts 1 or N containers as one {@link ZooKeeperCluster}, on a network made for them and on no other (not the
 * runtime's default bridge). Members of an ensemble find each other by container name, `<network>-zk1..N`. Each
 * client port is bound to a fixed host port so that a stopped and restarted member keeps its address.
 */
export async function startZooKeeperContainers(options: ZooKeeperContainersOptions = {}): Promise<ZooKeeperContainerCluster> {
  const servers = options.servers ?? 1;
  const network = await new Network().start();
  // Container names, not network aliases: with aliases testcontainers starts a container on the runtime's default
  // bridge and then also joins it to the network.
  const hostnames = Array.from({ length: servers }, (_, i) => `${network.getName()}-zk${i + 1}`);
  const ports = await freeLoopbackPorts(servers);
  const containers = hostnames.map((hostname, i) => {
    const container = new ZooKeeperContainer(options.image)
      .withExtendedTypes(options.extendedTypes ?? false)
      .withTickTime(options.tickTimeMs ?? 500)
      .withHostPort(ports[i]!);
    container.withNetwork(network).withName(hostname);
    if (servers > 1) container.withEnsembleMember(i + 1, hostnames);
    return container;
  });
  // All at once: each member's wait strategy needs a quorum, and that needs the others running.
  const settled = await Promise.allSettled(containers.map((container) => container.start()));
  const started = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) {
    await Promise.allSettled(started.map((container) => container.stop()));
    await network.stop().catch(() => undefined);
    throw failure.reason;
  }
  return new ZooKeeperContainerCluster(started, network);
}

type MemberState = 'running' | 'paused' | 'stopped';

/**
 * {@link ZooKeeperCluster} over containers. Per-server faults go straight to the runtime (kill, pause, ...),
 * which testcontainers' own API does not offer.
 */
export class ZooKeeperContainerCluster implements ZooKeeperCluster, AsyncDisposable {
  readonly provider = 'container' as const;
  private readonly states: MemberState[];
  private closed = false;

  constructor(
    private readonly containers: readonly StartedZooKeeperContainer[],
    private readonly network: StartedNetwork,
  ) {
    this.states = containers.map(() => 'running');
  }

  get servers(): number {
    return this.containers.length;
  }

  get connectString(): string {
    return this.getConnectString();
  }

  getConnectString(): string {
    return this.containers.map((container) => container.getConnectString()).join(',');
  }

  getServerConnectString(index: number): string {
    return this.member(index).getConnectString();
  }

  /** The started container behind server `i`, for anything the cluster interface does not cover. */
  getContainer(index: number): StartedZooKeeperContainer {
    return this.member(index);
  }

  async start(index: number): Promise<void> {
    if (this.states[index] !== 'stopped') throw new Error(`server ${index} is already ${this.states[index]}`);
    await (await this.runtimeContainer(index)).start();
    this.states[index] = 'running';
    const member = this.member(index);
    const deadline = Date.now() + scaledTimeout(60_000);
    while (!(await probeListening(member.getHost(), member.getClientPort()))) {
      if (Date.now() > deadline) throw new Error(`server ${index} did not open ${member.getConnectString()} in time`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(index?: number): Promise<void> {
    if (index === undefined) return this.close();
    if (this.states[index] === 'stopped') return;
    const container = await this.runtimeContainer(index);
    // The runtime refuses to stop a paused container.
    if (this.states[index] === 'paused') await container.unpause();
    await container.stop({ t: 10 });
    this.states[index] = 'stopped';
  }

  async kill(index: number): Promise<void> {
    if (this.states[index] === 'stopped') return;
    await (await this.runtimeContainer(index)).kill({ signal: 'SIGKILL' });
    this.states[index] = 'stopped';
  }

  async pause(index: number): Promise<void> {
    if (this.states[index] !== 'running') throw new Error(`server ${index} is ${this.states[index]}, not running`);
    await (await this.runtimeContainer(index)).pause();
    this.states[index] = 'paused';
  }

  async resume(index: number): Promise<void> {
    if (this.states[index] !== 'paused') throw new Error(`server ${index} is ${this.states[index]}, not paused`);
    await (await this.runtimeContainer(index)).unpause();
    this.states[index] = 'running';
  }

  async mode(index: number): Promise<ZooKeeperMode> {
    return this.states[index] === 'running' ? this.member(index).mode() : 'down';
  }

  async leaderIndex(): Promise<number | undefined> {
    const modes = await Promise.all(this.containers.map((_, i) => this.mode(i)));
    const index = modes.findIndex((mode) => mode === 'leader' || mode === 'standalone');
    return index === -1 ? undefined : index;
  }

  /** Same contract as the local provider's: one leader, every running member serving; resolves the leader. */
  async waitForQuorum(options: WaitForQuorumOptions = {}): Promise<number> {
    const timeoutMs = scaledTimeout(options.timeoutMs ?? 30_000);
    const deadline = Date.now() + timeoutMs;
    let modes: ZooKeeperMode[] = [];
    while (Date.now() <= deadline) {
      modes = await Promise.all(this.containers.map((_, i) => this.mode(i)));
      const leaders = modes.filter((mode) => mode === 'leader' || mode === 'standalone').length;
      if (leaders === 1 && modes.every((mode, i) => this.states[i] !== 'running' || mode !== 'down')) {
        return modes.findIndex((mode) => mode === 'leader' || mode === 'standalone');
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no quorum within ${timeoutMs} ms; modes: ${modes.join(', ')}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(
      this.containers.map(async (container, i) => {
        if (this.states[i] === 'paused') await (await this.runtimeContainer(i)).unpause();
        await container.stop();
      }),
    );
    await this.network.stop().catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private member(index: number): StartedZooKeeperContainer {
    const container = this.containers[index];
    if (!container) throw new RangeError(`no server ${index}: servers are 0..${this.containers.length - 1}`);
    return container;
  }

  private async runtimeContainer(index: number) {
    const client = await getContainerRuntimeClient();
    return client.container.getById(this.member(index).getId());
  }
}
