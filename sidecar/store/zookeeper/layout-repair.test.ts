import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../util/logger.js';
import { ZkLayout, digestId } from './layout.js';
import { ensureLayout } from './layout-repair.js';
import { CreateMode, ZK_PERM_ALL, type ZkAcl, type ZkClient } from './zk-client.js';
import { ZooKeeperStoreError } from './zookeeper-store-error.js';
import { capturingLogger, rawClient } from '../../../integration-tests/support/zk-test-support.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../../integration-tests/zookeeper/index.js';

describe('ensureLayout on a real ZooKeeper', () => {
  let zk: ZooKeeperCluster;
  let raw: ZkClient;
  const clients: ZkClient[] = [];

  before(async () => {
    zk = await startZooKeeper({ servers: 1 });
    raw = await rawClient(zk.connectString, silentLogger());
    clients.push(raw);
  });

  after(async () => {
    for (const client of clients) client.close();
    await zk?.close();
  });

  const options = (layout: ZkLayout, shards: number, acl?: ZkAcl[]) => ({
    layout,
    acl,
    shards,
    readConcurrency: 8,
    logger: silentLogger(),
  });

  it('lays out a new tree, then an existing /meta wins over the configured shard count', async () => {
    const first = new ZkLayout('/lr/new', 8);
    await ensureLayout(raw, options(first, 8));
    assert.deepEqual(JSON.parse((await raw.get('/lr/new/meta')).data.toString()), { layoutVersion: 2, shards: 8 });
    assert.equal((await raw.getChildren('/lr/new/tokens')).length, 8);

    const second = new ZkLayout('/lr/new', 64);
    await ensureLayout(raw, options(second, 64));
    assert.equal(second.shards, 8, 'the layout takes the count from /meta');
    assert.equal((await raw.getChildren('/lr/new/tokens')).length, 8, 'no shard nodes beyond /meta');
  });

  it('re-creates shard nodes that went missing', async () => {
    const layout = new ZkLayout('/lr/gap', 4);
    await ensureLayout(raw, options(layout, 4));
    await raw.delete(layout.shardPath(2), -1);
    await ensureLayout(raw, options(new ZkLayout('/lr/gap', 4), 4));
    assert.ok(await raw.exists(layout.shardPath(2)));
  });

  it('refuses a /meta of another layout version with store.zookeeper.layout', async () => {
    await raw.create('/lr', '', CreateMode.PERSISTENT).catch(() => undefined);
    await raw.create('/lr/alien', '', CreateMode.PERSISTENT);
    await raw.create('/lr/alien/meta', JSON.stringify({ layoutVersion: 99, shards: 4 }), CreateMode.PERSISTENT);
    await assert.rejects(
      ensureLayout(raw, options(new ZkLayout('/lr/alien', 4), 4)),
      (e: unknown) => e instanceof ZooKeeperStoreError && e.code === 'store.zookeeper.layout',
    );
  });

  it('with auth: puts the digest ACL on layout nodes left open, and says so once', async () => {
    const layout = new ZkLayout('/lr/open', 4);
    await ensureLayout(raw, options(layout, 4)); // laid out without auth: every node open
    assert.equal((await raw.exists(layout.shardPath(0)))!.aversion, 0);

    const owner = await rawClient(zk.connectString, silentLogger());
    clients.push(owner);
    await owner.addAuth('digest', 'tokensync:secret');
    const acl: ZkAcl[] = [{ perms: ZK_PERM_ALL, scheme: 'digest', auth: digestId('tokensync', 'secret') }];
    const { logger, lines } = capturingLogger();
    await ensureLayout(owner, { ...options(new ZkLayout('/lr/open', 4), 4, acl), logger });
    for (const path of ['/lr/open', layout.meta, layout.tokens, layout.shardPath(0), layout.shardPath(3)]) {
      assert.ok((await raw.exists(path))!.aversion > 0, `${path} is protected`);
    }
    assert.equal(lines.filter((l) => l.includes('set the digest ACL on')).length, 1);
    assert.ok(!lines.some((l) => l.includes('secret')), 'the password is never logged');
  });
});
