import ZooKeeper from 'zookeeper';
import { digestOf } from '../../sidecar/mirror/mirror.js';

/** A plain client of the same binding the sidecar uses, for reading the tree behind the sidecars' backs. */
export async function connectRaw(connect: string, timeoutMs = 15_000): Promise<ZooKeeper> {
  const client = new ZooKeeper({
    connect,
    timeout: 10_000,
    debug_level: ZooKeeper.constants.ZOO_LOG_LEVEL_ERROR,
    host_order_deterministic: false,
    response_counter_limit: 1e9,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ZooKeeper session with ${connect}`)), timeoutMs);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    client.init({});
  });
  return client;
}

/** Every record name under `<chroot>/tokens`, read fresh (sync first, so a lagging server cannot answer stale). */
export async function readTree(client: ZooKeeper, chroot: string): Promise<string[]> {
  await client.sync(`${chroot}/tokens`).catch(() => undefined);
  const shards = (await client.get_children(`${chroot}/tokens`, false)) as string[];
  const names: string[] = [];
  const lists = await Promise.all(shards.map((s) => client.get_children(`${chroot}/tokens/${s}`, false) as Promise<string[]>));
  for (const list of lists) names.push(...list);
  return names;
}

export async function treeDigest(client: ZooKeeper, chroot: string): Promise<{ size: number; xor: string }> {
  return digestOf(await readTree(client, chroot));
}
