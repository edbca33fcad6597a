import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';

import { WritePath } from './write-path.js';
import { Journal } from '../store/journal.js';
import { Mirror } from '../mirror/mirror.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';
import { silentLogger } from '../util/logger.js';
import { systemClock } from '../util/clock.js';
import { waitFor } from '../util/wait-for.js';
import type { ConnectionState } from '../store/connection-state.js';
import type { ReplayReceipts, StoreEvents, TokenStore } from '../store/token-store.js';
import type { RecordRef, TokenRecord } from '../store/token-record.js';
import { recordName, shardOf } from '../store/token-record.js';
import { tempDir } from '../util/test-temp-dirs.js';

/** Just the writes of a store, with a switch for "unreachable" and a gate that holds creates of one jti. */
class FakeStore extends EventEmitter<StoreEvents> {
  readonly type = 'ZOOKEEPER' as const;
  readonly shards = 4;
  state: ConnectionState = 'connected';
  readonly names = new Set<string>();
  readonly log: string[] = [];
  hold: { jti: string; release: Promise<void> } | undefined;

  /** Adds or deletes a name and tells the mirror, as a real store's watch does. */
  put(jti: string, present: boolean): boolean {
    const changed = present ? !this.names.has(jti) : this.names.has(jti);
    if (present) this.names.add(jti);
    else this.names.delete(jti);
    if (changed) this.emit('record', shardOf(jti, this.shards), recordName({ jti, subject: 'alice' }), present);
    return changed;
  }

  setState(next: ConnectionState): void {
    const previous = this.state;
    this.state = next;
    this.emit('state', next, previous);
  }

  private check(): void {
    if (this.state !== 'connected' && this.state !== 'reconnected') throw new StoreUnavailableError('down');
  }

  async create(record: TokenRecord): Promise<boolean> {
    this.check();
    if (this.hold?.jti === record.jti) await this.hold.release;
    this.log.push(`create ${record.jti}`);
    return this.put(record.jti, true);
  }

  async delete(ref: RecordRef): Promise<boolean> {
    this.check();
    this.log.push(`delete ${ref.jti}`);
    return this.put(ref.jti, false);
  }

  async exists(ref: RecordRef): Promise<boolean> {
    this.check();
    return this.names.has(ref.jti);
  }

  /** Logout generations, as both stores keep them: one conditional raise per logout. */
  readonly gens = new Map<string, number>();

  async raiseMarker(subject: string, floor = 0): Promise<number> {
    this.check();
    const gen = Math.max((this.gens.get(subject) ?? 0) + 1, floor);
    this.gens.set(subject, gen);
    this.log.push(`marker ${subject} ${gen}`);
    return gen;
  }
}

/**
 * FakeStore with replay receipts, kept as ZooKeeperStore keeps them (zookeeper-store.test.ts checks that one
 * against a real ensemble): a transaction creates its receipt and records or nothing; a settle finds the receipt
 * or makes it a fence. `lose` makes the next transaction's answer get lost, after applying it or not.
 */
class ReceiptStore extends FakeStore {
  readonly receiptNodes = new Map<string, 'applied' | 'fence'>();
  readonly transactions: string[][] = [];
  lose: 'after-applying' | 'before-applying' | undefined;
  loseDirect: 'after-applying' | 'before-applying' | undefined;
  named = 0;
  settleGate: Promise<void> | undefined;
  weightLimit = 100_000;
  /** Revoked on another node right after the replay's transaction applied it, before the replay settles it. */
  revokeAfterApplying: string | undefined;
  readonly receipts: ReplayReceipts;

  constructor() {
    super();
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the receipts object's getter and methods reach the store
    const store = this;
    this.receipts = {
      available: true,
      get maxWeight() {
        return store.weightLimit;
      },
      weight: (r) => JSON.stringify(r).length,
      async createWithReceipt(records, receipt, stale) {
        store.checkUp();
        const lose = store.lose;
        store.lose = undefined;
        if (lose === 'before-applying') store.connectionLost();
        if (store.receiptNodes.has(receipt)) throw new Error(`receipt ${receipt} exists (NODEEXISTS)`);
        for (const r of stale) store.receiptNodes.delete(r);
        store.receiptNodes.set(receipt, 'applied');
        const created = records.map((r) => !store.names.has(r.jti));
        for (const r of records) store.put(r.jti, true);
        store.transactions.push(records.map((r) => r.jti));
        store.log.push(`transaction ${records.length}`);
        if (lose === 'after-applying') store.connectionLost();
        if (store.revokeAfterApplying) store.put(store.revokeAfterApplying, false);
        return created;
      },
      async settle(receipt) {
        store.checkUp();
        await store.settleGate;
        const found = store.receiptNodes.get(receipt);
        if (!found) store.receiptNodes.set(receipt, 'fence');
        return found === 'applied';
      },
      async remove(receipts) {
        store.checkUp();
        for (const r of receipts) store.receiptNodes.delete(r);
      },
      newName: () => `run2.${++store.named}-aaaaaaaaaaaaaaaa`,
      async cleanup(keep) {
        store.checkUp();
        const left = [...store.receiptNodes.keys()].filter((r) => !r.startsWith('run2.') && !keep.has(r));
        for (const r of left) store.receiptNodes.delete(r);
        return left.length;
      },
    };
  }

  /** A create straight to the store whose answer is lost (see `loseDirect`), as ZooKeeperStore reports it. */
  override async create(record: TokenRecord): Promise<boolean> {
    const lose = this.loseDirect;
    if (!lose) return super.create(record);
    this.loseDirect = undefined;
    const receipt = `run2.${++this.named}-direct-aaaaaaaaaa`;
    if (lose === 'after-applying') {
      this.receiptNodes.set(receipt, 'applied');
      this.names.add(record.jti);
    }
    this.setState('suspended');
    throw Object.assign(new StoreUnavailableError('connection lost'), { receipt });
  }

  connectionLost(): never {
    this.setState('suspended');
    throw new StoreUnavailableError('connection lost');
  }

  checkUp(): void {
    if (this.state !== 'connected' && this.state !== 'reconnected') throw new StoreUnavailableError('down');
  }
}

const record = (jti: string): TokenRecord => ({ jti, subject: 'alice', kind: 'session', issuedAt: 1, expiresAt: null, node: 'n' });

async function setup<S extends FakeStore = FakeStore>(store: S = new FakeStore() as S) {
  const journal = new Journal(await tempDir('ts-write-path-'), silentLogger());
  await journal.open();
  const mirror = new Mirror(4);
  mirror.attach(store as unknown as TokenStore);
  const writes = new WritePath(store as unknown as TokenStore, mirror, journal, systemClock, silentLogger());
  return { store, journal, mirror, writes };
}

test('while the journal drains, a write for another record goes straight to the store', async () => {
  const { store, journal, writes } = await setup();
  store.setState('suspended');
  assert.equal((await writes.apply({ op: 'create', record: record('s.journaled-1') })).replicated, false);
  // the store is back, but the replay of the journaled create is held up
  let release!: () => void;
  store.hold = { jti: 's.journaled-1', release: new Promise<void>((r) => (release = r)) };
  store.setState('reconnected');
  const direct = await writes.apply({ op: 'create', record: record('s.direct-22') });
  assert.equal(direct.replicated, true, 'not queued behind an unrelated journaled write');
  assert.ok(store.names.has('s.direct-22'));
  release();
  await writes.drain();
  assert.equal(journal.size, 0);
  writes.close();
});

test('a write for a record the journal still holds queues behind it: a revocation is never overtaken by its create', async () => {
  const { store, journal, writes, mirror } = await setup();
  store.setState('suspended');
  await writes.apply({ op: 'create', record: record('s.revoked-33') });
  let release!: () => void;
  store.hold = { jti: 's.revoked-33', release: new Promise<void>((r) => (release = r)) };
  store.setState('reconnected');
  const revoked = await writes.apply({ op: 'delete', ref: { jti: 's.revoked-33', subject: 'alice' } });
  assert.equal(revoked.replicated, false, 'journaled behind the create of the same record');
  assert.equal(mirror.lookup('s.revoked-33').presence, 'removed');
  release();
  await writes.drain();
  // the create may or may not have been sent before the revocation joined the batch; never after it
  assert.equal(store.log.at(-1), 'delete s.revoked-33');
  assert.equal(store.names.has('s.revoked-33'), false);
  assert.equal(journal.size, 0);
  // once replayed, writes for that record go straight to the store again
  assert.equal((await writes.apply({ op: 'delete', ref: { jti: 's.revoked-33', subject: 'alice' } })).replicated, true);
  writes.close();
});

test('journaled writes restored after a restart hold their records back too', async () => {
  const { store, journal, mirror, writes: before } = await setup();
  before.close(); // the process that journaled it is gone
  store.setState('suspended');
  await journal.append({ op: 'create', record: record('s.restored-4') });
  const writes = new WritePath(store as unknown as TokenStore, mirror, journal, systemClock, silentLogger());
  writes.restore();
  assert.equal((await writes.apply({ op: 'delete', ref: { jti: 's.restored-4', subject: 'alice' } })).replicated, false);
  store.setState('reconnected');
  await writes.drain();
  // replayed in one batch: the revocation is the write that counts, and no create follows it
  assert.equal(store.names.has('s.restored-4'), false);
  assert.equal(store.log.at(-1), 'delete s.restored-4');
  assert.equal(journal.size, 0);
  writes.close();
});

test('replay sends batches of 64 at once; a revocation in a later batch than its create follows it', async () => {
  const { store, journal, writes } = await setup();
  store.setState('suspended');
  for (let i = 0; i < 100; i++) await writes.apply({ op: 'create', record: record(`s.batch-${String(i).padStart(4, '0')}`) });
  await writes.apply({ op: 'delete', ref: { jti: 's.batch-0003', subject: 'alice' } });
  store.setState('reconnected');
  await writes.drain();
  assert.equal(journal.size, 0);
  assert.equal(store.names.size, 99);
  // the create went in the first batch of 64, the revocation (entry 101) in the second: in that order
  assert.ok(store.log.indexOf('delete s.batch-0003') > store.log.indexOf('create s.batch-0003'));
  assert.ok(store.log.indexOf('create s.batch-0003') >= 0);
  writes.close();
});

test('a record issued and revoked within one replay batch gets the revocation only', async () => {
  const { store, journal, writes } = await setup();
  store.setState('suspended');
  for (let i = 0; i < 10; i++) await writes.apply({ op: 'create', record: record(`s.pair-${String(i).padStart(5, '0')}`) });
  await writes.apply({ op: 'delete', ref: { jti: 's.pair-00003', subject: 'alice' } });
  store.setState('reconnected');
  await writes.drain();
  assert.equal(journal.size, 0);
  assert.ok(!store.log.includes('create s.pair-00003'));
  assert.ok(store.log.includes('delete s.pair-00003'));
  assert.equal(store.names.size, 9);
  writes.close();
});

test('after a crash mid-replay, a create that was sent and has been revoked since is not brought back', async () => {
  const { store, journal: first, writes: before } = await setup();
  before.close();
  store.setState('suspended');
  await first.append({ op: 'create', record: record('s.revoked-55') });
  await first.append({ op: 'create', record: record('s.present-66') });
  await first.append({ op: 'create', record: record('s.unsent-777') });
  // the killed process had sent the first two (journal.sending), and recorded nothing done
  await first.markSending(2);
  await first.close();
  store.names.add('s.present-66'); // s.revoked-55 reached the store and was revoked on another node since
  const { mirror, writes } = await restartOn(first, store);
  assert.equal(store.names.has('s.revoked-55'), false, 'the revoked token stays revoked');
  assert.equal(mirror.lookup('s.revoked-55').presence, 'removed');
  assert.ok(store.names.has('s.present-66'));
  assert.ok(store.names.has('s.unsent-777'), 'a create the killed process never sent is replayed');
  assert.deepEqual(store.log, ['create s.unsent-777']);
  writes.close();
});

/** A new process on the journal's folder (as after kill -9): restores, and replays once the store is back. */
async function restartOn(killed: Journal, store: FakeStore) {
  const journal = new Journal((killed as unknown as { dir: string }).dir, silentLogger());
  await journal.open();
  const mirror = new Mirror(4);
  mirror.attach(store as unknown as TokenStore);
  const writes = new WritePath(store as unknown as TokenStore, mirror, journal, systemClock, silentLogger());
  writes.restore();
  store.setState('reconnected');
  await writes.drain();
  return { journal, mirror, writes };
}

/** Journals `n` issues (the store down), `s.<prefix>-0000`... */
async function journalIssues(writes: WritePath, store: FakeStore, prefix: string, n: number): Promise<string[]> {
  store.setState('suspended');
  const jtis = Array.from({ length: n }, (_, i) => `s.${prefix}-${String(i).padStart(4, '0')}`);
  for (const jti of jtis) assert.equal((await writes.apply({ op: 'create', record: record(jti) })).replicated, false);
  return jtis;
}

test('with receipts, a replay batch sends its creates in one transaction, deletes beside it, and leaves no receipt behind', async () => {
  const store = new ReceiptStore();
  const { journal, writes, mirror } = await setup(store);
  const jtis = await journalIssues(writes, store, 'tx', 100);
  await writes.apply({ op: 'delete', ref: { jti: jtis[70]!, subject: 'alice' } });
  store.setState('reconnected');
  await writes.drain();
  assert.equal(journal.size, 0);
  assert.deepEqual(
    store.transactions.map((t) => t.length),
    [64, 35],
    'one transaction per batch; the revoked one only deleted',
  );
  assert.ok(store.log.includes(`delete ${jtis[70]}`));
  assert.equal(store.names.size, 99);
  assert.equal(mirror.lookup(jtis[0]!).presence, 'present');
  assert.equal(store.receiptNodes.size, 0, 'every receipt deleted once the journal is empty');
  writes.close();
});

test('a replayed issue revoked on another node before the replay settled it stays out of the mirror', async () => {
  const store = new ReceiptStore();
  const { journal, writes, mirror } = await setup(store);
  const jtis = await journalIssues(writes, store, 'settle', 3);
  store.revokeAfterApplying = jtis[1]!;
  store.setState('reconnected');
  await writes.drain();
  assert.equal(journal.size, 0);
  assert.equal(store.names.has(jtis[1]!), false);
  assert.equal(mirror.lookup(jtis[1]!).presence, 'removed', 'the deletion the store reported is not undone by settling');
  assert.equal(mirror.lookup(jtis[0]!).presence, 'present');
  writes.close();
});

/** A store whose record notifications are lost (the connection went down with them); it lists a shard on request. */
class MuteStore extends FakeStore {
  relists = 0;
  override put(jti: string, present: boolean): boolean {
    const changed = present ? !this.names.has(jti) : this.names.has(jti);
    if (present) this.names.add(jti);
    else this.names.delete(jti);
    return changed;
  }
  async relistShard(shard: number): Promise<void> {
    this.relists++;
    const names = [...this.names].filter((jti) => shardOf(jti, this.shards) === shard).map((jti) => recordName({ jti, subject: 'alice' }));
    this.emit('shard', shard, names);
  }
}

test('a replayed issue whose create notification never came is listed into the mirror, not left to the next resync', async () => {
  const { store, journal, writes, mirror } = await setup(new MuteStore());
  store.setState('suspended');
  await writes.apply({ op: 'create', record: record('s.muted-issue-1') });
  store.setState('reconnected');
  await writes.drain();
  assert.equal(journal.size, 0);
  assert.ok(store.names.has('s.muted-issue-1'));
  await waitFor(() => mirror.lookup('s.muted-issue-1').presence === 'present', 'the shard listing brings it', 2_000, 5);
  assert.equal(store.relists, 1);
  // the mirror holds it on its own now: a validation while the store is down again finds it
  store.setState('suspended');
  assert.equal(mirror.lookup('s.muted-issue-1').presence, 'present');
  writes.close();
});

test('with receipts, a batch is cut where its creates would outgrow one transaction', async () => {
  const store = new ReceiptStore();
  const { journal, writes } = await setup(store);
  await journalIssues(writes, store, 'weight', 100);
  const weight = JSON.stringify(record('s.weight-0000')).length;
  store.weightLimit = weight * 20 + 5;
  store.setState('reconnected');
  await writes.drain();
  assert.equal(journal.size, 0);
  assert.deepEqual(
    store.transactions.map((t) => t.length),
    [20, 20, 20, 20, 20],
  );
  writes.close();
});

test('a replay transaction applied but its answer lost: settled as applied, and one revoked since stays revoked', async () => {
  const store = new ReceiptStore();
  const { journal, writes, mirror } = await setup(store);
  const jtis = await journalIssues(writes, store, 'lost', 10);
  store.lose = 'after-applying';
  store.setState('reconnected');
  await waitFor(async () => store.state === 'suspended', 'the answer is lost', 5_000, 5);
  store.names.delete(jtis[3]!); // revoked on another node meanwhile
  store.setState('reconnected');
  await writes.drain();
  assert.equal(journal.size, 0);
  assert.equal(store.transactions.length, 1, 'nothing sent again');
  assert.equal(store.names.has(jtis[3]!), false, 'the revoked token did not come back');
  assert.equal(mirror.lookup(jtis[3]!).presence, 'removed');
  assert.equal(store.names.size, 9);
  assert.equal(mirror.lookup(jtis[4]!).presence, 'present');
  assert.equal(store.receiptNodes.size, 0);
  writes.close();
});

test('a replay transaction lost before it was applied: fenced off, then every create sent again', async () => {
  const store = new ReceiptStore();
  const { journal, writes } = await setup(store);
  const jtis = await journalIssues(writes, store, 'unsent', 10);
  store.lose = 'before-applying';
  store.setState('reconnected');
  await waitFor(async () => store.state === 'suspended', 'the transaction is lost', 5_000, 5);
  store.setState('reconnected');
  await writes.drain();
  assert.equal(journal.size, 0);
  assert.deepEqual(store.transactions, [jtis], 'sent again, with a new receipt');
  assert.equal(store.receiptNodes.size, 0, 'the fence deleted too');
  writes.close();
});

for (const applied of [true, false]) {
  test(`kill -9 mid-replay with receipts, the transaction ${applied ? 'applied' : 'never applied'}: nothing acknowledged is lost, nothing revoked comes back`, async () => {
    const store = new ReceiptStore();
    store.setState('suspended');
    const { journal: first, writes: before } = await setup(store);
    before.close();
    for (const jti of ['s.revoked-55', 's.present-66', 's.unsent-777']) await first.append({ op: 'create', record: record(jti) });
    // the killed process had written journal.sending for the first two, and maybe sent them
    await first.markSending(2, 'receipt-of-the-killed-one', ['older-receipt-aaaaaaaaaa']);
    store.receiptNodes.set('older-receipt-aaaaaaaaaa', 'applied');
    if (applied) {
      store.receiptNodes.set('receipt-of-the-killed-one', 'applied');
      store.names.add('s.present-66'); // s.revoked-55 was created too, and revoked on another node since
    }
    await first.close();
    const { journal, mirror, writes } = await restartOn(first, store);
    assert.equal(journal.size, 0);
    if (applied) {
      assert.equal(store.names.has('s.revoked-55'), false, 'the revoked token stays revoked');
      assert.equal(mirror.lookup('s.revoked-55').presence, 'removed');
      assert.deepEqual(store.transactions, [['s.unsent-777']]);
    } else {
      assert.deepEqual(store.transactions, [['s.revoked-55', 's.present-66', 's.unsent-777']], 'never applied: all sent again');
      assert.equal(mirror.lookup('s.revoked-55').presence, 'present');
    }
    assert.ok(store.names.has('s.present-66') && store.names.has('s.unsent-777'));
    assert.equal(store.receiptNodes.size, 0, "the killed one's receipt, its fence and the older one deleted");
    writes.close();
  });
}

for (const applied of [true, false]) {
  test(`an issue sent straight to the store, its answer lost ${applied ? 'after' : 'before'} it was applied: journaled with its receipt, settled before the replay`, async () => {
    const store = new ReceiptStore();
    const { journal, writes, mirror } = await setup(store);
    store.loseDirect = applied ? 'after-applying' : 'before-applying';
    const lost = await writes.apply({ op: 'create', record: record('s.direct-lost-1') });
    assert.equal(lost.replicated, false, 'journaled');
    assert.match((journal.pending()[0] as { receipt?: string }).receipt ?? '', /^run2\./, 'with the receipt of its transaction');
    assert.equal(mirror.lookup('s.direct-lost-1').presence, 'present', 'the client got its token');
    if (applied) store.names.delete('s.direct-lost-1'); // the client revoked it on another node meanwhile
    store.setState('reconnected');
    await writes.drain();
    assert.equal(journal.size, 0);
    if (applied) {
      assert.equal(store.names.has('s.direct-lost-1'), false, 'the revoked token did not come back');
      assert.equal(mirror.lookup('s.direct-lost-1').presence, 'removed');
      assert.deepEqual(store.transactions, []);
    } else {
      assert.ok(store.names.has('s.direct-lost-1'), 'never applied: sent again');
      assert.deepEqual(store.transactions, [['s.direct-lost-1']]);
    }
    assert.equal(store.receiptNodes.size, 0, 'the receipt (or its fence) deleted once nothing names it');
    writes.close();
  });
}

test('receipts an earlier run left behind are deleted at the first connection, except those the journal still names', async () => {
  const store = new ReceiptStore();
  store.setState('suspended');
  const { journal: first, writes: before } = await setup(store);
  before.close();
  await first.append({ op: 'create', record: record('s.named-0001'), receipt: 'run1.named-aaaaaaaaaaaa' });
  await first.close();
  store.receiptNodes.set('run1.named-aaaaaaaaaaaa', 'applied');
  store.receiptNodes.set('run1.orphan-aaaaaaaaaaa', 'applied'); // answered, killed before its delete
  store.receiptNodes.set('run2.mine-aaaaaaaaaaaaa', 'applied'); // this run's: maybe on the wire, never touched
  store.loseDirect = undefined;
  const journal = new Journal((first as unknown as { dir: string }).dir, silentLogger());
  await journal.open();
  const writes = new WritePath(store as unknown as TokenStore, new Mirror(4), journal, systemClock, silentLogger());
  writes.restore();
  let release!: () => void;
  store.settleGate = new Promise<void>((r) => (release = r)); // the replay waits on the named receipt meanwhile
  store.setState('reconnected');
  await waitFor(async () => !store.receiptNodes.has('run1.orphan-aaaaaaaaaaa'), 'the orphan is deleted', 5_000, 5);
  assert.ok(store.receiptNodes.has('run1.named-aaaaaaaaaaaa'), 'the journal still names it');
  assert.ok(store.receiptNodes.has('run2.mine-aaaaaaaaaaaaa'));
  release();
  await writes.drain();
  assert.equal(store.receiptNodes.has('run1.named-aaaaaaaaaaaa'), false, 'deleted once its entry is replayed');
  writes.close();
});

test('a logout raises the stored generation by one and the mirror takes it at once', async () => {
  const { store, mirror, writes } = await setup();
  store.gens.set('alice', 4); // logouts elsewhere this node has not heard of yet
  const outcome = await writes.apply({ op: 'marker', subject: 'alice' });
  assert.deepEqual(outcome, { replicated: true, changed: true, gen: 5 });
  assert.equal(mirror.gen('alice'), 5);
});

test('a logout journaled during an outage counts here at once (one above what this node knew) and is replayed as a raise over what is stored then', async () => {
  const { store, mirror, writes } = await setup();
  mirror.applyMarker('alice', { gen: 1 });
  store.gens.set('alice', 1);
  store.setState('suspended');
  const first = await writes.apply({ op: 'marker', subject: 'alice' });
  assert.deepEqual(first, { replicated: false, changed: true, gen: 2 });
  assert.equal(mirror.gen('alice'), 2, 'tokens this node answered before the logout are refused here at once');
  const second = await writes.apply({ op: 'marker', subject: 'alice' });
  assert.equal(second.gen, 3, 'a second logout journaled behind the first takes the next generation');
  store.gens.set('alice', 6); // logouts made elsewhere during the outage
  store.setState('reconnected');
  await writes.drain();
  assert.equal(store.gens.get('alice'), 7, 'replayed over what the store holds then');
  assert.equal(mirror.gen('alice'), 7);
  assert.deepEqual(mirror.markerEntries(), new Map([['alice', 7]]));
});

test('journaled logouts replayed onto a store behind this node still end every token this node answered before them', async () => {
  const { store, mirror, writes } = await setup();
  mirror.applyMarker('bob', { gen: 2 });
  store.gens.set('bob', 2);
  store.setState('suspended');
  await writes.apply({ op: 'marker', subject: 'bob' }); // 3 here
  await writes.apply({ op: 'marker', subject: 'bob' }); // 4 here: tokens issued here in between carry 3
  store.setState('reconnected');
  await writes.drain();
  assert.ok(store.gens.get('bob')! >= 4, `stored ${store.gens.get('bob')}: the tokens issued here at generation 3 must stay refused`);
  assert.ok(mirror.gen('bob') >= 4);
});
