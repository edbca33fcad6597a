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
import { type MemberInfo, type TokenStore, hasBulkReads } from './token-store.js';
import { type RecordRef, type TokenKind, type TokenRecord, newJti, shardOf } from './token-record.js';
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
  open(space: string, nodeId?: string): Promise<TokenStore>;
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
    open: async (space, nodeId = 'n1') => {
      const store = new DirectoryStore({ root: await rootOf(space), shards: SHARDS, rescanIntervalMs: 60_000, logger: silentLogger(), nodeId });
      stores.push(store);
      await store.start();
      return store;
    },
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
    open: async (space) => {
      const store = new ZooKeeperStore({ servers: [zk!.connectString], chroot: `/contract/${space}`, sessionTimeoutMs: 10_000, shards: SHARDS, logger: silentLogger() });
      stores.push(store);
      await store.start();
      return store;
    },
    writeBadMember: async (space, name) => {
      await raw!.create(`/contract/${space}/members/${name}`, '{not json', CreateMode.PERSISTENT);
    },
  };
}

function record(subject: string, kind: TokenKind = 'session'): TokenRecord {
  return { jti: newJti(kind), subject, kind, issuedAt: Date.now(), expiresAt: kind === 'api' ? null : Date.now() + 60_000, node: 'contract' };
}

function member(nodeId: string): MemberInfo {
  const now = Date.now();
  return { nodeId, address: '127.0.0.1:7468', version: 'test', pid: process.pid, startedAt: now, updatedAt: now, mirrorSize: 0, mirrorLagMs: 0, state: 'connected', storeType: 'test' };
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
      if (hasBulkReads(store)) assert.deepEqual(await store.readMany(BAD_REFS), BAD_REFS.map(() => undefined));
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
      assert.deepEqual(shards, [...shards].sort((x, y) => x - y), 'shard by shard');
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
