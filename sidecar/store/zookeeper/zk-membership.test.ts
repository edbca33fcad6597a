import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MemberInfo } from '../token-store.js';
import { ZkMembership } from './zk-membership.js';
import type { ZkSession } from './zk-session.js';
import { capturingLogger, openPartSession } from '../../../integration-tests/support/zk-test-support.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../../integration-tests/zookeeper/index.js';

function member(nodeId: string): MemberInfo {
  const now = Date.now();
  return {
    nodeId,
    address: '127.0.0.1:7468',
    version: 'test',
    pid: process.pid,
    startedAt: now,
    updatedAt: now,
    mirrorSize: 0,
    mirrorLagMs: 0,
    state: 'connected',
    storeType: 'ZOOKEEPER',
  };
}

describe('ZkMembership on a real ZooKeeper', () => {
  let zk: ZooKeeperCluster;
  const sessions: ZkSession[] = [];
  const { logger } = capturingLogger();
  const reported: unknown[] = [];

  before(async () => {
    zk = await startZooKeeper({ servers: 1 });
  });

  after(async () => {
    for (const s of sessions) s.shutdown();
    await zk?.close();
    assert.deepEqual(reported, []);
  });

  const open = async () => {
    const { session, layout } = await openPartSession(zk.connectString, '/ms', logger);
    sessions.push(session);
    return {
      session,
      membership: new ZkMembership({ session, layout, acl: undefined, readConcurrency: 8, logger, report: (e) => void reported.push(e) }),
    };
  };

  it('lists every published member, sorted by node id', async () => {
    const nodes = await Promise.all(['n3', 'n1', 'n2'].map(async (id) => ({ id, ...(await open()) })));
    for (const { id, membership } of nodes) await membership.publish(member(id));
    assert.deepEqual(
      (await nodes[0]!.membership.list()).map((m) => m.nodeId),
      ['n1', 'n2', 'n3'],
    );
  });

  it('concurrent reaper checks share one request; releasing on close hands the lead to the next', async () => {
    const a = await open();
    const b = await open();
    await a.membership.publish(member('a'));
    await b.membership.publish(member('b'));
    const first = a.membership.isReaper();
    assert.equal(a.membership.isReaper(), first, 'one check in flight');
    assert.equal(await first, true);
    assert.equal(await b.membership.isReaper(), false);
    await Promise.all(a.membership.release(a.session.requireClient()));
    assert.equal(await b.membership.isReaper(), true);
  });
});
