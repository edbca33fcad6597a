import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Mirror } from '../../mirror/mirror.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import { BadRequestError } from '../../errors/bad-request-error.js';
import type { MemberInfo } from '../token-store.js';
import type { TokenKind, TokenRecord } from '../token-record.js';
import { newJti, recordName, refOf, shardName, shardOf } from '../token-record.js';
import { ZooKeeperStore, type ZooKeeperStoreOptions } from './zookeeper-store.js';
import { ZooKeeperStoreError } from './zookeeper-store-error.js';
import { ZkCode, isZkError } from './zk-error.js';
import { CreateMode, type ZkClient } from './zk-client.js';
import type { LogoutMarker } from '../logout-marker.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../../integration-tests/zookeeper/index.js';
import { capturingLogger, eventually, nextEvent, rawClient } from '../../../integration-tests/support/zk-test-support.js';

const SHARDS = 16;

function record(subject: string, kind: TokenKind = 'session', jti = newJti(kind)): TokenRecord {
  return { jti, subject, kind, issuedAt: Date.now(), expiresAt: kind === 'api' ? null : Date.now() + 60_000, node: 'test' };
}

function member(nodeId: string, mirrorSize = 0): MemberInfo {
  const now = Date.now();
  return {
    nodeId,
    address: '127.0.0.1:7468',
    version: 'test',
    pid: process.pid,
    startedAt: now,
    updatedAt: now,
    mirrorSize,
    mirrorLagMs: 0,
    state: 'connected',
    storeType: 'ZOOKEEPER',
  };
}

describe('ZooKeeperStore on a real ZooKeeper', () => {
  let zk: ZooKeeperCluster;
  const { logger, lines } = capturingLogger();
  const stores: ZooKeeperStore[] = [];
  const errors: Error[] = [];
  let raw: ZkClient;

  const open = async (chroot: string, extra: Partial<ZooKeeperStoreOptions> = {}, watch = false) => {
    const store = new ZooKeeperStore({
      servers: [zk.connectString],
      chroot,
      sessionTimeoutMs: 10_000,
      shards: SHARDS,
      logger,
      ...extra,
    });
    store.on('error', (error) => errors.push(error));
    stores.push(store);
    await store.start({ watch });
    return store;
  };

  before(async () => {
    zk = await startZooKeeper({ servers: 1 });
    raw = await rawClient(zk.connectString, logger);
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

  it('creates the layout and /meta, and /meta wins over the shards option', async () => {
    const a = await open('/layout/pano', { shards: 16 });
    const meta = JSON.parse((await raw.get('/layout/pano/meta')).data.toString());
    assert.deepEqual(meta, { layoutVersion: 2, shards: 16 });
    const shards = (await raw.getChildren('/layout/pano/tokens')).sort();
    assert.equal(shards.length, 16);
    assert.deepEqual(
      shards,
      Array.from({ length: 16 }, (_, i) => shardName(i, 16)),
    );
    for (const p of ['subjects', 'members', 'reaper', 'replays']) assert.ok(await raw.exists(`/layout/pano/${p}`), p);

    const b = await open('/layout/pano', { shards: 256 });
    assert.equal(b.shards, 16, '/meta wins');
    assert.equal((await raw.getChildren('/layout/pano/tokens')).length, 16, 'no extra shards');
    assert.deepEqual(b.describe(), {
      type: 'ZOOKEEPER',
      location: `${zk.connectString}/layout/pano`,
      shards: 16,
      layoutVersion: 2,
    });
    await assert.rejects(a.start(), /started store/);
  });

  it('lays out 4096 shards with pipelined creates', async () => {
    const t0 = performance.now();
    const store = await open('/big', { shards: 4096 });
    const ms = performance.now() - t0;
    assert.equal((await raw.getChildren('/big/tokens')).length, 4096);
    assert.ok(ms < 10_000, `layout took ${Math.round(ms)} ms`);
    await store.close();
  });

  it('creates, finds, reads and deletes a record, one znode per record', async () => {
    const store = await open('/crud');
    const r = record('alice@example.com', 'session');
    assert.equal(await store.create(r), true);
    assert.equal(await store.create(r), false, 'NODEEXISTS -> false');
    const path = `/crud/tokens/${shardName(shardOf(r.jti, SHARDS), SHARDS)}/${recordName(r)}`;
    assert.ok(await raw.exists(path), path);
    assert.equal(await store.exists(r), true);
    assert.deepEqual(await store.read(r), r);
    assert.deepEqual(await store.listShard(shardOf(r.jti, SHARDS)), [recordName(r)]);
    assert.equal(await store.delete(r), true);
    assert.equal(await store.delete(r), false, 'NONODE -> false');
    assert.equal(await store.exists(r), false);
    assert.equal(await store.read(r), undefined);
    assert.equal(await store.exists({ jti: '../../x', subject: 'a' }), false, 'an invalid jti never reaches a path');
    await assert.rejects(store.create(record('a', 'api', 'bad/jti/..')), BadRequestError);
  });

  it('sends creates asked for together as transactions: one znode per record, duplicates answered alone', async () => {
    const chroot = '/batched';
    const pathOf = (r: TokenRecord) => `${chroot}/tokens/${shardName(shardOf(r.jti, SHARDS), SHARDS)}/${recordName(r)}`;
    const store = await open(chroot);
    const watching = await open(chroot, {}, true);
    const mirror = new Mirror(watching.shards);
    mirror.attach(watching);
    await nextEvent(watching, 'rebuilt');

    const records = Array.from({ length: 300 }, (_, i) => record(`user${i % 7}@example.com`));
    assert.deepEqual(await Promise.all(records.map((r) => store.create(r))), Array(300).fill(true));
    const { transactions, creates, refused } = store.createBatches;
    assert.equal(creates, 300, 'every create went inside a transaction');
    assert.ok(transactions >= 3 && transactions <= 30, `${transactions} transactions for 300 creates (at most 128 each)`);
    assert.equal(refused, 0);
    const czxids = await Promise.all(
      records.map(async (r) => {
        const { stat, data } = await raw.get(pathOf(r));
        assert.deepEqual(JSON.parse(data.toString()), r, 'each record its own znode and data');
        return stat.czxid;
      }),
    );
    assert.equal(new Set(czxids).size, transactions, 'the records of one transaction share its zxid');
    await eventually(() => records.every((r) => mirror.lookup(r.jti).presence === 'present'));

    // a name taken inside a transaction: ZooKeeper refuses all of it, and each create is answered on its own
    const fresh = [record('eve'), record('eve')];
    const answers = await Promise.all([
      store.create(records[0]!),
      store.create(fresh[0]!),
      store.create(fresh[0]!),
      store.create(fresh[1]!),
    ]);
    assert.deepEqual(answers, [false, true, false, true]);
    assert.equal(store.createBatches.refused, 1);
    for (const r of fresh) assert.deepEqual(JSON.parse((await raw.get(pathOf(r))).data.toString()), r);

    // write.batch=1: one plain create per record, as before transactions
    const single = await open(chroot, { createBatch: 1 });
    const alone = Array.from({ length: 20 }, () => record('frank'));
    assert.deepEqual(await Promise.all(alone.map((r) => single.create(r))), Array(20).fill(true));
    assert.deepEqual(single.createBatches, { transactions: 0, creates: 0, refused: 0 });
    const aloneZxids = await Promise.all(alone.map(async (r) => (await raw.exists(pathOf(r)))!.czxid));
    assert.equal(new Set(aloneZxids).size, 20);
    mirror.detach();
  });

  it('a lookup that misses asks again behind a write (a transaction of one version check), a hit costs none', async () => {
    const store = await open('/barrier');
    // the zxid of a fresh write: consecutive probes differ by one plus the transactions in between
    const probe = async (): Promise<number> => {
      const path = await raw.create(`/barrier/probe-${randomUUID()}`, '');
      return (await raw.exists(path))!.czxid;
    };
    const present = record('henry');
    assert.equal(await store.create(present), true);
    const shard = shardOf(present.jti, SHARDS);

    let before = await probe();
    assert.equal(await store.exists(present), true);
    assert.deepEqual(await store.listShard(shard), [recordName(present)]);
    assert.equal((await probe()) - before, 1, 'a hit and a plain listing write nothing (the next probe is the next zxid)');

    before = await probe();
    assert.equal(await store.exists(record('henry')), false);
    assert.equal((await probe()) - before, 2, 'a miss costs exactly one transaction, the barrier');

    before = await probe();
    assert.deepEqual(await store.listShard(shard, { fresh: true }), [recordName(present)]);
    assert.equal((await probe()) - before, 2, 'a fresh listing costs one transaction');
    assert.equal((await raw.get(`/barrier/tokens/${shardName(shard, SHARDS)}`)).stat.version, 0, 'the version check changed nothing');
  });

  it('lets exactly one of 20 concurrent consumes on two stores win', async () => {
    const a = await open('/consume');
    const b = await open('/consume');
    for (let round = 0; round < 5; round++) {
      const r = record('bob', 'onetime');
      assert.equal(await a.create(r), true);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).consume(r)));
      assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results}`);
      assert.equal(await b.exists(r), false);
    }
  });

  for (const mode of ['persistent', 'one-shot'] as const) {
    it(`feeds a second store's Mirror (${mode} watch): a record appears, then disappears after delete`, async () => {
      const chroot = `/mirror-${mode}`;
      const a = await open(chroot);
      const existing = record('carol');
      await a.create(existing);
      const b = await open(chroot, { recordWatch: mode }, true);
      const mirror = new Mirror(b.shards);
      mirror.attach(b); // right after start(): the initial rebuild has not begun yet
      await nextEvent(b, 'rebuilt');
      assert.equal(b.recordWatchMode, mode);
      assert.equal(mirror.initialized, true);
      assert.equal(mirror.lookup(existing.jti).presence, 'present', 'initial rebuild loaded it');
      let listings = 0;
      b.on('shard', () => listings++);

      const r = record('carol');
      const name = recordName(r);
      const shard = shardOf(r.jti, SHARDS);
      // persistent: the created name itself; one-shot: a re-listing of its shard that holds it
      const appeared =
        mode === 'persistent'
          ? nextEvent<[number, string, boolean]>(b, 'record', (s, n, present) => s === shard && n === name && present)
          : nextEvent<[number, string[]]>(b, 'shard', (s, names) => s === shard && names.includes(name));
      const t0 = performance.now();
      await a.create(r);
      await appeared;
      const propagationMs = performance.now() - t0;
      assert.deepEqual(mirror.lookup(r.jti), { presence: 'present', subject: 'carol', expiresAt: refOf(r).expiresAt });
      assert.ok(mirror.lagMs >= 0);

      const gone =
        mode === 'persistent'
          ? nextEvent<[number, string, boolean]>(b, 'record', (s, n, present) => s === shard && n === name && !present)
          : nextEvent<[number, string[]]>(b, 'shard', (s, names) => s === shard && !names.includes(name));
      await a.delete(r);
      await gone;
      assert.equal(mirror.lookup(r.jti).presence, 'removed');
      assert.ok(propagationMs < 1_000, `propagation took ${propagationMs} ms`);

      // a burst: every record arrives, and the last listing (one-shot) is complete
      const burst = Array.from({ length: 30 }, () => record('dave'));
      await Promise.all(burst.map((x) => a.create(x)));
      await eventually(() => burst.every((x) => mirror.lookup(x.jti).presence === 'present'));
      await Promise.all(burst.slice(0, 10).map((x) => a.delete(x)));
      await eventually(() => burst.slice(0, 10).every((x) => mirror.lookup(x.jti).presence === 'removed'));
      assert.equal(mirror.size, 21);
      if (mode === 'persistent') assert.equal(listings, 0, 'no shard was re-listed for 32 creates and 11 deletes');
      else assert.ok(listings >= 3, `${listings} re-listings`);
      mirror.detach();
    });
  }

  it('sets the persistent watch again at once after a reconnect, not only with the resync', async () => {
    // the resync after the reconnect is put off for a minute: a record heard before that came by the watch
    const b = await open('/rearm', { maxResyncJitterMs: 60_000 }, true);
    const mirror = new Mirror(b.shards);
    mirror.attach(b);
    await nextEvent(b, 'rebuilt');
    const reconnected = nextEvent(b, 'state', (next) => next === 'reconnected', 30_000);
    await zk.stop(0); // the server forgets the watch with the connection; the session survives the restart
    await zk.start(0);
    await reconnected;
    const a = await open('/rearm');
    const r = record('ivy');
    const heard = nextEvent<[number, string, boolean]>(b, 'record', (_s, n) => n === recordName(r), 10_000);
    await a.create(r);
    await heard;
    assert.equal(mirror.lookup(r.jti).presence, 'present');
    mirror.detach();
  });

  it('keeps logout generations: one conditional write each, raised by one over what is stored, reported to watchers', async () => {
    const a = await open('/markers');
    const b = await open('/markers', {}, true);
    await nextEvent(b, 'rebuilt');
    const first = nextEvent<[string, LogoutMarker | null]>(b, 'marker', (s) => s === 'erin');
    assert.equal(await a.raiseMarker('erin'), 1);
    assert.deepEqual(await first, ['erin', { gen: 1 }]);

    const later = nextEvent<[string, LogoutMarker | null]>(b, 'marker', (s, v) => s === 'erin' && v?.gen === 2);
    assert.equal(await b.raiseMarker('erin'), 2, 'one above what is stored, whichever node raises it');
    await later;
    assert.equal(await a.raiseMarker('erin', 7), 7, 'a floor above the stored one wins');
    assert.equal(await a.copyMarker('erin', 3), 7, 'copying never moves it backwards');
    assert.equal(await a.copyMarker('frank', 3), 3);

    const all = nextEvent<[Map<string, LogoutMarker>]>(b, 'markers');
    await b.resync();
    assert.deepEqual(
      new Map([...(await all)[0]]),
      new Map([
        ['erin', { gen: 7 }],
        ['frank', { gen: 3 }],
      ]),
    );
  });

  it('concurrent logouts of one subject: every one resolves, none lowers the generation, and each ends at or above one over what it first read', async () => {
    const stores = await Promise.all([open('/markers-race'), open('/markers-race'), open('/markers-race')]);
    const results = await Promise.all(stores.flatMap((s) => [s.raiseMarker('gina'), s.raiseMarker('gina')]));
    const stored = (await stores[0]!.listMarkers()).get('gina')!.gen;
    assert.ok(
      results.every((g) => g >= 1 && g <= stored),
      `${results} vs ${stored}`,
    );
    assert.ok(stored >= 1 && stored <= 6);
    assert.equal(await stores[1]!.raiseMarker('gina'), stored + 1, 'a logout alone raises by exactly one');
  });

  it('reads a legacy {revokedBefore} marker as generation 1 and raises it to 2', async () => {
    const a = await open('/markers-legacy');
    await raw.create('/markers-legacy/subjects/aGFs', JSON.stringify({ revokedBefore: 1_234 }), CreateMode.PERSISTENT);
    assert.deepEqual((await a.listMarkers()).get('hal'), { gen: 1, legacyBefore: 1_234 });
    assert.equal(await a.raiseMarker('hal'), 2);
    assert.deepEqual((await a.listMarkers()).get('hal'), { gen: 2 });
  });

  it('pages through records with a cursor, filtered by subject and kind', async () => {
    const store = await open('/list');
    const bobs = [
      ...Array.from({ length: 17 }, () => record('bob', 'session')),
      ...Array.from({ length: 6 }, () => record('bob', 'api')),
      record('bob', 'api', 'custom-api-token-1'), // a jti the application chose: kind only in the record
    ];
    const others = Array.from({ length: 9 }, () => record('mallory', 'session'));
    await Promise.all([...bobs, ...others].map((r) => store.create(r)));

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.list({ subject: 'bob', limit: 5, cursor });
      assert.ok(page.items.length <= 5);
      for (const item of page.items) {
        assert.equal(item.subject, 'bob');
        seen.push(item.jti);
      }
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 50);
    assert.equal(seen.length, bobs.length);
    assert.deepEqual(new Set(seen), new Set(bobs.map((r) => r.jti)));

    const apis = await store.list({ subject: 'bob', kind: 'api', limit: 100 });
    assert.equal(apis.nextCursor, null);
    assert.deepEqual(new Set(apis.items.map((r) => r.jti)), new Set(bobs.filter((r) => r.kind === 'api').map((r) => r.jti)));

    const everything = await store.list({ limit: 1_000 });
    assert.equal(everything.items.length, bobs.length + others.length);
    await assert.rejects(store.list({ limit: 5, cursor: 'nonsense' }), BadRequestError);
  });

  it('publishes and lists members, ephemeral', async () => {
    const a = await open('/members');
    const b = await open('/members');
    await a.publishMember(member('node-a'));
    await b.publishMember(member('node-b/1'));
    await a.publishMember(member('node-a', 42)); // an update: a `set` on our own node
    const members = await b.listMembers();
    assert.deepEqual(
      members.map((m) => [m.nodeId, m.mirrorSize]),
      [
        ['node-a', 42],
        ['node-b/1', 0],
      ],
    );
    await a.close();
    assert.deepEqual(
      (await b.listMembers()).map((m) => m.nodeId),
      ['node-b/1'],
    );

    // a node left by another session (a restart within the session timeout) is taken over
    const c = await open('/members');
    await c.publishMember(member('node-b/1', 7));
    assert.deepEqual(
      (await b.listMembers()).map((m) => [m.nodeId, m.mirrorSize]),
      [['node-b/1', 7]],
    );
    assert.ok(lines.some((l) => l.includes('taking it over')));
  });

  it('elects exactly one reaper, and the other takes over when it closes', async () => {
    const a = await open('/reaper');
    const b = await open('/reaper');
    const [ra, rb] = [await a.isReaper(), await b.isReaper()];
    assert.equal(Number(ra) + Number(rb), 1, `a=${ra} b=${rb}`);
    assert.deepEqual([await a.isReaper(), await b.isReaper()], [ra, rb], 'stable, and cheap to ask again');
    const [leader, other] = ra ? [a, b] : [b, a];
    await leader.close();
    assert.equal(await other.isReaper(), true);
    assert.equal((await raw.getChildren('/reaper/reaper')).length, 1);
  });

  it('protects the tree with the digest identity alone, and never logs the password', async () => {
    const password = `pw-${randomUUID()}`;
    const auth = { scheme: 'digest' as const, user: 'tokensync', password };
    const store = await open('/secure/pano', { auth });
    const r = record('frank');
    assert.equal(await store.create(r), true);
    await store.raiseMarker('frank');
    await store.publishMember(member('secure-node'));
    assert.equal(await store.isReaper(), true);

    const shard = `/secure/pano/tokens/${shardName(shardOf(r.jti, SHARDS), SHARDS)}`;
    const denied = async (what: string, call: Promise<unknown>) =>
      assert.rejects(call, (e: unknown) => isZkError(e, ZkCode.NOAUTH), `${what} must be NOAUTH (-102)`);
    await denied('get_children /tokens', raw.getChildren('/secure/pano/tokens'));
    await denied('get_children shard', raw.getChildren(shard));
    await denied('create under a shard', raw.create(`${shard}/forged~Zm9v`, '{}'));
    await denied('delete a record', raw.delete(`${shard}/${recordName(r)}`, -1));
    await denied('read /meta', raw.get('/secure/pano/meta'));
    await denied('read a marker', raw.get('/secure/pano/subjects/ZnJhbms'));
    await denied('set a marker', raw.set('/secure/pano/subjects/ZnJhbms', '{"revokedBefore":0}', -1));
    await denied('list members', raw.getChildren('/secure/pano/members'));
    await denied('read the chroot', raw.getChildren('/secure/pano'));
    // records too, whether created alone or inside a transaction, from the create on (no window without the ACL)
    await denied('read a record', raw.get(`${shard}/${recordName(r)}`));
    await denied('change a record', raw.set(`${shard}/${recordName(r)}`, '{}', -1));
    const batch = Array.from({ length: 40 }, () => record('frank'));
    const before = store.createBatches.transactions;
    assert.deepEqual(await Promise.all(batch.map((x) => store.create(x))), Array(40).fill(true));
    assert.ok(store.createBatches.transactions > before, 'the 40 went in transactions');
    for (const x of [batch[0]!, batch[39]!]) {
      const path = `/secure/pano/tokens/${shardName(shardOf(x.jti, SHARDS), SHARDS)}/${recordName(x)}`;
      await denied('read a record created in a transaction', raw.get(path));
      const stat = await raw.exists(path);
      // created with the ACL, never set afterwards: the layout's repair (which re-protects nodes still at ACL version 0)
      // must therefore never be pointed at records
      assert.equal(stat!.aversion, 0);
    }
    // the barrier of a lookup that misses (a version check) passes the ACL of our own identity
    assert.equal(await store.exists(record('nobody')), false);
    assert.deepEqual(await store.listShard(shardOf(r.jti, SHARDS), { fresh: true }), await store.listShard(shardOf(r.jti, SHARDS)));
    // a marker created now (create, then set_acl right behind it) is protected as well
    await store.raiseMarker('grace');
    await denied('read a new marker', raw.get('/secure/pano/subjects/Z3JhY2U'));

    // another sidecar with the right credentials works; one with the wrong password is refused clearly
    const again = await open('/secure/pano', { auth });
    assert.equal(await again.exists(r), true);
    const wrong = new ZooKeeperStore({
      servers: [zk.connectString],
      chroot: '/secure/pano',
      sessionTimeoutMs: 10_000,
      shards: SHARDS,
      logger,
      auth: { ...auth, password: 'wrong' },
    });
    await assert.rejects(wrong.start(), (e: unknown) => e instanceof ZooKeeperStoreError && e.code === 'store.zookeeper.noauth');
    assert.equal(wrong.state, 'closed');

    assert.ok(lines.length > 0);
    assert.equal(lines.filter((l) => l.includes(password)).length, 0, 'the password never reaches the log');
  });

  it('replay receipts: records and receipt in one transaction, stale receipts deleted, a missing receipt settled as a fence', async () => {
    const store = await open('/receipts/pano');
    const receipts = store.receipts;
    assert.equal(receipts.available, true);
    const recordPath = (x: TokenRecord) => `/receipts/pano/tokens/${shardName(shardOf(x.jti, SHARDS), SHARDS)}/${recordName(x)}`;
    const taken = record('henry');
    assert.equal(await store.create(taken), true);
    const batch = [record('henry'), taken, record('ida'), record('ida', 'api')];
    await raw.create('/receipts/pano/replays/stale-aaaaaaaaaaaaaaaa', 'applied');
    assert.deepEqual(
      await receipts.createWithReceipt(batch, 'receipt-one-aaaaaaaaaaa', ['stale-aaaaaaaaaaaaaaaa', 'gone-already-aaaaaaaaaa']),
      [true, false, true, true],
      'a name already taken is reported and left out; a stale receipt already gone is fine',
    );
    const receiptStat = await raw.exists('/receipts/pano/replays/receipt-one-aaaaaaaaaaa');
    assert.ok(receiptStat);
    for (const x of [batch[0]!, batch[2]!, batch[3]!])
      assert.equal((await raw.exists(recordPath(x)))!.czxid, receiptStat.czxid, 'one transaction');
    assert.equal(await raw.exists('/receipts/pano/replays/stale-aaaaaaaaaaaaaaaa'), null);
    assert.equal(await store.read(batch[2]!).then((r) => r?.subject), 'ida');

    // applied: the receipt is there, and asking again changes nothing
    assert.equal(await receipts.settle('receipt-one-aaaaaaaaaaa'), true);
    assert.equal(await receipts.settle('receipt-one-aaaaaaaaaaa'), true);
    // never applied: the settle makes a fence; the lost transaction, were it to arrive now, is refused whole
    assert.equal(await receipts.settle('receipt-two-aaaaaaaaaaa'), false);
    assert.equal(await receipts.settle('receipt-two-aaaaaaaaaaa'), false, 'a fence found again (its answer lost) is still "not applied"');
    const late = record('jane');
    await assert.rejects(receipts.createWithReceipt([late], 'receipt-two-aaaaaaaaaaa', []), ZooKeeperStoreError);
    assert.equal(await store.exists(late), false, 'nothing of the fenced transaction applied');

    await receipts.remove(['receipt-one-aaaaaaaaaaa', 'receipt-two-aaaaaaaaaaa', 'never-made-aaaaaaaaaaaa']);
    assert.deepEqual(await raw.getChildren('/receipts/pano/replays'), []);
    assert.ok(receipts.weight(record('x')) > 100);
    await assert.rejects(receipts.settle('../tokens'), TypeError, 'a receipt name cannot reach another path');
    const heavy = Array.from({ length: 200 }, () => ({ ...record('kim'), attributes: { blob: 'x'.repeat(1_000) } }));
    await assert.rejects(
      receipts.createWithReceipt(heavy, 'receipt-heavy-aaaaaaaaa', []),
      RangeError,
      'over jute.maxbuffer: refused before sending',
    );
  });

  it('replay receipts with auth: records and receipts carry the digest ACL', async () => {
    const auth = { scheme: 'digest' as const, user: 'tokensync', password: `pw-${randomUUID()}` };
    const store = await open('/receipts-secure/pano', { auth });
    const r = record('lena');
    assert.deepEqual(await store.receipts.createWithReceipt([r], 'receipt-acl-aaaaaaaaaaa', []), [true]);
    assert.equal(await store.receipts.settle('receipt-fence-aaaaaaaaa'), false);
    for (const path of [
      '/receipts-secure/pano/replays/receipt-acl-aaaaaaaaaaa',
      '/receipts-secure/pano/replays/receipt-fence-aaaaaaaaa',
      `/receipts-secure/pano/tokens/${shardName(shardOf(r.jti, SHARDS), SHARDS)}/${recordName(r)}`,
    ]) {
      await assert.rejects(raw.get(path), (e: unknown) => isZkError(e, ZkCode.NOAUTH), `${path} must be NOAUTH`);
    }
    assert.equal(await store.receipts.settle('receipt-acl-aaaaaaaaaaa'), true);
    await assert.rejects(raw.getChildren('/receipts-secure/pano/replays'), (e: unknown) => isZkError(e, ZkCode.NOAUTH));
  });

  it('fails fast with StoreUnavailableError when the servers cannot be reached', async () => {
    const t0 = performance.now();
    const store = new ZooKeeperStore({
      servers: ['127.0.0.1:1'],
      chroot: '',
      sessionTimeoutMs: 4_000,
      shards: SHARDS,
      logger,
      connectTimeoutMs: 500,
    });
    await assert.rejects(store.start(), (e: unknown) => e instanceof StoreUnavailableError && /127\.0\.0\.1:1/.test(e.message));
    assert.ok(performance.now() - t0 < 3_000);
    await assert.rejects(store.create(record('x')), StoreUnavailableError);
    await store.close();
    await store.close(); // idempotent
  });
});
