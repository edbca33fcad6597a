import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ZkReplayReceipts } from './zk-replay-receipts.js';
import type { ZkSession } from './zk-session.js';
import { CreateMode, type ZkClient } from './zk-client.js';
import { capturingLogger, openPartSession, rawClient } from '../../../integration-tests/support/zk-test-support.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../../integration-tests/zookeeper/index.js';

describe('ZkReplayReceipts on a real ZooKeeper', () => {
  let zk: ZooKeeperCluster;
  let raw: ZkClient;
  const sessions: ZkSession[] = [];
  const { logger } = capturingLogger();

  before(async () => {
    zk = await startZooKeeper({ servers: 1 });
    raw = await rawClient(zk.connectString, logger);
  });

  after(async () => {
    for (const s of sessions) s.shutdown();
    raw?.close();
    await zk?.close();
  });

  const open = async (chroot: string, prefix: string | undefined) => {
    const { session, layout } = await openPartSession(zk.connectString, chroot, logger);
    sessions.push(session);
    return { receipts: new ZkReplayReceipts({ session, layout, acl: undefined, logger, prefix, watcher: () => null }), layout };
  };

  it('names are <prefix>.<run>.<random>, one run per instance; without a prefix the batcher sends no receipts', async () => {
    const { receipts: a } = await open('/rr/names', 'j1');
    const { receipts: b } = await open('/rr/names', 'j1');
    const [n1, n2, m1] = [a.newName(), a.newName(), b.newName()];
    assert.match(n1, /^j1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}$/);
    assert.notEqual(n1, n2);
    assert.equal(n1.split('.')[1], n2.split('.')[1], 'one run');
    assert.notEqual(n1.split('.')[1], m1.split('.')[1], 'another instance, another run');
    assert.notEqual(a.forBatcher(), undefined);
    const { receipts: none } = await open('/rr/names', undefined);
    assert.equal(none.forBatcher(), undefined);
    assert.equal(await none.cleanup(new Set()), 0);
  });

  it("cleanup deletes an earlier run's receipts of its prefix, except those kept; never its own run's nor another prefix's", async () => {
    const { receipts: earlier, layout } = await open('/rr/cleanup', 'j1');
    const { receipts: now } = await open('/rr/cleanup', 'j1');
    const { receipts: other } = await open('/rr/cleanup', 'j2');
    const [left, kept, own, foreign] = [earlier.newName(), earlier.newName(), now.newName(), other.newName()];
    for (const name of [left, kept, own, foreign]) await raw.create(layout.receiptPath(name), 'applied', CreateMode.PERSISTENT);
    assert.equal(await now.cleanup(new Set([kept])), 1);
    assert.deepEqual((await raw.getChildren(layout.replays)).sort(), [kept, own, foreign].sort());
  });
});
