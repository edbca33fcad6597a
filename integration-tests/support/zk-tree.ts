import ZooKeeper from 'zookeeper';
import { digestOf } from '../../sidecar/mirror/mirror.js';
import { isProbeName } from '../../sidecar/store/probe-record.js';

/** A plain client of the same binding the sidecar uses, for reading the tree behind the sidecars' backs. */
export async function connectRaw(connect: string, attempts = 4): Promise<ZooKeeper> {
  for (let i = 1; ; i++) {
    try {
      return await connectOnce(connect, 8_000);
    } catch (err) {
      if (i >= attempts) throw err;
    }
  }
}

async function connectOnce(connect: string, timeoutMs: number): Promise<ZooKeeper> {
  const client = new ZooKeeper({
    connect,
    timeout: 10_000,
    debug_level: ZooKeeper.constants.ZOO_LOG_LEVEL_ERROR,
    host_order_deterministic: false,
    response_counter_limit: 1e9,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`no ZooKeeper session with ${connect}`));
    }, timeoutMs);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    client.init({});
  });
  return client;
}

/**
 * Every token record name under `<chroot>/tokens`, read fresh (sync first, so a lagging server cannot answer stale).
 * Propagation probes' records are left out, as the mirrors leave them out of their digests: they are not tokens.
 */
export async function readTree(client: ZooKeeper, chroot: string): Promise<string[]> {
  await client.sync(`${chroot}/tokens`).catch(() => undefined);
  const shards = (await client.get_children(`${chroot}/tokens`, false)) as string[];
  const names: string[] = [];
  const lists = await Promise.all(shards.map((s) => client.get_children(`${chroot}/tokens/${s}`, false) as Promise<string[]>));
  for (const list of lists) names.push(...list.filter((name) => !isProbeName(name)));
  return names;
}

export async function treeDigest(client: ZooKeeper, chroot: string): Promise<{ size: number; xor: string }> {
  return digestOf(await readTree(client, chroot));
}

/**
 * The tree's digest read by a separate process. Tests that stop and restart
 * the whole ensemble use this: a binding client in the test process itself
 * has been seen failing to get a new session after several ensemble restarts.
 */
export async function treeDigestFresh(connect: string, chroot: string): Promise<{ size: number; xor: string }> {
  const { execFile } = await import('node:child_process');
  const script = new URL('./tree-digest-main.js', import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, connect, chroot], { timeout: 40_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`tree digest failed: ${stderr.slice(-500) || err.message}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

/** What a sidecar process exposes for the comparison: its API. */
interface HasApi {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- whatever HttpResult's body is
  api: { get(path: string): Promise<{ body: any }> };
}

/**
 * Waits until every sidecar's mirror equals a fresh read of the tree (same
 * size, same XOR of name hashes), or fails showing both sides.
 */
export async function assertMirrorsEqualTree(connect: string, chroot: string, sidecars: HasApi[], timeoutMs = 30_000): Promise<void> {
  const { waitFor } = await import('../../sidecar/util/wait-for.js');
  let last = '';
  await waitFor(
    async () => {
      const tree = await treeDigestFresh(connect, chroot);
      const mirrors = await Promise.all(sidecars.map(async (n) => (await n.api.get('/v1/cluster?digest=1')).body.mirror.digest));
      last = JSON.stringify({ tree, mirrors });
      return mirrors.every((m: { size: number; xor: string }) => m.size === tree.size && m.xor === tree.xor);
    },
    'every mirror equals the tree',
    timeoutMs,
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${last}`);
  });
}
