import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WritePath } from './write-path.js';
import { Journal } from '../store/journal.js';
import { Mirror } from '../mirror/mirror.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';
import { silentLogger } from '../util/logger.js';
import { systemClock } from '../util/clock.js';
import type { ConnectionState } from '../store/connection-state.js';
import type { StoreEvents, TokenStore } from '../store/token-store.js';
import type { RecordRef, TokenRecord } from '../store/token-record.js';

/** Just the writes of a store, with a switch for "unreachable" and a gate that holds creates of one jti. */
class FakeStore extends EventEmitter<StoreEvents> {
  readonly type = 'ZOOKEEPER' as const;
  readonly shards = 4;
  state: ConnectionState = 'connected';
  readonly names = new Set<string>();
  readonly log: string[] = [];
  hold: { jti: string; release: Promise<void> } | undefined;

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
    if (this.names.has(record.jti)) return false;
    this.names.add(record.jti);
    return true;
  }

  async delete(ref: RecordRef): Promise<boolean> {
    this.check();
    this.log.push(`delete ${ref.jti}`);
    return this.names.delete(ref.jti);
  }

  async exists(ref: RecordRef): Promise<boolean> {
    this.check();
    return this.names.has(ref.jti);
  }

  async setMarker(subject: string): Promise<void> {
    this.check();
    this.log.push(`marker ${subject}`);
  }
}

const record = (jti: string): TokenRecord => ({ jti, subject: 'alice', kind: 'session', issuedAt: 1, expiresAt: null, node: 'n' });

async function setup() {
  const store = new FakeStore();
  const journal = new Journal(await mkdtemp(join(tmpdir(), 'ts-write-path-')), silentLogger());
  await journal.open();
  const mirror = new Mirror(4);
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
  const journal = new Journal((first as unknown as { dir: string }).dir, silentLogger());
  await journal.open();
  const mirror = new Mirror(4);
  const writes = new WritePath(store as unknown as TokenStore, mirror, journal, systemClock, silentLogger());
  writes.restore();
  store.setState('reconnected');
  await writes.drain();
  assert.equal(store.names.has('s.revoked-55'), false, 'the revoked token stays revoked');
  assert.equal(mirror.lookup('s.revoked-55').presence, 'removed');
  assert.ok(store.names.has('s.present-66'));
  assert.ok(store.names.has('s.unsent-777'), 'a create the killed process never sent is replayed');
  assert.deepEqual(store.log, ['create s.unsent-777']);
  writes.close();
});
