/**
 * Runs Debian's ZooKeeper (`apt-get install zookeeper`, 3.8) as local java processes on loopback ports: one
 * standalone server, or an ensemble of N for failover tests. This is the provider used where no container
 * runtime is reachable; it is written to behave like {@link ZooKeeperContainer} so tests do not care which runs.
 *
 * ```ts
 * await using zk = await new LocalZooKeeper(3).withExtendedTypes().start();
 * const client = connect(zk.getConnectString());
 * await zk.kill(await zk.waitForQuorum()); // kill the leader
 * const newLeader = await zk.waitForQuorum();
 * ```
 *
 * Caveat: every server listens on 127.0.0.1 only and nothing else is ever contacted. A server's ports and data
 * directory stay the same across `stop(i)` / `start(i)`, so a restarted server rejoins with its old state, as a
 * real node would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ZooKeeperCluster } from './index.js';

/** What the `srvr` four-letter word reports; `down` covers not running, not answering and not serving. */
export type ZooKeeperMode = 'leader' | 'follower' | 'standalone' | 'down';

/** Where Debian's `libzookeeper-java` puts the server. */
export const DEFAULT_ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';

/**
 * The jar's manifest class path names slf4j-api but no slf4j binding, so without these two ZooKeeper logs
 * nothing at all (slf4j falls back to its NOP logger). Both come with `libzookeeper-java`'s dependencies.
 */
const LOG_BINDING_JARS = ['/usr/share/java/slf4j-log4j12.jar', '/usr/share/java/log4j-1.2.jar'];

const QUORUM_PEER_MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';
const LOOPBACK = '127.0.0.1';
const POLL_INTERVAL_MS = 50;

/**
 * Scales a test timeout by `TOKENSYNC_TEST_TIMEOUT_MULTIPLIER` (default 1), the one knob for slow machines.
 */
export function scaledTimeout(ms: number): number {
  const multiplier = Number(process.env.TOKENSYNC_TEST_TIMEOUT_MULTIPLIER ?? '1');
  return Number.isFinite(multiplier) && multiplier > 0 ? Math.round(ms * multiplier) : ms;
}

/**
 * Sends a four-letter word (`srvr`, `ruok`, `mntr`...) and resolves with the whole reply. The server closes the
 * connection after answering; a server that accepts but never answers (SIGSTOPped: the kernel still completes
 * the TCP handshake) is caught by the idle timeout.
 */
export function fourLetterWord(host: string, port: number, word: string, timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`'${word}' to ${host}:${port} got no answer within ${timeoutMs} ms`)));
    socket.once('connect', () => socket.write(word));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Reads `Mode:` from a `srvr` reply. A server without quorum answers "not currently serving requests". */
export function parseSrvrMode(reply: string): ZooKeeperMode {
  const mode = /^Mode: (\w+)/m.exec(reply)?.[1];
  return mode === 'leader' || mode === 'follower' || mode === 'standalone' ? mode : 'down';
}

/** The mode of the server at host:port; never throws. */
export async function probeMode(host: string, port: number, timeoutMs = 1_000): Promise<ZooKeeperMode> {
  try {
    return parseSrvrMode(await fourLetterWord(host, port, 'srvr', timeoutMs));
  } catch {
    return 'down';
  }
}

/** Whether the server at host:port has its client port open (`ruok` answers `imok` before it has quorum). */
export async function probeListening(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  try {
    return (await fourLetterWord(host, port, 'ruok', timeoutMs)) === 'imok';
  } catch {
    return false;
  }
}

/**
 * Picks `count` distinct free TCP ports on 127.0.0.1.
 *
 * The ports are drawn from below the kernel's ephemeral range on purpose: a server restarted by `start(i)` must
 * get its old ports back, and a port inside the ephemeral range can meanwhile be taken as the local end of some
 * outgoing connection (ZooKeeper's own quorum links included). Every candidate is checked by binding it, and all
 * are held at once so that none is returned twice.
 */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const [low] = ephemeralPortRange();
  const held: net.Server[] = [];
  try {
    for (let attempt = 0; held.length < count && attempt < count * 50; attempt += 1) {
      // Below the ephemeral range if there is room for it, otherwise let the kernel choose.
      const candidate = low > 20_000 ? 10_000 + Math.floor(Math.random() * (low - 10_000)) : 0;
      const server = await listenOn(candidate).catch(() => undefined);
      if (server) held.push(server);
    }
    if (held.length < count) throw new Error(`could not find ${count} free ports on ${LOOPBACK}`);
    return held.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(held.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

function ephemeralPortRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && high) return [low, high];
  } catch {
    // Not Linux: fall through to the IANA default.
  }
  return [49_152, 65_535];
}

function listenOn(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => resolve(server));
  });
}

/** What a machine must have for {@link LocalZooKeeper}; `reason` says what is missing and how to get it. */
export interface LocalZooKeeperAvailability {
  available: boolean;
  java: string | undefined;
  zookeeperJar: string;
  reason?: string;
}

/**
 * Checks for java and the ZooKeeper jar without starting anything (no JVM is launched: that alone takes longer
 * than the whole check should).
 */
export function findLocalZooKeeper(options: { java?: string; zookeeperJar?: string } = {}): LocalZooKeeperAvailability {
  const zookeeperJar = options.zookeeperJar ?? DEFAULT_ZOOKEEPER_JAR;
  const java = options.java ?? findJava();
  const missing: string[] = [];
  if (!java) missing.push('java (neither $JAVA_HOME/bin/java nor java on PATH)');
  if (!existsSync(zookeeperJar)) missing.push(zookeeperJar);
  if (missing.length === 0) return { available: true, java, zookeeperJar };
  return {
    available: false,
    java,
    zookeeperJar,
    reason:
      `ZooKeeper cannot run as a local process: missing ${missing.join(' and ')}. ` +
      'Install it with `apt-get install zookeeper` (or run scripts/zookeeper-install.sh).',
  };
}

function findJava(): string | undefined {
  const candidates = [
    ...(process.env.JAVA_HOME ? [path.join(process.env.JAVA_HOME, 'bin', 'java')] : []),
    ...(process.env.PATH ?? '')
      .split(path.delimiter)
      .filter(Boolean)
      .map((dir) => path.join(dir, 'java')),
  ];
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

interface Settings {
  servers: number;
  extendedTypes: boolean;
  tickTimeMs: number;
  minSessionTimeoutMs: number | undefined;
  maxSessionTimeoutMs: number;
  fsync: boolean;
  java: string | undefined;
  zookeeperJar: string;
  heap: string;
  jvmFlags: string[];
  logLevel: LogLevel;
  startupTimeoutMs: number;
  /** A directory kept across runs (its data included), instead of a fresh temporary one. */
  keptDir: string | undefined;
}

/**
 * Builder for a local ZooKeeper, in the manner of a testcontainers module: `withX()` setters, then `start()`.
 * Each `start()` makes a fresh server set in a fresh temporary directory.
 */
export class LocalZooKeeper {
  private readonly settings: Settings = {
    servers: 1,
    extendedTypes: false,
    tickTimeMs: 500,
    minSessionTimeoutMs: undefined,
    maxSessionTimeoutMs: 60_000,
    fsync: false,
    java: undefined,
    zookeeperJar: DEFAULT_ZOOKEEPER_JAR,
    heap: '256m',
    jvmFlags: [],
    logLevel: 'INFO',
    startupTimeoutMs: 30_000,
    keptDir: undefined,
  };

  /** @param servers 1 for a standalone server, 3 (or any N >= 2) for an ensemble. */
  constructor(servers = 1) {
    if (!Number.isInteger(servers) || servers < 1 || servers > 254) {
      throw new RangeError(`servers must be an integer from 1 to 254, got ${servers}`);
    }
    this.settings.servers = servers;
  }

  /**
   * TTL nodes (`-Dzookeeper.extendedTypesEnabled=true`); container nodes work without it. Off by default, as in
   * ZooKeeper: without it a TTL create fails with `-6 unimplemented`.
   */
  withExtendedTypes(enabled = true): this {
    this.settings.extendedTypes = enabled;
    return this;
  }

  /**
   * ZooKeeper's time unit. Default 500 ms (ZooKeeper's own is 2000): elections, follower timeouts
   * (`syncLimit` = 5 ticks) and the minimum session timeout (2 ticks) all scale with it.
   */
  withTickTime(ms: number): this {
    this.settings.tickTimeMs = ms;
    return this;
  }

  /**
   * Bounds on the session timeout a client may negotiate. Default min 2 ticks, max 60 s, so that a client
   * gets the timeout it asks for (ZooKeeper's default max, 20 ticks, would be only 10 s at a 500 ms tick).
   */
  withSessionTimeouts(minMs: number | undefined, maxMs: number): this {
    this.settings.minSessionTimeoutMs = minMs;
    this.settings.maxSessionTimeoutMs = maxMs;
    return this;
  }

  /**
   * fsync the transaction log (`forceSync`). Off by default: the servers here die by signal, never by power
   * loss, and the page cache outlives a killed process, so nothing acknowledged is lost either way.
   */
  withFsync(enabled = true): this {
    this.settings.fsync = enabled;
    return this;
  }

  withJava(javaBinary: string): this {
    this.settings.java = javaBinary;
    return this;
  }

  withZooKeeperJar(jarPath: string): this {
    this.settings.zookeeperJar = jarPath;
    return this;
  }

  /** Maximum heap of each server, as for `-Xmx`. Default `256m`. */
  withHeap(size: string): this {
    this.settings.heap = size;
    return this;
  }

  /** Extra JVM flags, after the harness's own (so they win). */
  withJvmFlags(...flags: string[]): this {
    this.settings.jvmFlags.push(...flags);
    return this;
  }

  /** Level of each server's `zookeeper.log`. Default INFO (elections and sessions are logged there). */
  withLogLevel(level: LogLevel): this {
    this.settings.logLevel = level;
    return this;
  }

  /** How long `start()` may take before it fails, before {@link scaledTimeout}. Default 30 s. */
  withStartupTimeout(ms: number): this {
    this.settings.startupTimeoutMs = ms;
    return this;
  }

  /**
   * Runs the servers in `dir` and keeps it (data included) when closed, so that a later start serves the same tree:
   * for benchmarks that populate millions of znodes once and measure them several times.
   */
  keepDataIn(dir: string): this {
    this.settings.keptDir = dir;
    return this;
  }

  /** Starts every server and resolves once they have a quorum (or, for one server, serve as standalone). */
  async start(): Promise<StartedLocalZooKeeper> {
    const availability = findLocalZooKeeper({ java: this.settings.java, zookeeperJar: this.settings.zookeeperJar });
    if (!availability.available || !availability.java) throw new Error(availability.reason);

    const settings = { ...this.settings, jvmFlags: [...this.settings.jvmFlags], java: availability.java };
    const baseDir = settings.keptDir ?? mkdtempSync(path.join(os.tmpdir(), 'tokensync-zk-'));
    if (settings.keptDir) mkdirSync(settings.keptDir, { recursive: true });
    const ports = await freeLoopbackPorts(settings.servers * 3);
    const servers = Array.from({ length: settings.servers }, (_, index) => {
      const [clientPort, peerPort, electionPort] = ports.slice(index * 3, index * 3 + 3) as [number, number, number];
      return new LocalServer(index + 1, path.join(baseDir, `server-${index + 1}`), clientPort, peerPort, electionPort);
    });

    const started = new StartedLocalZooKeeper(baseDir, servers, settings);
    try {
      await Promise.all(servers.map((server) => server.writeFiles(servers, settings)));
      await Promise.all(servers.map((_, index) => started.start(index)));
      await started.waitForQuorum({ timeoutMs: settings.startupTimeoutMs });
      return started;
    } catch (error) {
      await started.close();
      throw error;
    }
  }
}

type ServerState = 'stopped' | 'running' | 'paused';

/** One ZooKeeper server process: its files, its ports and the process currently running it, if any. */
class LocalServer {
  state: ServerState = 'stopped';
  /** PID of the java process itself (not of the shell wrapper that watches it). */
  pid: number | undefined;
  /** Settles when the current process has exited; resolves with its exit code or signal. */
  exited: Promise<string> | undefined;
  private wrapper: ChildProcess | undefined;

  constructor(
    /** The `myid` of this server, 1-based. */
    readonly id: number,
    readonly dir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly electionPort: number,
  ) {}

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  get logFile(): string {
    return path.join(this.dir, 'zookeeper.log');
  }

  get connectString(): string {
    return `${LOOPBACK}:${this.clientPort}`;
  }

  async writeFiles(all: readonly LocalServer[], settings: Settings): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    await writeFile(path.join(this.dataDir, 'myid'), `${this.id}\n`);
    const lines = [
      '# Written by integration-tests/zookeeper/local-zookeeper.ts for one test run.',
      `tickTime=${settings.tickTimeMs}`,
      'initLimit=10',
      'syncLimit=5',
      `dataDir=${this.dataDir}`,
      `clientPort=${this.clientPort}`,
      `clientPortAddress=${LOOPBACK}`,
      // Tests open many sessions from one address; ZooKeeper's default caps that at 60.
      'maxClientCnxns=0',
      ...(settings.minSessionTimeoutMs ? [`minSessionTimeout=${settings.minSessionTimeoutMs}`] : []),
      `maxSessionTimeout=${settings.maxSessionTimeoutMs}`,
      '4lw.commands.whitelist=*',
      'admin.enableServer=false',
      `forceSync=${settings.fsync ? 'yes' : 'no'}`,
      // The default preallocates 64 MB of transaction log per server; tests write far less.
      'preAllocSize=4096',
      // No server lines for a single server: it then runs as `standalone`, like a plain `zookeeper` container.
      ...(all.length > 1 ? all.map((s) => `server.${s.id}=${LOOPBACK}:${s.peerPort}:${s.electionPort}`) : []),
    ];
    await writeFile(path.join(this.dir, 'zoo.cfg'), `${lines.join('\n')}\n`);
    // Our own log4j file: /etc/zookeeper/conf's writes to /var/log/zookeeper, which is root's and shared.
    const log4j = [
      `log4j.rootLogger=${settings.logLevel}, CONSOLE`,
      'log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender',
      'log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1} - %m%n',
    ];
    await writeFile(path.join(this.dir, 'log4j.properties'), `${log4j.join('\n')}\n`);
  }

  /**
   * Spawns the server through a small shell wrapper and resolves with the java PID.
   *
   * Why the wrapper: a test process that dies by SIGKILL (or a runner's timeout) runs no exit hook, and an
   * orphaned JVM would hold its ports for good. The wrapper keeps reading a pipe from this process; when this
   * process dies, by any means, the pipe closes and the wrapper SIGKILLs java. The wrapper prints java's own PID
   * first, so signals (SIGSTOP above all) go to java and not to the shell.
   */
  async spawn(settings: Settings & { java: string }): Promise<number> {
    const classpath = [settings.zookeeperJar, ...LOG_BINDING_JARS.filter((jar) => existsSync(jar))].join(':');
    const javaArgs = [
      `-Xmx${settings.heap}`,
      // Three JVMs share two cores in CI: a serial GC and C1 only start faster and fight less for CPU.
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      // No /tmp/hsperfdata_* files left behind by killed servers.
      '-XX:-UsePerfData',
      '-Djava.net.preferIPv4Stack=true',
      `-Dzookeeper.extendedTypesEnabled=${settings.extendedTypes}`,
      '-Dzookeeper.jmx.log4j.disable=true',
      `-Dlog4j.configuration=file:${path.join(this.dir, 'log4j.properties')}`,
      ...settings.jvmFlags,
      '-cp',
      classpath,
      QUORUM_PEER_MAIN,
      path.join(this.dir, 'zoo.cfg'),
    ];
    const script = [
      'log="$1"; shift',
      'exec 2>>"$log"',
      // A background job's stdin is /dev/null in a non-interactive shell, so keep the parent's pipe as fd 3.
      'exec 3<&0',
      '"$@" 3<&- </dev/null >>"$log" 2>&1 &',
      'pid=$!',
      'echo "$pid"',
      '( while read -r _ <&3; do :; done; kill -9 "$pid" 2>/dev/null ) &',
      'watchdog=$!',
      'wait "$pid"; rc=$?',
      'kill "$watchdog" 2>/dev/null',
      'exit "$rc"',
    ].join('\n');

    const wrapper = spawn('/bin/sh', ['-c', script, 'tokensync-zk', this.logFile, settings.java, ...javaArgs], {
      cwd: this.dir,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    this.wrapper = wrapper;
    this.exited = new Promise((resolve) => {
      wrapper.once('exit', (code, signal) => {
        // A late exit of an earlier process must not mark its successor stopped.
        if (this.wrapper === wrapper) {
          this.state = 'stopped';
          this.pid = undefined;
        }
        resolve(signal ?? String(code));
      });
    });
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      wrapper.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      wrapper.once('error', reject);
      wrapper.once('exit', () => reject(new Error(`server ${this.id} exited at once; see ${this.logFile}`)));
    });
    // A test that forgets close() must not hang the runner: the exit hook and the wrapper clean up instead.
    wrapper.stdout!.destroy();
    (wrapper.stdin as unknown as net.Socket).unref();
    wrapper.unref();
    this.pid = pid;
    this.state = 'running';
    return pid;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      // ESRCH: it died between our check and the signal; the wrapper's exit event will say so.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /** Waits for the current process to exit; false if it was still running when `timeoutMs` ran out. */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    if (!this.exited || this.state === 'stopped') return true;
    // The timer keeps the event loop alive while we wait (the wrapper itself is unref'd); cancel it once the
    // process is gone, or it would hold the test process open for the rest of the timeout.
    const cancel = new AbortController();
    const timeout = sleep(timeoutMs, false, { signal: cancel.signal }).catch(() => false);
    try {
      return await Promise.race([this.exited.then(() => true), timeout]);
    } finally {
      cancel.abort();
    }
  }

  /** Last lines of the server's log, for error messages. */
  logTail(lines = 15): string {
    try {
      const text = readFileSync(this.logFile, 'utf8').trimEnd().split('\n');
      return text.slice(-lines).join('\n');
    } catch {
      return '(no log yet)';
    }
  }
}

/** Every started set not yet closed, so that the exit hook can kill what a crashed test left behind. */
const live = new Set<StartedLocalZooKeeper>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' runs on a normal end and after an uncaught exception; only synchronous work is possible here.
  process.once('exit', () => {
    for (const cluster of live) cluster.killSync();
  });
}

/** Options of {@link StartedLocalZooKeeper.waitForQuorum}. */
export interface WaitForQuorumOptions {
  /** Before {@link scaledTimeout}. Default 20 s. */
  timeoutMs?: number;
}

/**
 * A running local ZooKeeper. Servers are addressed by index, 0-based (server `i` has `myid` `i + 1`).
 * Implements {@link ZooKeeperCluster}, the interface the container provider implements too.
 */
export class StartedLocalZooKeeper implements ZooKeeperCluster, AsyncDisposable {
  readonly provider = 'local' as const;
  private closed = false;

  /** @internal use {@link LocalZooKeeper.start} */
  constructor(
    private readonly baseDir: string,
    private readonly members: readonly LocalServer[],
    private readonly settings: Settings & { java: string },
  ) {
    installExitHook();
    live.add(this);
  }

  /** Number of servers. */
  get servers(): number {
    return this.members.length;
  }

  /** Process ids of the servers' JVMs (undefined for one that is not running), for CPU accounting. */
  get pids(): Array<number | undefined> {
    return this.members.map((server) => server.pid);
  }

  /** Every server, comma separated: `127.0.0.1:port,127.0.0.1:port,...`. */
  get connectString(): string {
    return this.getConnectString();
  }

  getConnectString(): string {
    return this.members.map((server) => server.connectString).join(',');
  }

  /** Just server `i`, for a client that must talk to that one server. */
  getServerConnectString(index: number): string {
    return this.server(index).connectString;
  }

  /** Server `i`'s log file (it is deleted by `close()`). */
  getLogFile(index: number): string {
    return this.server(index).logFile;
  }

  /** Server `i`'s data directory (snapshots and transaction logs under `version-2/`). */
  getDataDir(index: number): string {
    return this.server(index).dataDir;
  }

  /** Starts server `i` again (same ports and data) and resolves once its client port answers; it may not have
   * joined a quorum yet: follow with {@link waitForQuorum} when that matters. */
  async start(index: number): Promise<void> {
    this.assertOpen();
    const server = this.server(index);
    if (server.state !== 'stopped') throw new Error(`server ${index} is already ${server.state}`);
    await server.spawn(this.settings);
    const deadline = Date.now() + scaledTimeout(this.settings.startupTimeoutMs);
    while (!(await probeListening(LOOPBACK, server.clientPort))) {
      if (server.state === 'stopped') {
        throw new Error(`server ${index} exited during start-up; ${server.logFile} ends:\n${server.logTail()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`server ${index} did not open ${server.connectString} in time:\n${server.logTail()}`);
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }

  /** Stops server `i` with SIGTERM and waits for it to exit (SIGKILL after 10 s). With no index, stops
   * everything, like {@link close}. */
  async stop(index?: number): Promise<void> {
    if (index === undefined) return this.close();
    const server = this.server(index);
    if (server.state === 'stopped') return;
    server.signal('SIGTERM');
    // A stopped (SIGSTOP) process holds SIGTERM pending until it runs again.
    if (server.state === 'paused') server.signal('SIGCONT');
    if (!(await server.waitForExit(scaledTimeout(10_000)))) await this.kill(index);
  }

  /** Kills server `i` with SIGKILL, as a crash would, and waits for it to be gone. */
  async kill(index: number): Promise<void> {
    const server = this.server(index);
    if (server.state === 'stopped') return;
    server.signal('SIGKILL');
    if (!(await server.waitForExit(scaledTimeout(10_000)))) throw new Error(`server ${index} survived SIGKILL`);
  }

  /**
   * Freezes server `i` with SIGSTOP: its sockets stay open but nothing answers, as with a long GC pause or a
   * partition. Peers notice after `syncLimit` ticks; clients after their read timeout.
   */
  async pause(index: number): Promise<void> {
    const server = this.server(index);
    if (server.state !== 'running') throw new Error(`server ${index} is ${server.state}, not running`);
    server.signal('SIGSTOP');
    server.state = 'paused';
  }

  /** Lets a paused server `i` run again (SIGCONT). */
  async resume(index: number): Promise<void> {
    const server = this.server(index);
    if (server.state !== 'paused') throw new Error(`server ${index} is ${server.state}, not paused`);
    server.signal('SIGCONT');
    server.state = 'running';
  }

  /** Server `i`'s mode from `srvr`; a stopped or paused server is `down` without being asked. */
  async mode(index: number): Promise<ZooKeeperMode> {
    const server = this.server(index);
    if (server.state !== 'running') return 'down';
    return probeMode(LOOPBACK, server.clientPort);
  }

  /** Index of the server that leads now (the standalone one for a single server), if any. */
  async leaderIndex(): Promise<number | undefined> {
    const modes = await this.modes();
    const index = modes.findIndex((mode) => mode === 'leader' || mode === 'standalone');
    return index === -1 ? undefined : index;
  }

  /**
   * Waits until there is exactly one leader and every running server serves (paused and stopped servers are
   * left out), then resolves with the leader's index. Fails early, with log tails, if a server process dies.
   */
  async waitForQuorum(options: WaitForQuorumOptions = {}): Promise<number> {
    this.assertOpen();
    const timeoutMs = scaledTimeout(options.timeoutMs ?? 20_000);
    const deadline = Date.now() + timeoutMs;
    // Only a server that was running when we began counts as having died.
    const stoppedBefore = this.members.map((server) => server.state === 'stopped');
    let modes: ZooKeeperMode[] = [];
    for (;;) {
      modes = await this.modes();
      const running = this.members.map((server) => server.state === 'running');
      const leaders = modes.filter((mode) => mode === 'leader' || mode === 'standalone').length;
      if (leaders === 1 && modes.every((mode, i) => !running[i] || mode !== 'down')) {
        return modes.findIndex((mode) => mode === 'leader' || mode === 'standalone');
      }
      const died = this.members.findIndex((server, i) => server.state === 'stopped' && !stoppedBefore[i]);
      if (died !== -1) {
        const server = this.members[died]!;
        throw new Error(`server ${died} exited while waiting for a quorum; ${server.logFile}:\n${server.logTail()}`);
      }
      if (Date.now() > deadline) break;
      await sleep(POLL_INTERVAL_MS);
    }
    const report = this.members.map((server, i) => `server ${i} (${server.state}, ${modes[i]}):\n${server.logTail(8)}`).join('\n');
    throw new Error(`no quorum within ${timeoutMs} ms\n${report}`);
  }

  /**
   * Kills every server and deletes the temporary directory. Idempotent. Not a graceful shutdown: the data is
   * thrown away, so there is nothing to save.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    await Promise.all(
      this.members.map(async (server) => {
        server.signal('SIGKILL');
        await server.waitForExit(scaledTimeout(10_000));
      }),
    );
    if (!this.settings.keptDir) await rm(this.baseDir, { recursive: true, force: true, maxRetries: 3 });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal For the process exit hook, where only synchronous work runs. */
  killSync(): void {
    for (const server of this.members) server.signal('SIGKILL');
    try {
      if (!this.settings.keptDir) rmSync(this.baseDir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // A JVM still flushing as it dies can race the removal; a leftover temp dir is harmless.
    }
  }

  private modes(): Promise<ZooKeeperMode[]> {
    return Promise.all(this.members.map((_, index) => this.mode(index)));
  }

  private server(index: number): LocalServer {
    const server = this.members[index];
    if (!server) throw new RangeError(`no server ${index}: servers are 0..${this.members.length - 1}`);
    return server;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('this ZooKeeper has been closed');
  }
}
