import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CreateBatcher, LostTransactionError, type CreateBatcherOptions } from './create-batcher.js';
import type { ZkOp } from './zk-client.js';
import { ZkMultiError } from './zk-multi-error.js';
import { ZkCode, ZkError } from './zk-error.js';

// The grouping logic of CreateBatcher. Its two outlets (a transaction, a single create) are recorded here and
// answered by the test; zookeeper-store.test.ts runs the same batcher against a real ZooKeeper.

interface Sent {
  kind: 'multi' | 'single';
  paths: string[];
  settle: (error?: Error, created?: boolean) => void;
}

function recorder(overrides: Partial<CreateBatcherOptions> = {}) {
  const sent: Sent[] = [];
  const batcher = new CreateBatcher({
    maxOps: 4,
    maxInFlight: 1,
    unavailable: (error: unknown) => error instanceof ZkError && error.isUnavailable,
    multi: (ops: ZkOp[]) =>
      new Promise<void>((resolve, reject) => {
        sent.push({ kind: 'multi', paths: ops.map((o) => o.path), settle: (error) => (error ? reject(error) : resolve()) });
      }),
    single: (path: string) =>
      new Promise<boolean>((resolve, reject) => {
        sent.push({ kind: 'single', paths: [path], settle: (error, created = true) => (error ? reject(error) : resolve(created)) });
      }),
    ...overrides,
  });
  return { batcher, sent };
}

describe('CreateBatcher', () => {
  it('sends a lone create as a plain create at the end of its turn', async () => {
    const { batcher, sent } = recorder();
    const created = batcher.create('/a', 'x');
    assert.equal(sent.length, 0, 'nothing leaves before the end of the turn');
    await nextTurn();
    assert.deepEqual(
      sent.map((s) => [s.kind, s.paths]),
      [['single', ['/a']]],
    );
    sent[0]!.settle(undefined, false);
    assert.equal(await created, false, 'the single create answers for itself (a taken name is false)');
    assert.equal(batcher.transactions, 0);
  });

  it('groups the creates of one turn into transactions of at most maxOps, in order', async () => {
    const { batcher, sent } = recorder({ maxInFlight: 8 });
    const answers = Array.from({ length: 10 }, (_, i) => batcher.create(`/n${i}`, 'x'));
    await nextTurn();
    assert.deepEqual(
      sent.map((s) => [s.kind, s.paths]),
      [
        ['multi', ['/n0', '/n1', '/n2', '/n3']],
        ['multi', ['/n4', '/n5', '/n6', '/n7']],
        ['multi', ['/n8', '/n9']],
      ],
    );
    for (const s of sent) s.settle();
    assert.deepEqual(await Promise.all(answers), Array(10).fill(true));
    assert.equal(batcher.transactions, 3);
    assert.equal(batcher.batchedCreates, 10);
  });

  it('holds new creates while maxInFlight transactions are unanswered, then sends them together', async () => {
    const { batcher, sent } = recorder({ maxOps: 100, maxInFlight: 1 });
    const first = [batcher.create('/a', 'x'), batcher.create('/b', 'x')];
    await nextTurn();
    assert.equal(sent.length, 1);
    const later: Array<Promise<boolean>> = [];
    for (let turn = 0; turn < 3; turn++) {
      later.push(batcher.create(`/later${turn}`, 'x'));
      await nextTurn();
    }
    assert.equal(sent.length, 1, 'nothing more leaves while one transaction is on the wire');
    assert.equal(batcher.waiting, 3);
    sent[0]!.settle();
    assert.deepEqual(await Promise.all(first), [true, true]);
    await nextTurn();
    assert.deepEqual(sent[1]!.paths, ['/later0', '/later1', '/later2'], 'the waiting creates leave as one transaction');
    sent[1]!.settle();
    assert.deepEqual(await Promise.all(later), [true, true, true]);
  });

  it('a refused transaction is sent again as single creates, each answered on its own', async () => {
    const { batcher, sent } = recorder();
    const answers = ['/a', '/taken', '/c'].map((p) => batcher.create(p, 'x'));
    await nextTurn();
    sent[0]!.settle(new ZkMultiError(ZkCode.NODEEXISTS, '/taken', 1, [0, ZkCode.NODEEXISTS, ZkCode.RUNTIMEINCONSISTENCY]));
    await nextTurn();
    assert.deepEqual(
      sent.slice(1).map((s) => [s.kind, s.paths]),
      [
        ['single', ['/a']],
        ['single', ['/taken']],
        ['single', ['/c']],
      ],
    );
    sent[1]!.settle();
    sent[2]!.settle(undefined, false);
    sent[3]!.settle(new ZkError(ZkCode.NOAUTH, 'create', '/c'));
    const settled = await Promise.allSettled(answers);
    assert.deepEqual(settled.slice(0, 2), [
      { status: 'fulfilled', value: true },
      { status: 'fulfilled', value: false },
    ]);
    assert.equal(settled[2]!.status, 'rejected');
    assert.equal(batcher.fallbacks, 1);
  });

  it('a transaction lost with the connection fails every create in it with that error', async () => {
    const { batcher, sent } = recorder();
    const answers = ['/a', '/b'].map((p) => batcher.create(p, 'x'));
    await nextTurn();
    const lost = new ZkError(ZkCode.CONNECTIONLOSS, 'multi', '/a');
    sent[0]!.settle(lost);
    for (const result of await Promise.allSettled(answers)) {
      assert.deepEqual(result, { status: 'rejected', reason: lost });
    }
    assert.equal(sent.length, 1, 'not retried here: the caller journals, and the replay finds what was applied');
  });

  it('a transaction that timed out also fails the creates waiting behind it, at once and unsent', async () => {
    const { batcher, sent } = recorder({ maxInFlight: 1 });
    const inFlight = ['/a', '/b'].map((p) => batcher.create(p, 'x'));
    await nextTurn();
    const waiting = ['/c', '/d'].map((p) => batcher.create(p, 'x'));
    await nextTurn();
    assert.equal(batcher.waiting, 2);
    const timedOut = new ZkError(ZkCode.OPERATIONTIMEOUT, 'multi', '/a');
    sent[0]!.settle(timedOut);
    for (const result of await Promise.allSettled([...inFlight, ...waiting]))
      assert.deepEqual(result, { status: 'rejected', reason: timedOut });
    await nextTurn();
    assert.equal(sent.length, 1, 'the waiting creates were never sent');
    assert.equal(batcher.waiting, 0);
  });

  it('a transaction refused for a reason of its own does not fail the creates waiting behind it', async () => {
    const { batcher, sent } = recorder({ maxInFlight: 1 });
    const first = batcher.create('/a', 'x');
    const second = batcher.create('/b', 'x');
    await nextTurn();
    const waiting = batcher.create('/c', 'x');
    await nextTurn();
    const noauth = new ZkError(ZkCode.NOAUTH, 'multi', '/a');
    sent[0]!.settle(noauth);
    await assert.rejects(Promise.all([first, second]), (e: unknown) => e === noauth);
    await nextTurn();
    assert.deepEqual(sent[1]!.paths, ['/c']);
    sent[1]!.settle();
    assert.equal(await waiting, true);
  });

  it('an outlet that throws at once (no session) fails its creates instead of escaping', async () => {
    const batcher = new CreateBatcher({
      maxOps: 4,
      maxInFlight: 1,
      unavailable: () => true,
      multi: async () => {
        throw new Error('not connected');
      },
      single: async () => {
        throw new Error('not connected');
      },
    });
    await assert.rejects(Promise.all([batcher.create('/a', 'x'), batcher.create('/b', 'x')]), /not connected/);
    await assert.rejects(batcher.create('/c', 'x'), /not connected/);
  });

  it('with maxOps 1 every create goes alone, at once', async () => {
    const { batcher, sent } = recorder({ maxOps: 1 });
    const created = batcher.create('/a', 'x');
    assert.equal(sent.length, 1, 'no wait for the end of the turn');
    sent[0]!.settle();
    assert.equal(await created, true);
  });

  it('keeps a transaction under the request size limit', async () => {
    const { batcher, sent } = recorder({ maxOps: 1000, maxInFlight: 8 });
    // 50,000 UTF-16 units count as up to 150,000 bytes: three fit under 512 KiB, a fourth would not
    const big = 'x'.repeat(50_000);
    const answers = Array.from({ length: 5 }, (_, i) => batcher.create(`/big${i}`, big));
    await nextTurn();
    assert.deepEqual(
      sent.map((s) => [s.kind, s.paths.length]),
      [
        ['multi', 3],
        ['multi', 2],
      ],
    );
    for (const s of sent) s.settle();
    await Promise.all(answers);
  });

  describe('with receipts', () => {
    function withReceipts(overrides: Partial<CreateBatcherOptions> = {}) {
      let n = 0;
      const droppedLater: string[] = [];
      const r = recorder({
        receipts: {
          make: () => {
            const name = `r${++n}`;
            return { name, op: { op: 'create', path: `/replays/${name}`, data: 'applied' } };
          },
          drop: (name) => ({ op: 'delete', path: `/replays/${name}`, version: -1 }),
          dropLater: (names) => droppedLater.push(...names),
        },
        ...overrides,
      });
      return { ...r, droppedLater };
    }

    /** A batcher whose first transaction (receipt r1, creating /a) was answered and is off the wire. */
    async function afterOneAnswered(overrides: Partial<CreateBatcherOptions> = {}) {
      const r = withReceipts(overrides);
      const first = r.batcher.create('/a', 'x');
      await nextTurn();
      r.sent[0]!.settle();
      await first;
      await nextTurn();
      return r;
    }

    it('every transaction, a lone create too, creates a receipt and deletes those answered before', async () => {
      const { batcher, sent } = withReceipts();
      const lone = batcher.create('/a', 'x');
      await nextTurn();
      assert.deepEqual(
        sent.map((s) => [s.kind, s.paths]),
        [['multi', ['/replays/r1', '/a']]],
      );
      sent[0]!.settle();
      assert.equal(await lone, true);
      await nextTurn(); // the transaction is off the wire
      assert.deepEqual(batcher.receiptsToDrop, ['r1']);
      const two = ['/b', '/c'].map((p) => batcher.create(p, 'x'));
      await nextTurn();
      assert.deepEqual(sent[1]!.paths, ['/replays/r1', '/replays/r2', '/b', '/c'], 'r1 deleted, r2 created, in the same transaction');
      sent[1]!.settle();
      assert.deepEqual(await Promise.all(two), [true, true]);
      assert.deepEqual(batcher.receiptsToDrop, ['r2']);
    });

    it('a lost transaction fails its creates naming its receipt; the unsent ones behind it carry none', async () => {
      const { batcher, sent, droppedLater } = await afterOneAnswered({ maxInFlight: 1 });
      const inFlight = ['/b', '/c'].map((p) => batcher.create(p, 'x'));
      await nextTurn();
      const waiting = batcher.create('/d', 'x');
      await nextTurn();
      const lost = new ZkError(ZkCode.CONNECTIONLOSS, 'multi', '/b');
      sent[1]!.settle(lost);
      for (const result of await Promise.allSettled(inFlight)) {
        assert.equal(result.status, 'rejected');
        const reason = (result as PromiseRejectedResult).reason as LostTransactionError;
        assert.ok(reason instanceof LostTransactionError);
        assert.equal(reason.receipt, 'r2');
        assert.equal(reason.error, lost);
      }
      assert.deepEqual(await Promise.allSettled([waiting]), [{ status: 'rejected', reason: lost }], 'never sent: nothing to settle');
      assert.deepEqual(droppedLater, ['r1'], "the lost transaction's delete of r1 is made again on its own");
      assert.deepEqual(batcher.receiptsToDrop, []);
    });

    it('a refused transaction keeps its deletes for the next one and answers each create alone', async () => {
      const { batcher, sent } = await afterOneAnswered();
      const answers = ['/b', '/c'].map((p) => batcher.create(p, 'x'));
      await nextTurn();
      sent[1]!.settle(new ZkMultiError(ZkCode.NODEEXISTS, '/c', 3, [0, 0, 0, ZkCode.NODEEXISTS]));
      await nextTurn();
      assert.deepEqual(
        sent.slice(2).map((s) => [s.kind, s.paths]),
        [
          ['single', ['/b']],
          ['single', ['/c']],
        ],
      );
      sent[2]!.settle();
      sent[3]!.settle(undefined, false);
      assert.deepEqual(await Promise.all(answers), [true, false]);
      assert.deepEqual(batcher.receiptsToDrop, ['r1'], 'r1 is still to delete; r2 was never made');
    });
  });

  it('refuses nonsense limits', () => {
    const outlets = { multi: async () => undefined, single: async () => true, unavailable: () => false };
    assert.throws(() => new CreateBatcher({ ...outlets, maxOps: 0, maxInFlight: 1 }), RangeError);
    assert.throws(() => new CreateBatcher({ ...outlets, maxOps: 4, maxInFlight: 0.5 }), RangeError);
  });
});
