/**
 * The store contract: the same cases against DIRECTORY (a temp folder) and ZOOKEEPER (a real local server). What one
 * store accepts, refuses or returns here, the other must too; a store-specific rule belongs in that store's own test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadRequestError } from '../errors/bad-request-error.js';
import { silentLogger } from '../util/logger.js';
import { type MemberInfo, type TokenStore, hasBulkReads, hasLayoutUpgrade } from './token-store.js';
import {
  type RecordRef,
  type TokenKind,
  type TokenRecord,
  layout1Name,
  layout2Name,
  newJti,
  parseRecordName,
  refOf,
  shardOf,
} from './token-record.js';
import { Mirror } from '../mirror/mirror.js';
import { waitFor } from '../util/wait-for.js';
import { DirectoryStore } from './directory/directory-store.js';
import { ZooKeeperStore } from './zookeeper/zookeeper-store.js';
import { CreateMode, type ZkClient } from './zookeeper/zk-client.js';
import { rawClient } from '../../integration-tests/support/zk-test-support.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../integration-tests/zookeeper/index.js';

const SHARDS = 16;

/** How a case gets a store: `space` names one shared store (a folder, a chroot); stores of one space see each other. */
interface Harness {
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** `attach`: called before the store starts (a Mirror must follow it from the first listing on). */
  open(space: string, nodeId?: string, options?: { watch?: boolean; attach?: (store: TokenStore) => void }): Promise<TokenStore>;
  /** Lays out an empty layout-1 store (as a tokensync before layout 2 left it) for {@link open} to find. */
  makeLayout1(space: string): Promise<void>;
  /** Puts an entry that is not a member record where members are listed. */
  writeBadMember(space: string, name: string): Promise<void>;
}

function directoryHarness(): Harness {
  const roots = new Map<string, string>();
  const stores: TokenStore[] = [];
  const rootOf = async (space: string) => {
    let root = roots.get(space);
    if (!root) {
      root = await mkdtemp(join(tmpdir(), 'ts-contract-'));
      roots.set(space, root);
    }
    return root;
  };
  return {
    setup: async () => {},
    teardown: async () => {
      await Promise.all(stores.map((s) => s.close()));
      await Promise.all([...roots.values()].map((root) => rm(root, { recursive: true, force: true })));
    },
    open: async (space, nodeId = 'n1', options = {}) => {
      const store = new DirectoryStore({
        root: await rootOf(space),
        shards: SHARDS,
        rescanIntervalMs: 60_000,
        logger: silentLogger(),
        nodeId,
      });
      stores.push(store);
      options.attach?.(store);
      await store.start({ watch: options.watch ?? false });
      return store;
    },
    makeLayout1: async (space) => writeFile(join(await rootOf(space), 'meta.json'), JSON.stringify({ layoutVersion: 1, shards: SHARDS })),
    writeBadMember: async (space, name) => writeFile(join(await rootOf(space), 'members', `${name}.json`), '{not json'),
  };
}

function zookeeperHarness(): Harness {
  let zk: ZooKeeperCluster | undefined;
  let raw: ZkClient | undefined;
  const stores: TokenStore[] = [];
  return {
    setup: async () => {
      zk = await startZooKeeper({ servers: 1 });
      raw = await rawClient(zk.connectString, silentLogger());
    },
    teardown: async () => {
      await Promise.all(stores.map((s) => s.close()));
      raw?.close();
      await zk?.close();
    },
    open: async (space, _nodeId, options = {}) => {
      const store = new ZooKeeperStore({
        servers: [zk!.connectString],
        chroot: `/contract/${space}`,
        sessionTimeoutMs: 10_000,
        shards: SHARDS,
        logger: silentLogger(),
      });
      stores.push(store);
      options.attach?.(store);
      await store.start({ watch: options.watch ?? false });
      return store;
    },
    makeLayout1: async (space) => {
      for (const path of ['/contract', `/contract/${space}`]) await raw!.create(path, '', CreateMode.PERSISTENT).catch(() => undefined);
      await raw!.create(`/contract/${space}/meta`, JSON.stringify({ layoutVersion: 1, shards: SHARDS }), CreateMode.PERSISTENT);
    },
    writeBadMember: async (space, name) => {
      await raw!.create(`/contract/${space}/members/${name}`, '{not json', CreateMode.PERSISTENT);
    },
  };
}

function record(subject: string, kind: TokenKind = 'session'): TokenRecord {
  return {
    jti: newJti(kind),
    subject,
    kind,
    issuedAt: Date.now(),
    expiresAt: kind === 'api' ? null : Date.now() + 60_000,
    node: 'contract',
  };
}

function member(nodeId: string): MemberInfo {
  const now = Date.now();
  return {
    nodeId,
    address: '127.0.0.1:7468',
    version: 'test',
    pid: process.pid,
    startedAt: now,
    updatedAt: now,
    mirrorSize: 0,
    mirrorLagMs: 0,
    state: 'connected',
    storeType: 'test',
  };
}

const isBadRequest = (code?: string) => (error: unknown) => error instanceof BadRequestError && (code === undefined || error.code === code);

/** Invalid refs a caller might pass: a jti that could leave the shard, one too short, and subjects no record has. */
const BAD_REFS: RecordRef[] = [
  { jti: '../../../escape', subject: 'alice' },
  { jti: 'short', subject: 'alice' },
  { jti: newJti('session'), subject: '' },
  { jti: newJti('session'), subject: 'bell\u0007' },
  { jti: newJti('session'), subject: 'x'.repeat(129) },
];

for (const [name, harness] of [
  ['DIRECTORY', directoryHarness()],
  ['ZOOKEEPER', zookeeperHarness()],
] as const) {
  describe(`TokenStore contract: ${name}`, () => {
    before(() => harness.setup());
    after(() => harness.teardown());

    it('create, exists, read, delete: true once, then false; read gives back what was created', async () => {
      const store = await harness.open('crud');
      const r = record('alice@example.com');
      assert.equal(await store.create(r), true);
      assert.equal(await store.create(r), false, 'a taken name');
      assert.equal(await store.exists(r), true);
      assert.deepEqual(await store.read(r), r);
      assert.equal(await store.delete(r), true);
      assert.equal(await store.delete(r), false);
      assert.equal(await store.exists(r), false);
      assert.equal(await store.read(r), undefined);
      assert.deepEqual(await store.listShard(shardOf(r.jti, store.shards)), []);
    });

    it('layout 2 (a new store): names carry generation and expiry; a ref without the expiry (from token claims) finds, reads, consumes and deletes the record', async () => {
      const store = await harness.open('layout2');
      assert.equal(store.recordLayout, 2);
      assert.equal(store.describe().layoutVersion, 2);
      const r = { ...record('ann'), gen: 4 };
      const api = record('ann', 'api');
      const otp = record('ann', 'onetime');
      for (const x of [r, api, otp]) assert.equal(await store.create(x), true);
      const listed = (shard: number) => store.listShard(shard);
      assert.deepEqual(await listed(shardOf(r.jti, SHARDS)).then((n) => n.filter((x) => x.startsWith(r.jti))), [layout2Name(refOf(r))]);
      assert.ok((await listed(shardOf(api.jti, SHARDS))).includes(`${api.jti}~YW5u~0~-`));
      const bare = (x: TokenRecord): RecordRef => refOf(x, 1); // what a token's claims say: jti, subject, lgn
      assert.equal(await store.exists(bare(r)), true);
      assert.equal(await store.exists({ jti: r.jti, subject: 'ann' }), false, 'another generation is another record');
      assert.deepEqual(await store.read(bare(r)), r);
      assert.equal(await store.consume(bare(otp)), true);
      assert.equal(await store.consume(bare(otp)), false);
      assert.equal(await store.delete(bare(api)), true);
      assert.equal(await store.delete(refOf(r)), true, 'and by its full name');
      assert.equal(await store.exists(bare(r)), false);
    });

    it('layout 1 is read and written as before; upgradeShard renames in place while another instance watches: nothing ever looks removed, old refs still work', async () => {
      await harness.makeLayout1('upgrade');
      const store = await harness.open('upgrade', 'n1');
      assert.equal(store.recordLayout, 1);
      const records = Array.from({ length: 40 }, (_, i) => record(`u${i % 3}`, i % 4 === 0 ? 'onetime' : 'session'));
      for (const x of records) assert.equal(await store.create(x), true);
      const shardOfR = (x: TokenRecord) => shardOf(x.jti, SHARDS);
      assert.ok((await store.listShard(shardOfR(records[0]!))).includes(layout1Name(records[0]!)));
      let following: Mirror | undefined;
      const watcher = await harness.open('upgrade', 'n2', {
        watch: true,
        attach: (s) => {
          following = new Mirror(() => s.shards);
          following.attach(s);
        },
      });
      const mirror = following!;
      await waitFor(() => mirror.size === records.length, 'the watching mirror holds every record');
      let removed = 0;
      const onRemoved = () => {
        for (const x of records) if (mirror.lookup(x.jti).presence !== 'present') removed++;
      };
      watcher.on('record', onRemoved);
      watcher.on('shard', onRemoved);
      assert.ok(hasLayoutUpgrade(store));
      await store.raiseLayout();
      let renamed = 0;
      for (let shard = 0; shard < SHARDS; shard++) renamed += (await store.upgradeShard(shard)).renamed;
      assert.equal(renamed, records.length);
      assert.equal(store.recordLayout, 2);
      await watcher.publishMember(member('n2')); // a heartbeat: the other instance follows
      assert.equal(watcher.recordLayout, 2);
      const names = (await Promise.all(Array.from({ length: SHARDS }, (_, shard) => store.listShard(shard)))).flat();
      assert.equal(names.length, records.length);
      assert.ok(
        names.every((n) => parseRecordName(n)?.expiresAt !== undefined),
        names.join(),
      );
      await waitFor(
        async () =>
          (await Promise.resolve(mirror.size)) === records.length &&
          records.every((x) => mirror.lookup(x.jti).expiresAt !== undefined || watcher.type === 'DIRECTORY'),
        'renames seen',
      );
      assert.equal(removed, 0, 'no record looked removed on the watching instance');
      for (const x of records) {
        assert.equal(await watcher.exists(refOf(x, 1)), true, 'a layout-1 ref finds the renamed record');
        assert.equal(mirror.lookup(x.jti).presence, 'present');
      }
      assert.equal((await store.upgradeShard(shardOfR(records[0]!))).renamed, 0, 'idempotent');
      assert.equal(await watcher.consume(refOf(records[0]!, 1)), true);
      assert.equal(await watcher.delete(refOf(records[1]!, 1)), true);
    });

    it('consume: of 20 racing consumes on two stores of one cluster, exactly one wins', async () => {
      const a = await harness.open('consume', 'n1');
      const b = await harness.open('consume', 'n2');
      const r = record('bob', 'onetime');
      assert.equal(await a.create(r), true);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).consume(r)));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await a.exists(r), false);
      assert.equal(await b.consume(r), false, 'gone');
    });

    it('reference validation: an invalid record is refused with a BadRequestError; an invalid ref is simply not there', async () => {
      const store = await harness.open('refs');
      for (const ref of BAD_REFS) {
        const bad = { ...record('alice'), jti: ref.jti, subject: ref.subject };
        await assert.rejects(store.create(bad), isBadRequest(), JSON.stringify(ref));
        assert.equal(await store.exists(ref), false);
        assert.equal(await store.read(ref), undefined);
        assert.equal(await store.delete(ref), false);
        assert.equal(await store.consume(ref), false);
      }
      if (hasBulkReads(store))
        assert.deepEqual(
          await store.readMany(BAD_REFS),
          BAD_REFS.map(() => undefined),
        );
      assert.deepEqual((await store.list({ limit: 100 })).items, [], 'nothing was written');
    });

    it('limits: a page size that is not a positive integer is refused, never clamped', async () => {
      const store = await harness.open('limits');
      await store.create(record('carol'));
      for (const limit of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await assert.rejects(store.list({ limit }), isBadRequest('request.invalid'), String(limit));
      }
      const page = await store.list({ limit: 1 });
      assert.equal(page.items.length, 1);
      assert.notEqual(page.nextCursor, null, 'a full page has a cursor');
    });

    it('cursors: paging visits every record once, in shard order; a cursor the store never issued is refused', async () => {
      const store = await harness.open('cursors');
      const created = Array.from({ length: 7 }, (_, i) => record(`user${i}`));
      for (const r of created) assert.equal(await store.create(r), true);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.list({ limit: 3, ...(cursor !== undefined && { cursor }) });
        assert.ok(page.items.length <= 3);
        seen.push(...page.items.map((r) => r.jti));
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      assert.deepEqual([...seen].sort(), created.map((r) => r.jti).sort());
      assert.equal(new Set(seen).size, seen.length, 'no record twice');
      const shards = seen.map((jti) => shardOf(jti, store.shards));
      assert.deepEqual(
        shards,
        [...shards].sort((x, y) => x - y),
        'shard by shard',
      );
      assert.equal((await store.list({ limit: 100, cursor: '' })).items.length, 7, "'' is the first page");
      for (const bad of ['nonsense', ':x', '-1:x', '1.5:x', '+1:x']) {
        await assert.rejects(store.list({ limit: 10, cursor: bad }), isBadRequest('request.invalid'), bad);
      }
      for (const end of [`${SHARDS}:x`, '99999999999999999999999:x']) {
        assert.deepEqual(await store.list({ limit: 10, cursor: end }), { items: [], nextCursor: null }, `${end}: an empty last page`);
      }
    });

    it('list filters by subject and kind', async () => {
      const store = await harness.open('filters');
      const wanted = [record('dave', 'api'), record('dave', 'api')];
      for (const r of [...wanted, record('dave', 'session'), record('erin', 'api')]) await store.create(r);
      const page = await store.list({ limit: 100, subject: 'dave', kind: 'api' });
      assert.deepEqual(page.items.map((r) => r.jti).sort(), wanted.map((r) => r.jti).sort());
      assert.equal(page.nextCursor, null);
    });

    it('markers: raised by one (at least the floor), copied never backwards, listed; bad input refused', async () => {
      const store = await harness.open('markers');
      assert.equal(await store.raiseMarker('frank'), 1);
      assert.equal(await store.raiseMarker('frank'), 2);
      assert.equal(await store.raiseMarker('frank', 10), 10);
      assert.equal(await store.copyMarker('frank', 5), 10, 'never backwards');
      assert.equal(await store.copyMarker('grace', 7), 7);
      const markers = await store.listMarkers();
      assert.equal(markers.get('frank')?.gen, 10);
      assert.equal(markers.get('grace')?.gen, 7);
      await assert.rejects(store.raiseMarker(''), isBadRequest());
      await assert.rejects(store.raiseMarker('frank', -1), isBadRequest());
      await assert.rejects(store.raiseMarker('frank', 1.5), isBadRequest());
      await assert.rejects(store.copyMarker('frank', Number.NaN), isBadRequest());
      assert.equal((await store.listMarkers()).get('frank')?.gen, 10, 'refusals changed nothing');
    });

    it('members: published ones are listed; an entry that is not a member record is skipped, not thrown', async () => {
      const a = await harness.open('members', 'n1');
      const b = await harness.open('members', 'n2');
      await a.publishMember(member('n1'));
      await b.publishMember(member('n2'));
      await harness.writeBadMember('members', 'broken');
      const listed = await a.listMembers();
      assert.deepEqual(listed.map((m) => m.nodeId).sort(), ['n1', 'n2']);
    });

    it('the reaper: of two stores of one cluster, exactly one reaps', async () => {
      const a = await harness.open('reaper', 'n1');
      const b = await harness.open('reaper', 'n2');
      const first = await a.isReaper();
      const second = await b.isReaper();
      assert.equal(first, true);
      assert.equal(second, false);
      assert.equal(await a.isReaper(), true, 'keeps it');
    });
  });
}
