import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError } from '../../errors/bad-request-error.js';
import { newJti, type TokenRecord } from '../token-record.js';
import { RecordWrites } from './record-writes.js';
import type { TreeWatcher } from './tree-watcher.js';
import { ZkReplayReceipts } from './zk-replay-receipts.js';
import type { ZkSession } from './zk-session.js';
import type { ZkClient } from './zk-client.js';
import { capturingLogger, openPartSession, rawClient } from '../../../integration-tests/support/zk-test-support.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../../integration-tests/zookeeper/index.js';

function record(kind: TokenRecord['kind'] = 'session'): TokenRecord {
  return { jti: newJti(kind), subject: 'alice', kind, issuedAt: Date.now(), expiresAt: Date.now() + 60_000, node: 'test' };
}

/** Records the writes the part reports to the watcher (the watcher is not under test here). */
function recordingWatcher() {
  let seq = 0;
  const noted: Array<[shard: number, seq: number]> = [];
  const watcher = { nextSeq: () => ++seq, noteWrite: (shard: number, s: number) => void noted.push([shard, s]) };
  return { watcher: watcher as unknown as TreeWatcher, noted };
}

describe('RecordWrites on a real ZooKeeper', () => {
  let zk: ZooKeeperCluster;
  let raw: ZkClient;
  const sessions: ZkSession[] = [];
  const { logger, lines } = capturingLogger();

  before(async () => {
    zk = await startZooKeeper({ servers: 1 });
    raw = await rawClient(zk.connectString, logger);
  });

  after(async () => {
    for (const s of sessions) s.shutdown();
    raw?.close();
    await zk?.close();
  });

  const open = async (chroot: string) => {
    const { session, layout, errors } = await openPartSession(zk.connectString, chroot, logger);
    sessions.push(session);
    const { watcher, noted } = recordingWatcher();
    const parts = { session, layout, acl: undefined, logger, watcher: () => watcher };
    const writes = new RecordWrites({ ...parts, receipts: new ZkReplayReceipts({ ...parts, prefix: undefined }) });
    return { writes, layout, noted, errors };
  };

  it('creates of one turn share transactions; every applied write is noted with its shard, a refused one is not', async () => {
    const { writes, layout, noted, errors } = await open('/rw/batch');
    const records = Array.from({ length: 20 }, () => record());
    assert.deepEqual(
      await Promise.all(records.map((r) => writes.create(r))),
      records.map(() => true),
    );
    assert.equal(await writes.create(records[0]!), false, 'a taken name');
    const counts = writes.counts;
    assert.ok(counts.transactions >= 1 && counts.transactions < 20, `${counts.transactions} transactions`);
    assert.equal(counts.creates, 20);
    assert.equal(noted.length, 20, 'the refused create is not noted');
    assert.deepEqual(new Set(noted.map(([shard]) => shard)), new Set(records.map((r) => layout.shardOf(r.jti))));
    assert.deepEqual(errors, []);
  });

  it('delete answers false once gone; consume refuses a record that was modified (records are immutable)', async () => {
    const { writes, layout } = await open('/rw/delete');
    const r = record();
    await writes.create(r);
    assert.equal(await writes.delete(r, -1), true);
    assert.equal(await writes.delete(r, -1), false);
    assert.equal(await writes.delete(r, 0), false);

    const touched = record('onetime');
    await writes.create(touched);
    await raw.set(layout.recordPath(touched), JSON.stringify(touched), -1); // version 1 now
    assert.equal(await writes.delete(touched, 0), false);
    assert.ok(lines.some((l) => l.includes('was modified after it was created')));
    assert.notEqual(await raw.exists(layout.recordPath(touched)), null, 'left in place');
  });

  it('refuses an invalid record before sending anything', async () => {
    const { writes } = await open('/rw/invalid');
    await assert.rejects(writes.create({ ...record(), jti: '../x' }), BadRequestError);
    await assert.rejects(writes.create({ ...record(), subject: '' }), BadRequestError);
    assert.equal(writes.counts.transactions, 0);
  });
});
