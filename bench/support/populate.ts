import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZooKeeperStore } from '../../sidecar/store/zookeeper/index.js';
import { newJti, recordName, shardName, shardOf, type RecordLayout, type TokenRecord } from '../../sidecar/store/token-record.js';
import type { ZkNativeOp } from '../../sidecar/store/zookeeper/zookeeper.js';
import { silentLogger } from '../../sidecar/util/logger.js';
import { forEachBounded, indices } from '../../sidecar/util/for-each-bounded.js';
import { connectBinding, zkCall } from './zk.js';

/** Creates per transaction: well under ZooKeeper's 1 MB request limit (a create is ~250 bytes here). */
const BATCH = 1_000;
/** Transactions in flight: enough to keep one server's commit pipeline full. */
const IN_FLIGHT = 2;

/**
 * Fills a store's tree with `n` live session-token records, as fast as ZooKeeper takes them: the layout
 * (`/meta`, 4096 shards) is laid out by a real {@link ZooKeeperStore}, then the records are created in
 * transactions (the binding's `a_multi`, 1,000 creates each), each under the shard `shardOf(jti)` names, with a
 * layout-2 name (`<jti>~<b64 subject>~0~<exp s>`) and a valid {@link TokenRecord} JSON. Two tokens per subject,
 * expiring in 7 days.
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

  // a server holding millions of znodes pauses for long full GCs (serial GC): a short session would expire meanwhile
  const zk = await connectBinding(servers, 300_000);
  const multi = zk.native.a_multi;
  if (!multi) throw new Error('the zookeeper binding lacks a_multi (tokensync multi patch)');
  try {
    // layout 1: the tree as a tokensync before layout 2 left it (names without the expiry)
    if (recordLayout === 1)
      await zkCall((cb) => zk.native.a_set(`${chroot}/meta`, JSON.stringify({ layoutVersion: 1, shards: actualShards }), -1, cb));
    // a run cut short (a server paused too long in a full GC) is resumed: count what is there
    const shardPaths = Array.from({ length: actualShards }, (_, s) => `${chroot}/tokens/${shardName(s, actualShards)}`);
    let existing = 0;
    for (const p of shardPaths)
      existing += (await zkCall<{ numChildren: number }>((cb) => zk.native.a_exists(p, false, cb as never)))?.numChildren ?? 0;
    const now = Date.now();
    const expiresAt = now + 7 * 86_400_000;
    const started = performance.now();
    let done = 0;
    let lastReport = started;
    const first = Math.ceil(existing / BATCH);
    await forEachBounded(indices(Math.ceil(n / BATCH) - first), IN_FLIGHT, async (k) => {
      const b = first + k;
      const ops: ZkNativeOp[] = [];
      for (let i = b * BATCH; i < Math.min(n, (b + 1) * BATCH); i++) {
        const record: TokenRecord = {
          jti: newJti('session'),
          subject: `user-${i >> 1}@example.com`,
          kind: 'session',
          issuedAt: now,
          expiresAt,
          node: 'bench-populate',
        };
        const name = recordName(record, recordLayout);
        ops.push({
          type: 1,
          path: `${chroot}/tokens/${shardName(shardOf(record.jti, actualShards), actualShards)}/${name}`,
          data: JSON.stringify(record),
          flags: 0,
        });
      }
      for (let attempt = 1; ; attempt++) {
        try {
          await zkCall((cb) => multi.call(zk.native, ops, cb));
          break;
        } catch (err) {
          // a timed-out transaction was applied wholly or not at all: its first node tells which
          const applied = await zkCall((cb) => zk.native.a_exists(ops[0]!.path, false, cb)).then(
            () => true,
            () => false,
          );
          if (applied) break;
          if (attempt === 5) throw err;
          await sleep(2_000 * attempt);
        }
      }
      done += ops.length;
      const t = performance.now();
      if (t - lastReport > 10_000) {
        lastReport = t;
        onProgress(done, done / ((t - started) / 1000));
      }
    });
    const seconds = (performance.now() - started) / 1000;
    return { seconds, perSecond: (n - first * BATCH) / seconds };
  } finally {
    zk.close();
  }
}
