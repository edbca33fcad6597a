import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import net, { type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * The native binding must never hand a socket it has lost to the rest of the process (scripts/patch-zookeeper-binding.mjs).
 * When the C client closes its socket outside the binding's yield() (a send that fails inside an asynchronous call, or
 * zookeeper_interest() giving up on a silent server), the unpatched binding kept polling the closed fd number; the
 * next socket Node opened on that number lost its events and libuv later aborted (SIGABRT) on it.
 * Here, sockets opened right after such a close must all keep working. The deadlines only separate "answered"
 * from "never answered" (a healthy echo on loopback takes well under a millisecond).
 */

interface RawZk {
  init(options: object): void;
  create(path: string, data: string, flags: number): Promise<string>;
  close(): Promise<void> | void;
  once(event: 'connect' | 'close', listener: () => void): void;
  on(event: 'connecting', listener: () => void): void;
  readonly state: number;
}
type RawZkClass = new (options: object) => RawZk;

const CONNECTED = 3;
const ANSWER_DEADLINE_MS = 10_000;
const require = createRequire(import.meta.url);

let zk: ZooKeeperCluster;
let echo: net.Server;
let echoPort: number;

before(async () => {
  zk = await startZooKeeper({ servers: 1 });
  echo = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as AddressInfo).port;
});

after(async () => {
  await new Promise<void>((resolve) => echo.close(() => resolve()));
  await zk?.close();
});

test('the installed zookeeper binding carries the fd patch', () => {
  // Throws (exit 1) when the source is unpatched or was not rebuilt after patching.
  const out = execFileSync(process.execPath, ['scripts/patch-zookeeper-binding.mjs', '--check'], { encoding: 'utf8' });
  assert.match(out, /patched, built/);
});

async function connectedClient(connect: string, sessionTimeoutMs: number): Promise<RawZk> {
  const ZooKeeper = require('zookeeper') as RawZkClass;
  const client = new ZooKeeper({
    connect,
    timeout: sessionTimeoutMs,
    debug_level: 0,
    host_order_deterministic: false,
    response_counter_limit: 2 ** 30,
  });
  const connected = new Promise<void>((resolve) => client.once('connect', resolve));
  client.init({});
  await connected;
  return client;
}

/** A socket to the echo server; it is `answered` once it has connected and `ping` came back. */
interface Probe {
  socket: Socket;
  answered: Promise<boolean>;
}

/** Opens a socket now (its fd is allocated synchronously); `ping` is sent once connected, or at once if asked. */
function probe(): Probe & { ping(): void } {
  const socket = net.connect(echoPort, '127.0.0.1');
  socket.on('error', () => {});
  let connected = false;
  let wanted = false;
  const send = () => socket.write('ping');
  socket.once('connect', () => {
    connected = true;
    if (wanted) send();
  });
  const answered = new Promise<boolean>((resolve) => socket.once('data', () => resolve(true)));
  return {
    socket,
    answered,
    ping() {
      wanted = true;
      if (connected) send();
    },
  };
}

/** True when every probe connects and echoes before the deadline; lists the ones that never did. */
async function silentProbes(probes: ReturnType<typeof probe>[]): Promise<number[]> {
  for (const p of probes) p.ping();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ANSWER_DEADLINE_MS)));
  const results = await Promise.all(probes.map((p) => Promise.race([p.answered, deadline])));
  clearTimeout(timer);
  return results.flatMap((ok, i) => (ok ? [] : [i]));
}

async function untilConnected(client: RawZk): Promise<void> {
  await waitFor(() => client.state === CONNECTED, 'the client to reconnect', 30_000, 20);
}

test('a connection reset under a request leaves the sockets Node opens next working', async () => {
  const proxy = await new TcpProxy({ targetHost: '127.0.0.1', targetPort: Number(zk.connectString.split(':')[1]) }).start();
  const client = await connectedClient(proxy.address, 4_000);
  // Opened while the C client is inside its call, right after it closed its socket and reported the loss.
  let inside: ReturnType<typeof probe>[] = [];
  client.on('connecting', () => inside.push(probe(), probe()));
  const silent: string[] = [];
  try {
    for (let round = 0; round < 20; round++) {
      inside = [];
      proxy.cut();
      await new Promise((resolve) => setImmediate(resolve)); // the reset reaches the client's socket
      void client.create(`/fd-reset-${round}`, 'x', 0).catch(() => undefined); // its send fails: the fd is closed
      const probes = [...inside, probe(), probe(), probe(), probe()]; // one of them usually gets the closed fd's number
      proxy.restore();
      silent.push(...(await silentProbes(probes)).map((i) => `round ${round} socket ${i}`));
      for (const p of probes) p.socket.destroy();
      if (silent.length > 0) break; // the process's event loop is already corrupted; stop here
      await untilConnected(client);
    }
  } finally {
    await client.close();
    await proxy.close();
  }
  assert.deepEqual(silent, [], 'sockets opened right after the reset never connected or heard back');
});

test('a connection that times out (blackholed server) leaves the sockets Node opens meanwhile working', async () => {
  const proxy = await new TcpProxy({ targetHost: '127.0.0.1', targetPort: Number(zk.connectString.split(':')[1]) }).start();
  const client = await connectedClient(proxy.address, 3_000);
  let expired = false; // the binding closes itself when told its session expired
  client.once('close', () => (expired = true));
  const probes: ReturnType<typeof probe>[] = [];
  // Opened inside zookeeper_interest, which has just closed the timed-out socket: the first gets its number.
  client.on('connecting', () => probes.push(probe(), probe()));
  try {
    proxy.blackhole();
    // Long-lived sockets opened all through the client's timeout (2/3 of the session timeout: it closes its socket
    // inside zookeeper_interest) and its reconnect attempts into the blackhole.
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      probes.push(probe());
      await sleep(10);
    }
    proxy.restore();
    // Back, or told that its session expired meanwhile: either way the binding has reconnected once.
    await waitFor(() => client.state === CONNECTED || expired, 'the client to reconnect', 30_000, 20);
    const silent = await silentProbes(probes);
    assert.equal(silent.length, 0, `${silent.length} of ${probes.length} sockets opened while the client timed out never heard back`);
  } finally {
    for (const p of probes) p.socket.destroy();
    await client.close();
    await proxy.close();
  }
});
