import { test } from 'node:test';
import { EventEmitter } from 'node:events';
import assert from 'node:assert/strict';
import { Mirror, digestOf } from './mirror.js';
import { ManualClock } from '../util/clock.js';
import { newJti, recordName, shardOf, type RecordRef } from '../store/token-record.js';
import type { TokenStore } from '../store/token-store.js';

const SHARDS = 16;
function ref(subject: string, kind: 'session' | 'onetime' = 'session') {
  return { jti: newJti(kind), subject };
}

test('a shard listing adds and removes; removed jtis are remembered as removed', () => {
  const m = new Mirror(SHARDS);
  const a = ref('alice');
  const shard = shardOf(a.jti, SHARDS);
  m.applyShard(shard, [recordName(a)]);
  assert.deepEqual(m.lookup(a.jti), { presence: 'present', subject: 'alice' });
  assert.equal(m.size, 1);
  m.applyShard(shard, []);
  assert.equal(m.lookup(a.jti).presence, 'removed');
  assert.equal(m.size, 0);
  assert.equal(m.lookup(newJti('session')).presence, 'unknown');
});

test('names filed under the wrong shard or unparseable are ignored', () => {
  const m = new Mirror(SHARDS);
  const a = ref('alice');
  const wrong = (shardOf(a.jti, SHARDS) + 1) % SHARDS;
  m.applyShard(wrong, [recordName(a), 'garbage', '~', 'x~!!']);
  assert.equal(m.size, 0);
});

test('single record events add and remove, agree with listings, and ignore names of other shards', () => {
  const m = new Mirror(SHARDS);
  const a = ref('alice');
  const shardA = shardOf(a.jti, SHARDS);
  let b = ref('bob', 'onetime');
  // in another shard than a's: the listing of a's shard below must not speak for b
  while (shardOf(b.jti, SHARDS) === shardA) b = ref('bob', 'onetime');
  m.applyRecord(shardA, recordName(a), true);
  m.applyRecord(shardA, recordName(a), true); // the issuer's own confirmation and the event: once
  assert.deepEqual(m.lookup(a.jti), { presence: 'present', subject: 'alice' });
  assert.equal(m.size, 1);
  m.applyRecord(shardOf(b.jti, SHARDS), recordName(b), true);
  assert.deepEqual(m.onetimeOf('bob'), [b.jti]);
  const carol = ref('carol');
  m.applyRecord((shardOf(carol.jti, SHARDS) + 1) % SHARDS, recordName(carol), true);
  m.applyRecord(shardA, 'garbage', true);
  assert.equal(m.size, 2, 'a name filed under another shard, or no record name at all, is ignored');
  m.applyShard(shardA, [recordName(a)]);
  assert.equal(m.size, 2, 'a listing that agrees changes nothing');
  m.applyRecord(shardA, recordName(a), false);
  assert.equal(m.lookup(a.jti).presence, 'removed');
  m.applyRecord(shardOf(b.jti, SHARDS), recordName(b), false);
  assert.deepEqual(m.onetimeOf('bob'), []);
  assert.equal(m.size, 0);
  const never = ref('dave');
  m.applyRecord(shardOf(never.jti, SHARDS), recordName(never), false);
  assert.equal(m.lookup(never.jti).presence, 'removed', 'a deletion of a record never held is remembered too');
  assert.equal(m.size, 0);
});

test('pending writes survive listings until settled', () => {
  const m = new Mirror(SHARDS);
  const a = ref('alice');
  const shard = shardOf(a.jti, SHARDS);
  m.addPending(a);
  m.applyShard(shard, []); // the store does not have it yet
  assert.equal(m.lookup(a.jti).presence, 'present');
  assert.equal(m.size, 1);
  m.settle(a.jti);
  assert.equal(m.lookup(a.jti).presence, 'unknown', 'settled, the record waits for the store to report it');
  assert.equal(m.pendingCount, 0);
  m.applyShard(shard, [recordName(a)]);
  assert.equal(m.lookup(a.jti).presence, 'present');
  // a pending revocation hides a record the store still lists
  m.removePending(a);
  m.applyShard(shard, [recordName(a)]);
  assert.equal(m.lookup(a.jti).presence, 'removed');
  assert.equal(m.size, 0);
});

test('negative cache forgets after its time to live', () => {
  const clock = new ManualClock();
  const m = new Mirror(SHARDS, { clock, negativeTtlMs: 1000 });
  m.rememberMissing('s.unknown');
  assert.equal(m.isKnownMissing('s.unknown'), true);
  clock.advance(1001);
  assert.equal(m.isKnownMissing('s.unknown'), false);
});

test('marker generations only move forward: a lower one, a deletion or a listing without it change nothing', () => {
  const m = new Mirror(SHARDS);
  const seen: Array<[string, number]> = [];
  m.on('marker', (subject, gen) => seen.push([subject, gen]));
  m.applyMarker('alice', { gen: 3 });
  m.applyMarker('alice', { gen: 2 });
  m.applyMarker('alice', null);
  m.replaceMarkers(new Map([['carol', { gen: 1 }]]));
  assert.equal(m.gen('alice'), 3);
  assert.equal(m.gen('carol'), 1);
  assert.equal(m.gen('nobody'), 0);
  assert.deepEqual(seen, [
    ['alice', 3],
    ['carol', 1],
  ]);
  assert.deepEqual(m.recentMarkers(), { alice: 3, carol: 1 });
});

test('a journaled logout counts at once and is kept until settled; a later journaled one survives settling the first', () => {
  const m = new Mirror(SHARDS);
  m.applyMarker('bob', { gen: 1 });
  m.addPendingMarker('bob', 2);
  m.addPendingMarker('bob', 3);
  m.replaceMarkers(new Map([['bob', { gen: 1 }]]));
  assert.equal(m.gen('bob'), 3, 'a listing from the store does not drop pending generations');
  m.applyMarker('bob', { gen: 2 }); // the first replayed
  m.settleMarker('bob', 2);
  assert.equal(m.gen('bob'), 3);
  m.applyMarker('bob', { gen: 4 }); // the second replayed, over another logout made elsewhere meanwhile
  m.settleMarker('bob', 3);
  assert.equal(m.gen('bob'), 4);
  assert.deepEqual(m.marker('bob'), { gen: 4 });
});

test('a legacy marker keeps its time until a generation passes it', () => {
  const m = new Mirror(SHARDS);
  m.applyMarker('dan', { gen: 1, legacyBefore: 1000 });
  assert.deepEqual(m.marker('dan'), { gen: 1, legacyBefore: 1000 });
  m.addPendingMarker('dan', 2);
  assert.deepEqual(m.marker('dan'), { gen: 2 });
});

test('record names carrying a logout generation: the mirror knows it by name, a listing keeps it', () => {
  const m = new Mirror(SHARDS);
  const r = { jti: newJti('session'), subject: 'erin', gen: 4 };
  const shard = shardOf(r.jti, SHARDS);
  m.applyShard(shard, [recordName(r)]);
  assert.deepEqual(m.lookup(r.jti), { presence: 'present', subject: 'erin', gen: 4 });
  m.applyShard(shard, [recordName(r)]); // the fast path for names already held
  assert.equal(m.lookup(r.jti).presence, 'present');
  assert.deepEqual([...m.entries()], [r]);
  m.applyShard(shard, []);
  assert.equal(m.lookup(r.jti).presence, 'removed');
});

test('one-time tokens are indexed by subject from their names', () => {
  const m = new Mirror(SHARDS);
  const o = ref('alice', 'onetime');
  const s = ref('alice');
  m.add(o);
  m.add(s);
  assert.deepEqual(m.onetimeOf('alice'), [o.jti]);
  m.remove(o);
  assert.deepEqual(m.onetimeOf('alice'), []);
});

test('initialized is announced exactly once', () => {
  const m = new Mirror(SHARDS);
  let count = 0;
  m.on('initialized', () => count++);
  m.markInitialized();
  m.markInitialized();
  assert.equal(count, 1);
  assert.equal(m.initialized, true);
});

test('records leave by themselves once the expiry in their names has passed by the clock skew; the sweep emits them', () => {
  const clock = new ManualClock(1_800_000_000_000);
  const m = new Mirror(SHARDS, { clock, expirySkewMs: 30_000 });
  const expired: RecordRef[] = [];
  m.on('expired', (refs) => expired.push(...refs));
  const soon = { jti: newJti('session'), subject: 'alice', expiresAt: clock.now() + 60_000 };
  const later = { jti: newJti('onetime'), subject: 'alice', gen: 2, expiresAt: clock.now() + 3_600_000 };
  const never = { jti: newJti('api'), subject: 'svc', expiresAt: null };
  const unknown = { jti: newJti('session'), subject: 'bob' }; // a layout-1 name: its expiry is not known here
  const own = { jti: 'my-own-jti-1', subject: 'carol', expiresAt: clock.now() + 60_000 };
  for (const r of [soon, later, never, unknown, own]) m.applyRecord(shardOf(r.jti, SHARDS), recordName(r), true);
  assert.equal(m.size, 5);
  clock.advance(60_000 + 30_000);
  m.sweep();
  assert.equal(m.size, 5, 'within the skew: still held');
  clock.advance(1_000);
  m.sweep();
  assert.deepEqual(new Set(expired.map((r) => r.jti)), new Set([soon.jti, own.jti]));
  assert.deepEqual(
    expired.find((r) => r.jti === soon.jti),
    soon,
    'the ref names the record as the store does',
  );
  assert.equal(m.lookup(soon.jti).presence, 'removed');
  assert.equal(m.size, 3);
  assert.deepEqual(m.onetimeOf('alice'), [later.jti]);
  clock.advance(100 * 86_400_000);
  m.sweep();
  assert.deepEqual(m.onetimeOf('alice'), []);
  assert.deepEqual(
    new Set([...m.entries()].map((r) => r.jti)),
    new Set([never.jti, unknown.jti]),
    'never, or not said: held until the store deletes them',
  );
});

test('a lookup never reports an expired record present, whether or not the sweep has been by', () => {
  const clock = new ManualClock(1_800_000_000_000);
  const m = new Mirror(SHARDS, { clock });
  const r = { jti: newJti('session'), subject: 'alice', expiresAt: clock.now() + 1_000 };
  m.add(r);
  const expired: RecordRef[][] = [];
  m.on('expired', (refs) => expired.push(refs));
  assert.equal(m.lookup(r.jti).presence, 'present');
  clock.advance(2_001);
  assert.equal(m.lookup(r.jti).presence, 'removed');
  assert.deepEqual(expired, [[r]]);
  assert.equal(m.size, 0);
});

test("countOf counts a subject's records, journaled ones included, and the digest matches the store's names", () => {
  const m = new Mirror(SHARDS);
  const names: string[] = [];
  for (let i = 0; i < 300; i++) {
    const r: RecordRef = {
      jti: i % 50 === 0 ? `app-chosen-${i}` : newJti('session'),
      subject: `user-${i % 7}`,
      ...(i % 3 === 0 ? {} : { expiresAt: 2_000_000_000_000 }),
      ...(i % 11 === 0 ? { gen: 4 } : {}),
    };
    names.push(recordName(r));
    m.applyRecord(shardOf(r.jti, SHARDS), names[names.length - 1]!, true);
  }
  assert.equal(m.countOf('user-3'), 43);
  assert.deepEqual(new Set(m.entriesOf('user-3')), new Set([...m.entries()].filter((r) => r.subject === 'user-3')));
  assert.deepEqual(m.digest(), digestOf(names));
  const pending = { jti: newJti('session'), subject: 'user-3' };
  m.addPending(pending);
  assert.equal(m.countOf('user-3'), 44);
  assert.equal(m.countOf('nobody'), 0);
});

test('store upgrade renames: the delete of a layout-1 name whose jti is held under its layout-2 name is no revocation; a layout-2 delete is', () => {
  const m = new Mirror(4);
  const jti = newJti('session');
  const shard = shardOf(jti, 4);
  m.applyRecord(shard, `${jti}~Ym9i`, true);
  assert.equal(m.lookup(jti).expiresAt, undefined);
  m.applyRecord(shard, `${jti}~Ym9i~0~1800000000`, true); // the rename's create, then its delete
  m.applyRecord(shard, `${jti}~Ym9i`, false);
  assert.deepEqual(m.lookup(jti), { presence: 'present', subject: 'bob', expiresAt: 1_800_000_000_000 });
  m.applyRecord(shard, `${jti}~Ym9i~0~1800000000`, false);
  assert.equal(m.lookup(jti).presence, 'removed');
  const old = newJti('session');
  m.applyRecord(shardOf(old, 4), `${old}~Ym9i`, true);
  m.applyRecord(shardOf(old, 4), `${old}~Ym9i`, false);
  assert.equal(m.lookup(old).presence, 'removed', 'a layout-1 record revoked in a layout-1 store');
});

test("a store's stale report or a lost session: each shard is believed again once listed, every shard after a rebuild", () => {
  const store = new EventEmitter() as unknown as TokenStore;
  const m = new Mirror(SHARDS);
  m.attach(store);
  const a = ref('alice');
  let b = ref('bob');
  while (shardOf(b.jti, SHARDS) === shardOf(a.jti, SHARDS)) b = ref('bob');
  m.markInitialized();
  assert.equal(m.trusted, true);
  assert.equal(m.isStale(a.jti), false);

  store.emit('stale');
  assert.equal(m.trusted, false);
  assert.ok(m.isStale(a.jti) && m.isStale(b.jti));
  assert.equal(m.stats().staleShards, SHARDS);
  m.applyShard(shardOf(a.jti, SHARDS), []);
  assert.equal(m.isStale(a.jti), false, "a's shard was listed");
  assert.equal(m.isStale(b.jti), true, "b's shard was not");
  assert.equal(m.stats().staleShards, SHARDS - 1);
  m.applyShard(shardOf(a.jti, SHARDS), []); // listed twice: counted once
  assert.equal(m.stats().staleShards, SHARDS - 1);
  store.emit('rebuilt');
  assert.equal(m.trusted, true);
  assert.equal(m.isStale(b.jti), false);

  store.emit('state', 'lost', 'suspended');
  assert.ok(m.isStale(a.jti) && m.isStale(b.jti), 'a lost session: every shard');
  for (let shard = 0; shard < SHARDS; shard++) m.applyShard(shard, []);
  assert.equal(m.trusted, true, 'every shard listed again');
  m.detach();
});
