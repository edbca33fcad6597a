import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fourLetterWord, LocalZooKeeper, type StartedLocalZooKeeper } from '../../integration-tests/zookeeper/local-zookeeper.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../integration-tests/zookeeper/index.js';
import type { ZooKeeperBinding, ZooKeeperBindingClass } from '../../sidecar/store/zookeeper/zookeeper.js';

export { startZooKeeper, type ZooKeeperCluster };

/**
 * A local ZooKeeper with a heap big enough for millions of znodes (the harness's default 256 MB holds a few
 * hundred thousand), for the scale section.
 */
export function startBigZooKeeper(servers: 1 | 3, heap: string, ...jvmFlags: string[]): Promise<StartedLocalZooKeeper> {
  return bigZooKeeper(servers, heap, ...jvmFlags).start();
}

/** {@link startBigZooKeeper}'s builder, for more settings (a kept data directory, a longer start-up). */
export function bigZooKeeper(servers: 1 | 3, heap: string, ...jvmFlags: string[]): LocalZooKeeper {
  return new LocalZooKeeper(servers).withHeap(heap).withJvmFlags(...jvmFlags);
}

/** Heap used by a ZooKeeper JVM after a full GC, in bytes (`jcmd GC.run` then `GC.heap_info`); NaN when jcmd cannot tell. */
export async function zookeeperHeapUsed(pid: number): Promise<number> {
  const run = (args: string[]) =>
    new Promise<string>((resolve) =>
      execFile('jcmd', [String(pid), ...args], { timeout: 120_000 }, (err, stdout) => resolve(err ? '' : stdout)),
    );
  await run(['GC.run']);
  const info = await run(['GC.heap_info']);
  let used = 0;
  for (const m of info.matchAll(/^\s*(?:def new generation|tenured generation)\s+total \d+K, used (\d+)K/gm)) used += Number(m[1]) * 1024;
  return used > 0 ? used : NaN;
}

/** `host:port` of server `i` of a cluster. */
function hostPort(zk: ZooKeeperCluster, index: number): { host: string; port: number } {
  const [host, port] = zk.getServerConnectString(index).split(':') as [string, string];
  return { host, port: Number(port) };
}

/** `mntr` of one server as key -> value. */
export async function mntr(zk: ZooKeeperCluster, index: number): Promise<Map<string, string>> {
  const { host, port } = hostPort(zk, index);
  const text = await fourLetterWord(host, port, 'mntr', 3_000);
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [k, v] = line.split('\t');
    if (k && v !== undefined) out.set(k.trim(), v.trim());
  }
  return out;
}

/** The last committed zxid's counter (low 32 bits) as `srvr` reports it on server `i`. */
export async function zxidCounter(zk: ZooKeeperCluster, index: number): Promise<number> {
  const { host, port } = hostPort(zk, index);
  const text = await fourLetterWord(host, port, 'srvr', 3_000);
  const hex = /^Zxid: 0x([0-9a-f]+)/m.exec(text)?.[1];
  if (!hex) throw new Error(`no Zxid in srvr: ${text}`);
  return Number(BigInt(`0x${hex}`) & 0xffffffffn);
}

export interface WriteCounters {
  zxid: number;
  znodes: number;
}

/** Transactions committed (zxid) and znodes held, read on the leader. */
export async function writeCounters(zk: ZooKeeperCluster): Promise<WriteCounters> {
  const leader = (await zk.leaderIndex()) ?? 0;
  const [zxid, stats] = await Promise.all([zxidCounter(zk, leader), mntr(zk, leader)]);
  return { zxid, znodes: Number(stats.get('zk_znode_count') ?? NaN) };
}

/** A raw client of the binding the store uses, for populating the tree behind the sidecars' backs. */
export async function connectBinding(connect: string, sessionTimeoutMs = 30_000): Promise<ZooKeeperBinding> {
  const Binding = createRequire(import.meta.url)('zookeeper') as ZooKeeperBindingClass;
  const zk: ZooKeeperBinding = new Binding({
    connect,
    timeout: sessionTimeoutMs,
    debug_level: 0,
    host_order_deterministic: false,
    response_counter_limit: 2 ** 30,
  });
  const connected = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no session with ${connect}`)), 20_000);
    zk.on('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  zk.init({});
  await connected;
  return zk;
}

export function zkCall<T>(invoke: (cb: (rc: number, error: string, value?: T) => void) => number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const rc = invoke((code, error, value) => (code === 0 ? resolve(value) : reject(new Error(`${code} ${error}`))));
    if (rc !== 0) reject(new Error(`rc ${rc}`));
  });
}

/** ZooKeeper's version as `srvr` reports it. */
export async function zookeeperVersion(zk: ZooKeeperCluster): Promise<string> {
  const { host, port } = hostPort(zk, 0);
  const text = await fourLetterWord(host, port, 'srvr', 3_000);
  return /Zookeeper version: ([^,\s-]+)/.exec(text)?.[1] ?? 'unknown';
}
