import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Mirror } from './mirror.js';
import type { TokenRecord } from '../store/token-record.js';
import { newJti, recordName, shardOf } from '../store/token-record.js';
import { ZooKeeperStore } from '../store/zookeeper/zookeeper-store.js';
import { ZkLayout } from '../store/zookeeper/layout.js';
import type { ZkClient } from '../store/zookeeper/zk-client.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../integration-tests/zookeeper/index.js';
import { capturingLogger, eventually, nextEvent, rawClient } from '../../integration-tests/support/zk-test-support.js';

const SHARDS = 8;

function record(subject: string): TokenRecord {
  const jti = newJti('session');
  return { jti, subject, kind: 'session', issuedAt: Date.now(), expiresAt: Date.now() + 600_000, node: 'test' };
}

// A journaled issue is replayed (the store's create), then the token is revoked on another node, and only then
// does the replay settle the entry (after its journal write): the mirror has heard the deletion from the store by
// then and must not take the record back.
describe('Mirror.settle after a replayed create that another node deleted meanwhile (real ZooKeeper)', () => {
  let zk: ZooKeeperCluster;
  const { logger } = capturingLogger();
  const stores: ZooKeeperStore[] = [];
  let raw: ZkClient | undefined;

  const open = async (chroot: string, recordWatch: 'persistent' | 'one-shot', watch: boolean) => {
    const store = new ZooKeeperStore({
      servers: [zk.connectString],
      chroot,
      sessionTimeoutMs: 10_000,
      shards: SHARDS,
      logger,
      recordWatch,
    });
    stores.push(store);
    await store.start({ watch });
    return store;
  };

  before(async () => {
    zk = await startZooKeeper({ servers: 1 });
  });

  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    raw?.close();
    await zk?.close();
  });

  for (const mode of ['persistent', 'one-shot'] as const) {
    it(`${mode} watch: the revoked record stays out of the mirror`, async () => {
      const chroot = `/settle-${mode}`;
      const here = new ZooKeeperStore({
        servers: [zk.connectString],
        chroot,
        sessionTimeoutMs: 10_000,
        shards: SHARDS,
        logger,
        recordWatch: mode,
      });
      stores.push(here);
      const mirror = new Mirror(() => here.shards);
      mirror.attach(here);
      const rebuilt = nextEvent(here, 'rebuilt', () => true, 20_000);
      await here.start({ watch: true });
      await rebuilt;
      const elsewhere = await open(chroot, mode, false);

      const token = record('replayed');
      const shard = shardOf(token.jti, SHARDS);
      const held = () => mirror.shardNames(shard).includes(token.jti);
      mirror.addPending({ jti: token.jti, subject: token.subject }); // journaled during an outage
      await here.create(token); // the replay's write
      await eventually(held, 10_000, 10); // the store's notification reached the mirror
      assert.equal(await elsewhere.delete({ jti: token.jti, subject: token.subject }), true); // revoked on another node
      await eventually(() => !held(), 10_000, 10);
      mirror.settle(token.jti); // the replay's journal write is done

      assert.equal(mirror.lookup(token.jti).presence, 'removed');
      assert.equal(await here.exists({ jti: token.jti, subject: token.subject }), false);
      assert.deepEqual([...mirror.entries()], [], 'the mirror equals the tree (empty)');
      mirror.detach();
    });

    it(`${mode} watch: a record created and deleted before any re-listing showed it stays out too`, async () => {
      const chroot = `/settle-unseen-${mode}`;
      const here = new ZooKeeperStore({
        servers: [zk.connectString],
        chroot,
        sessionTimeoutMs: 10_000,
        shards: SHARDS,
        logger,
        recordWatch: mode,
      });
      stores.push(here);
      const mirror = new Mirror(() => here.shards);
      mirror.attach(here);
      const rebuilt = nextEvent(here, 'rebuilt', () => true, 20_000);
      await here.start({ watch: true });
      await rebuilt;
      raw ??= await rawClient(zk.connectString, logger);

      const token = record('unseen');
      const ref = { jti: token.jti, subject: token.subject };
      const path = new ZkLayout(chroot, SHARDS).recordPath(ref);
      const shard = shardOf(token.jti, SHARDS);
      mirror.addPending(ref);
      // what tells this node: one re-listing of the shard (one-shot), or both events (persistent)
      const heard =
        mode === 'one-shot'
          ? nextEvent(here, 'shard', (s: number) => s === shard, 10_000)
          : nextEvent(here, 'record', (_s: number, name: string, present: boolean) => name === recordName(ref) && !present, 10_000);
      // the replay's create and a revocation elsewhere, applied before this node's next listing of the shard
      await raw.multi([
        { op: 'create', path, data: JSON.stringify(token) },
        { op: 'delete', path, version: -1 },
      ]);
      await heard;
      mirror.settle(token.jti);

      assert.notEqual(mirror.lookup(token.jti).presence, 'present');
      assert.deepEqual([...mirror.entries()], [], 'the mirror equals the tree (empty)');
      mirror.detach();
    });
  }
});
