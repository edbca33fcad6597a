import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror } from '../../mirror/mirror.js';
import type { TokenRecord } from '../token-record.js';
import { newJti } from '../token-record.js';
import { tempDir } from '../../util/test-temp-dirs.js';
import { ZooKeeperStore } from './zookeeper-store.js';
import { LocalZooKeeper, type StartedLocalZooKeeper } from '../../../integration-tests/zookeeper/index.js';
import { capturingLogger, eventually, nextEvent } from '../../../integration-tests/support/zk-test-support.js';

const SHARDS = 8;

function record(subject: string): TokenRecord {
  const jti = newJti('session');
  return { jti, subject, kind: 'session', issuedAt: Date.now(), expiresAt: Date.now() + 600_000, node: 'test' };
}

// A real server whose tree goes back in time (restored from a backup): its shards' pzxids are lower than the
// ones this store saw, and the resync's listings are the only news of the records that vanished.
describe('TreeWatcher: a resync after the tree went back (ZooKeeper restored from a backup)', () => {
  let zk: StartedLocalZooKeeper;
  const { logger } = capturingLogger();
  let store: ZooKeeperStore | undefined;

  before(async () => {
    zk = await new LocalZooKeeper(1).withExtendedTypes().start();
  });

  after(async () => {
    await store?.close();
    await zk?.close();
  });

  it('drops from the mirror every record the restored tree lacks', async () => {
    store = new ZooKeeperStore({
      servers: [zk.connectString],
      chroot: '/restore',
      sessionTimeoutMs: 4_000,
      shards: SHARDS,
      logger,
      maxResyncJitterMs: 200,
    });
    store.on('error', (error) => logger.warn(`store error: ${error.message}`));
    const mirror = new Mirror(() => store!.shards);
    mirror.attach(store);
    const first = nextEvent(store, 'rebuilt', () => true, 20_000);
    await store.start({ watch: true });
    await first;

    const backup = await tempDir('tokensync-zk-backup-');
    const live = join(zk.getDataDir(0), 'version-2');
    /** Stops the server (SIGTERM), optionally swaps its data, starts it again; resolves on the store's resync. */
    const restart = async (swap?: () => Promise<void>) => {
      const resynced = nextEvent(store!, 'rebuilt', () => true, 60_000);
      await zk.stop(0);
      await swap?.();
      await zk.start(0);
      await zk.waitForQuorum();
      await resynced;
    };

    const kept = Array.from({ length: 2 * SHARDS }, (_, i) => record(`kept${i}`));
    for (const r of kept) await store.create(r);
    // the backup: the data folder of the stopped server
    await restart(() => cp(live, join(backup, 'version-2'), { recursive: true }));

    // written after the backup: every shard's child list changes (its pzxid grows), and the mirror hears of them
    const vanishing = Array.from({ length: 4 * SHARDS }, (_, i) => record(`gone${i}`));
    for (const r of vanishing) await store.create(r);
    await eventually(() => vanishing.every((r) => mirror.lookup(r.jti).presence === 'present'), 20_000, 50);
    // a plain restart: the resync lists every shard, so the watcher holds each shard's latest pzxid
    await restart();

    // restore the backup: the server comes back without the later records, and with lower zxids (the old session
    // is refused, having seen later ones: a new session, and its resync, follow)
    await restart(async () => {
      await rm(live, { recursive: true, force: true });
      await cp(join(backup, 'version-2'), live, { recursive: true });
    });

    const tree: string[] = [];
    for (let shard = 0; shard < SHARDS; shard++)
      tree.push(...(await store.listShard(shard)).map((name) => name.slice(0, name.indexOf('~'))));
    assert.deepEqual(tree.sort(), kept.map((r) => r.jti).sort(), 'the restored tree holds what the backup held');
    const heldVanished = vanishing.filter((r) => mirror.lookup(r.jti).presence === 'present').length;
    assert.equal(heldVanished, 0, `the mirror still holds ${heldVanished} of ${vanishing.length} records the restored tree lacks`);
    for (const r of kept) assert.equal(mirror.lookup(r.jti).presence, 'present', `${r.jti} is in the restored tree`);
    assert.deepEqual([...mirror.entries()].map((ref) => ref.jti).sort(), tree, 'the mirror equals the tree');
    assert.equal(mirror.trusted, true);
  });
});
