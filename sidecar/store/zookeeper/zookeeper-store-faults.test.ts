import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Mirror } from '../../mirror/mirror.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import type { ConnectionState } from '../connection-state.js';
import { isConnected } from '../connection-state.js';
import type { TokenRecord } from '../token-record.js';
import { newJti, recordName } from '../token-record.js';
import { ZooKeeperStore } from './zookeeper-store.js';
import type { ZkClient } from './zk-client.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../../integration-tests/zookeeper/index.js';
import { capturingLogger, eventually, nextEvent, rawClient } from '../../../integration-tests/support/zk-test-support.js';

const SHARDS = 8;

function record(subject: string): TokenRecord {
  const jti = newJti('session');
  return { jti, subject, kind: 'session', issuedAt: Date.now(), expiresAt: Date.now() + 60_000, node: 'test' };
}

/** Every state a store goes through, to assert on the sequence. */
function recordStates(store: ZooKeeperStore): ConnectionState[] {
  const states: ConnectionState[] = [];
  store.on('state', (next) => states.push(next));
  return states;
}

describe('ZooKeeperStore through server failures', () => {
  let zk: ZooKeeperCluster;
  const { logger } = capturingLogger();
  const errors: Error[] = [];
  const stores: ZooKeeperStore[] = [];
  let raw: ZkClient | undefined;

  const open = async (chroot: string, sessionTimeoutMs: number, watch = true, receiptPrefix?: string) => {
    const store = new ZooKeeperStore({
      servers: [zk.connectString],
      chroot,
      sessionTimeoutMs,
      shards: SHARDS,
      logger,
      maxResyncJitterMs: 200,
      ...(receiptPrefix && { receiptPrefix }),
    });
    store.on('error', (error) => errors.push(error));
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
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
      'no store reported an error',
    );
  });

  it('fails fast while the server is down, then reconnects and rebuilds', async () => {
    const store = await open('/outage', 20_000);
    const mirror = new Mirror(store.shards);
    mirror.attach(store);
    await nextEvent(store, 'rebuilt');
    const kept = record('gina');
    await store.create(kept);
    const states = recordStates(store);

    const suspended = nextEvent(store, 'state', (next) => next === 'suspended');
    await zk.kill(0);
    await suspended;
    assert.equal(store.state, 'suspended');
    const t0 = performance.now();
    await assert.rejects(store.create(record('gina')), StoreUnavailableError);
    await assert.rejects(store.exists(kept), StoreUnavailableError);
    await assert.rejects(store.isReaper(), StoreUnavailableError);
    await assert.rejects(store.publishMember({ nodeId: 'n' } as never), StoreUnavailableError);
    const failMs = performance.now() - t0;
    assert.ok(failMs < 100, `failing took ${failMs} ms`);
    assert.ok(mirror.lagMs >= 0);

    const reconnected = nextEvent(store, 'state', (next) => next === 'reconnected', 30_000);
    const listings = new Map<number, string[]>();
    store.on('shard', (shard, names) => listings.set(shard, names));
    const rebuilt = nextEvent(store, 'rebuilt', () => true, 30_000);
    await zk.start(0);
    await reconnected;
    await rebuilt;
    assert.deepEqual(states, ['suspended', 'reconnected']);
    assert.equal(listings.size, SHARDS, 'the resync re-emits every shard');
    assert.ok([...listings.values()].some((names) => names.includes(recordName(kept))));
    assert.equal(await store.exists(kept), true);
    assert.equal(mirror.lookup(kept.jti).presence, 'present');
    mirror.detach();
  });

  it('after a session expiry: lost, a new session, watches and membership re-armed', async () => {
    const store = await open('/expiry', 2_000);
    const mirror = new Mirror(store.shards);
    mirror.attach(store);
    await nextEvent(store, 'rebuilt');
    await store.publishMember({
      nodeId: 'frozen',
      address: '127.0.0.1:1',
      version: 't',
      pid: process.pid,
      startedAt: 0,
      updatedAt: 0,
      mirrorSize: 0,
      mirrorLagMs: 0,
      state: 'connected',
      storeType: 'ZOOKEEPER',
    });
    assert.equal(await store.isReaper(), true);
    const oldSession = store.sessionId;
    const states = recordStates(store);

    const lost = nextEvent(store, 'state', (next) => next === 'lost', 15_000);
    await zk.pause(0); // nothing answers: the client times out, then the session timeout passes
    await lost;
    const reconnected = nextEvent(store, 'state', (next) => next === 'reconnected', 30_000);
    const rebuilt = nextEvent(store, 'rebuilt', () => true, 30_000);
    await zk.resume(0);
    await reconnected;
    await rebuilt;
    assert.deepEqual(states, ['suspended', 'lost', 'reconnected']);
    assert.notEqual(store.sessionId, oldSession, 'a new session');

    raw = await rawClient(zk.connectString, logger);
    const owner = await eventually(async () => {
      const stat = await raw!.exists('/expiry/members/frozen');
      return stat && stat.ephemeralOwner === store.sessionId ? stat.ephemeralOwner : undefined;
    }, 10_000);
    assert.equal(owner, store.sessionId, 'the member node belongs to the new session');
    assert.equal(await store.isReaper(), true, 'the latch was re-created');

    // the new session's watches work: a record created from outside reaches the mirror
    const r = record('hank');
    const seen = nextEvent<[number, string, boolean]>(store, 'record', (_s, name, present) => present && name === recordName(r));
    const outside = await open('/expiry', 10_000, false);
    await outside.create(r);
    await seen;
    assert.equal(mirror.lookup(r.jti).presence, 'present');
    mirror.detach();
  });

  it('creates whose answer the server took with it name their receipt, and the receipt tells the truth after the restart', async () => {
    const store = await open('/lost-answers', 30_000, false, 'faultsjournal');
    const outcomes: { applied: boolean; exists: boolean }[] = [];
    // the server is killed at another moment of the transactions' life each round: before it read them, before it
    // applied them, after it applied them but before the answers left
    for (const delayMs of [0, 1, 3, 6]) {
      const batch = Array.from({ length: 400 }, () => record('nora'));
      const answers = Promise.allSettled(batch.map((r) => store.create(r)));
      await new Promise((r) => setTimeout(r, delayMs));
      await zk.kill(0);
      const results = await answers;
      await zk.start(0);
      await eventually(async () => isConnected(store.state), 30_000);
      for (const [i, result] of results.entries()) {
        if (result.status === 'fulfilled') continue;
        const error = result.reason as StoreUnavailableError;
        assert.ok(error instanceof StoreUnavailableError, String(error));
        if (!error.receipt) continue; // never sent (behind the lost one): nothing applied
        assert.match(error.receipt, /^faultsjournal\./);
        const exists = await store.exists(batch[i]!);
        const applied = await store.receipts.settle(error.receipt);
        assert.equal(applied, exists, `receipt ${error.receipt} says ${applied}, the record ${exists ? 'is' : 'is not'} there`);
        outcomes.push({ applied, exists });
      }
    }
    assert.ok(outcomes.length > 0, 'some create lost its answer');
    console.log(
      `lost answers settled: ${outcomes.filter((o) => o.applied).length} applied, ${outcomes.filter((o) => !o.applied).length} not`,
    );
  });

  it('answered receipts are deleted by the next transaction and at close; cleanup spares this run, other journals and kept ones', async () => {
    const store = await open('/receipt-life', 30_000, false, 'lifejournal');
    for (let i = 0; i < 5; i++) await store.create(record('olga'));
    await Promise.all(Array.from({ length: 30 }, () => store.create(record('olga'))));
    const raw2 = await rawClient(zk.connectString, logger);
    try {
      const left = await raw2.getChildren('/receipt-life/replays');
      assert.ok(left.length >= 1 && left.length <= 2, `only the last answered receipts wait for their delete: ${left.join(', ')}`);
      for (const name of [
        'lifejournal.oldrun.aaaaaaaaaaaaaaaa',
        'lifejournal.oldrun.keptaaaaaaaaaaaa',
        'otherjournal.run.aaaaaaaaaaaaaaaa',
      ]) {
        await raw2.create(`/receipt-life/replays/${name}`, 'applied');
      }
      assert.equal(await store.receipts.cleanup(new Set(['lifejournal.oldrun.keptaaaaaaaaaaaa'])), 1);
      const after = new Set(await raw2.getChildren('/receipt-life/replays'));
      assert.ok(!after.has('lifejournal.oldrun.aaaaaaaaaaaaaaaa'));
      assert.ok(after.has('lifejournal.oldrun.keptaaaaaaaaaaaa') && after.has('otherjournal.run.aaaaaaaaaaaaaaaa'));
      for (const name of left) assert.ok(after.has(name), "this run's own receipts are never cleaned up");
      await store.close();
      const closed = new Set(await raw2.getChildren('/receipt-life/replays'));
      for (const name of left) assert.ok(!closed.has(name), `${name} deleted at close`);
    } finally {
      raw2.close();
    }
  });
});
