import { performance } from 'node:perf_hooks';
import { ZooKeeperStore } from '../../sidecar/store/zookeeper/index.js';
import { newJti, recordName, shardName, shardOf, type RecordLayout, type TokenRecord } from '../../sidecar/store/token-record.js';
import { silentLogger } from '../../sidecar/util/logger.js';
import { forEachBounded, indices } from '../../sidecar/util/for-each-bounded.js';
import { connectBinding, zkCall } from './zk.js';

/** Creates in flight while populating: enough to keep a server's commit pipeline full. */
const IN_FLIGHT = 2_000;

/**
 * Fills a store's tree with `n` live session-token records, as fast as ZooKeeper takes them: the layout
 * (`/meta`, 4096 shards) is laid out by a real {@link ZooKeeperStore}, then the records are created with
 * pipelined raw creates of the binding, each under the shard `shardOf(jti)` names, holding a valid
 * {@link TokenRecord} JSON. Two tokens per subject, expiring in 7 days.
 */
export async function populate(
  servers: string,
  chroot: string,
  n: number,
  onProgress: (done: number, perSecond: number) => void,
  shards = 4096,
  recordLayout: RecordLayout = 2,
): Promise<{ seconds: number; perSecond: number }> {
  const layout = new ZooKeeperStore({ servers: servers.split(','), chroot, sessionTimeoutMs: 30_000, shards, logger: silentLogger() });
  await layout.start();
  const actualShards = layout.shards;
  await layout.close();

  const zk = await connectBinding(servers);
  try {
    // layout 1: the tree as a tokensync before layout 2 left it (names without the expiry)
    if (recordLayout === 1) await zkCall((cb) => zk.native.a_set(`${chroot}/meta`, JSON.stringify({ layoutVersion: 1, shards: actualShards }), -1, cb));
    const now = Date.now();
    const started = performance.now();
    let done = 0;
    let lastReport = started;
    await forEachBounded(indices(n), IN_FLIGHT, async (i) => {
      const record: TokenRecord = {
        jti: newJti('session'),
        subject: `user-${i >> 1}@example.com`,
        kind: 'session',
        issuedAt: now,
        expiresAt: now + 7 * 86_400_000,
        node: 'bench-populate',
      };
      const path = `${chroot}/tokens/${shardName(shardOf(record.jti, actualShards), actualShards)}/${recordName(record, recordLayout)}`;
      await zkCall((cb) => zk.native.a_create(path, JSON.stringify(record), 0, cb));
      done++;
      const t = performance.now();
      if (t - lastReport > 10_000) {
        lastReport = t;
        onProgress(done, done / ((t - started) / 1000));
      }
    });
    const seconds = (performance.now() - started) / 1000;
    return { seconds, perSecond: n / seconds };
  } finally {
    zk.close();
  }
}
