import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ZkClient } from './zk-client.js';
import { ZkMultiError } from './zk-multi-error.js';
import { ZkCode, ZkError } from './zk-error.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../../integration-tests/zookeeper/index.js';
import { capturingLogger, rawClient } from '../../../integration-tests/support/zk-test-support.js';

// ZkClient.multi over the binding's a_multi (tokensync's multi patch) against a real ZooKeeper: one transaction,
// all or nothing.
describe('ZkClient.multi on a real ZooKeeper', () => {
  let zk: ZooKeeperCluster;
  let client: ZkClient;
  const { logger } = capturingLogger();

  before(async () => {
    zk = await startZooKeeper({ servers: 1 });
    client = await rawClient(zk.connectString, logger);
    await client.create('/multi', '');
  });

  after(async () => {
    client?.close();
    await zk?.close();
  });

  it('is available (the binding was rebuilt with the multi patch)', () => {
    assert.equal(client.canMulti, true);
  });

  it('applies creates, a check and a delete as one transaction: one zxid for all', async () => {
    await client.create('/multi/old', 'x');
    await client.multi([
      { op: 'create', path: '/multi/a', data: 'alpha' },
      { op: 'create', path: '/multi/b', data: Buffer.from([0, 1, 2, 255]) },
      { op: 'check', path: '/multi/old', version: 0 },
      { op: 'delete', path: '/multi/old', version: 0 },
    ]);
    const a = await client.get('/multi/a');
    const b = await client.get('/multi/b');
    assert.equal(a.data.toString(), 'alpha');
    assert.deepEqual([...b.data], [0, 1, 2, 255], 'binary data kept byte for byte');
    assert.equal(a.stat.czxid, b.stat.czxid, 'both created by the same transaction');
    assert.equal(await client.exists('/multi/old'), null, 'deleted in it');
  });

  it('applies nothing when one op is refused, and names that op', async () => {
    await client.create('/multi/taken', 'x');
    const ops = [
      { op: 'create', path: '/multi/c1', data: '1' },
      { op: 'create', path: '/multi/taken', data: '2' },
      { op: 'create', path: '/multi/c3', data: '3' },
    ] as const;
    const error = await client.multi(ops).then(
      () => assert.fail('the multi should have been refused'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ZkMultiError, String(error));
    assert.equal(error.rc, ZkCode.NODEEXISTS);
    assert.equal(error.failedIndex, 1);
    assert.equal(error.path, '/multi/taken');
    assert.equal(error.results.length, 3);
    assert.equal(error.results[1], ZkCode.NODEEXISTS);
    assert.equal(error.results[2], ZkCode.RUNTIMEINCONSISTENCY, 'not tried');
    assert.equal(await client.exists('/multi/c1'), null, 'rolled back');
    assert.equal(await client.exists('/multi/c3'), null, 'never applied');
    assert.equal((await client.get('/multi/taken')).data.toString(), 'x', 'unchanged');
  });

  it('refuses a failed version check with BADVERSION and a missing parent with NONODE', async () => {
    await client.create('/multi/v', 'x');
    await assert.rejects(
      client.multi([
        { op: 'check', path: '/multi/v', version: 7 },
        { op: 'create', path: '/multi/v2', data: '' },
      ]),
      (e: unknown) => e instanceof ZkMultiError && e.rc === ZkCode.BADVERSION && e.failedIndex === 0,
    );
    await assert.rejects(
      client.multi([{ op: 'create', path: '/multi/nowhere/x', data: '' }]),
      (e: unknown) => e instanceof ZkMultiError && e.rc === ZkCode.NONODE,
    );
    assert.equal(await client.exists('/multi/v2'), null);
  });

  it('carries 500 record-sized creates in one request', async () => {
    await client.create('/multi/many', '');
    const data = 'r'.repeat(300);
    await client.multi(Array.from({ length: 500 }, (_, i) => ({ op: 'create', path: `/multi/many/n${i}`, data }) as const));
    const children = await client.getChildren('/multi/many');
    assert.equal(children.length, 500);
    const stats = await Promise.all(['n0', 'n499'].map((n) => client.exists(`/multi/many/${n}`)));
    assert.equal(stats[0]!.czxid, stats[1]!.czxid);
  });

  it('fails fast with CONNECTIONLOSS when not connected, and after close with CLOSING', async () => {
    const lonely = new ZkClient({ connect: zk.connectString, sessionTimeoutMs: 10_000, operationTimeoutMs: 1_000, logger });
    try {
      await assert.rejects(lonely.multi([{ op: 'create', path: '/multi/z', data: '' }]), (e: unknown) => {
        return e instanceof ZkError && !(e instanceof ZkMultiError) && e.rc === ZkCode.CONNECTIONLOSS;
      });
    } finally {
      lonely.close();
    }
    await assert.rejects(lonely.multi([{ op: 'create', path: '/multi/z', data: '' }]), (e: unknown) => {
      return e instanceof ZkError && e.rc === ZkCode.CLOSING;
    });
    assert.equal(await client.exists('/multi/z'), null);
  });

  it('resolves an empty transaction without a request', async () => {
    await client.multi([]);
  });
});
