import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SidecarProcess, runCli, tempDir, writeProperties } from './sidecar-process.js';
import { proxyEach, type TcpProxy } from './tcp-proxy.js';
import { startZooKeeper, type ZooKeeperCluster } from '../zookeeper/index.js';

export type SkewStore = 'ZOOKEEPER' | 'DIRECTORY';

export interface SkewNodeSpec {
  nodeId: string;
  /** Wall clock shift of this sidecar, seconds. */
  offset: number;
  /** ZOOKEEPER: reach the ensemble through a TcpProxy the test can cut (see {@link SkewCluster.proxies}). */
  proxied?: boolean;
}

/** Real sidecar processes with shifted clocks on one store: a ZooKeeper server, or one folder they all share. */
export interface SkewCluster extends AsyncDisposable {
  store: SkewStore;
  nodes: Map<string, SidecarProcess>;
  /** The proxies of proxied nodes, by node id. */
  proxies: Map<string, TcpProxy[]>;
  node(id: string): SidecarProcess;
  close(): Promise<void>;
}

export async function startSkewCluster(
  store: SkewStore,
  specs: SkewNodeSpec[],
  extra: Record<string, string | number | boolean> = {},
): Promise<SkewCluster> {
  const dir = await tempDir(`tokensync-skew-${store.toLowerCase()}-`);
  const nodes = new Map<string, SidecarProcess>();
  const proxies = new Map<string, TcpProxy[]>();
  let zk: ZooKeeperCluster | undefined;
  const close = async () => {
    await Promise.all([...nodes.values()].map((n) => n.stop()));
    for (const list of proxies.values()) await Promise.all(list.map((p) => p.close()));
    await zk?.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const cli = await writeProperties(join(dir, 'cli.properties'), { 'app.data.dir': join(dir, 'cli') });
    const made = await runCli(['secret', 'generate', '--config', cli]);
    if (made.code !== 0) throw new Error(made.stderr);
    const common: Record<string, string | number | boolean> = {
      'authentication.token.secret.file': join(dir, 'cli', 'token_secret'),
      ...extra,
    };
    if (store === 'ZOOKEEPER') {
      zk = await startZooKeeper({ servers: 1, provider: 'local' });
      Object.assign(common, {
        'cluster.store.type': 'ZOOKEEPER',
        'cluster.store.zookeeper.session.timeout': '4s',
        'cluster.store.zookeeper.shards': 32,
      });
    } else {
      Object.assign(common, {
        'cluster.store.directory.path': join(dir, 'shared'),
        'cluster.store.directory.rescan.interval': '1s',
        'cluster.store.directory.shards': 16,
      });
    }
    await Promise.all(
      specs.map(async (spec) => {
        const props: Record<string, string | number | boolean> = { ...common, 'app.data.dir': join(dir, spec.nodeId) };
        if (zk) {
          let connect = zk.connectString;
          if (spec.proxied) {
            const proxied = await proxyEach(zk.connectString);
            proxies.set(spec.nodeId, proxied.proxies);
            connect = proxied.connectString;
          }
          props['cluster.store.zookeeper.connect'] = `${connect}/skew`;
        }
        const node = new SidecarProcess({
          nodeId: spec.nodeId,
          props,
          dir: join(dir, `${spec.nodeId}-conf`),
          clockOffsetSeconds: spec.offset,
        });
        nodes.set(spec.nodeId, node);
        await node.start();
      }),
    );
  } catch (err) {
    await close();
    throw err;
  }
  return {
    store,
    nodes,
    proxies,
    node: (id) => nodes.get(id)!,
    close,
    [Symbol.asyncDispose]: close,
  };
}
