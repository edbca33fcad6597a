import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { DirectoryStore } from './directory-store.js';
import { Mirror } from '../../mirror/mirror.js';
import { silentLogger } from '../../util/logger.js';
import { newJti, parseRecordName, recordName, shardName, shardOf, type TokenRecord } from '../token-record.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import { waitFor } from '../../util/wait-for.js';
import { tempDir } from '../../util/test-temp-dirs.js';

async function newRoot() {
  return tempDir('ts-dir-');
}

function store(root: string, nodeId = 'n1', shards = 16) {
  return new DirectoryStore({ root, shards, rescanIntervalMs: 60_000, logger: silentLogger(), nodeId });
}

function record(subject: string, kind: TokenRecord['kind'] = 'session'): TokenRecord {
  return { jti: newJti(kind), subject, kind, issuedAt: Date.now(), expiresAt: Date.now() + 60_000, node: 'n1' };
}

test('create, exists, read, delete; create of an existing name is refused', async () => {
  const s = store(await newRoot());
  await s.start();
  const r = record('alice');
  assert.equal(await s.create(r), true);
  assert.equal(await s.create(r), false);
  assert.equal(await s.exists(r), true);
  assert.deepEqual(await s.read(r), r);
  assert.equal(await s.delete(r), true);
  assert.equal(await s.delete(r), false);
  assert.equal(await s.exists(r), false);
  await s.close();
});

test('createMany and readMany (the bulk paths of the migration) answer as create and read would, record by record', async () => {
  const s = store(await newRoot(), 'n1', 4);
  await s.start();
  const taken = record('alice');
  assert.equal(await s.create(taken), true);
  const fresh = Array.from({ length: 600 }, (_, i) => record(`user${i % 9}`)); // more than one slice of 256
  const results = await s.createMany([...fresh, taken, fresh[0]!]);
  assert.deepEqual(results, [...fresh.map(() => true), false, false]);
  for (const r of fresh.slice(0, 20)) assert.deepEqual(await s.read(r), r);
  assert.deepEqual(await readdir(join(s.describe().location, 'tmp')), [], 'no temp file left behind');

  const gone = record('bob');
  const garbled = record('carol');
  await s.create(garbled);
  await writeFile(join(s.describe().location, 'tokens', shardName(shardOf(garbled.jti, 4), 4), recordName(garbled)), 'not json');
  const read = await s.readMany([...fresh, gone, garbled, taken]);
  assert.deepEqual(read, [...fresh, undefined, undefined, taken]);
  await s.close();
});

test('the first store lays out the shard count; a later one with another count adopts it', async () => {
  const root = await newRoot();
  const a = store(root, 'a', 16);
  await a.start();
  const b = store(root, 'b', 64);
  await b.start();
  assert.equal(b.shards, 16);
  await Promise.all([a.close(), b.close()]);
});

test('consume: of 20 racers on two store instances exactly one wins', async () => {
  const root = await newRoot();
  const a = store(root, 'a');
  const b = store(root, 'b');
  await Promise.all([a.start(), b.start()]);
  for (let round = 0; round < 20; round++) {
    const r = record('alice', 'onetime');
    await a.create(r);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).consume(r)));
    assert.equal(results.filter(Boolean).length, 1, `round ${round}`);
  }
  await Promise.all([a.close(), b.close()]);
});

test('a second instance sharing the folder sees creates and deletes through its mirror', async () => {
  const root = await newRoot();
  const writer = store(root, 'w');
  await writer.start();
  const reader = store(root, 'r');
  const mirror = new Mirror(() => reader.shards);
  mirror.attach(reader);
  const initialized = once(mirror, 'initialized');
  await reader.start({ watch: true });
  await initialized;
  const r = record('bob');
  await writer.create(r);
  await waitFor(() => mirror.lookup(r.jti).presence === 'present', 'create seen');
  await writer.delete(r);
  await waitFor(() => mirror.lookup(r.jti).presence === 'removed', 'delete seen');
  assert.equal(await writer.raiseMarker('bob'), 1);
  await waitFor(() => mirror.gen('bob') === 1, 'marker seen');
  await Promise.all([writer.close(), reader.close()]);
});

test('logout generations: one exclusive file each, raised by one, never backwards; lower ones pruned once the highest stood a rescan', async () => {
  const root = await newRoot();
  const s = store(root);
  await s.start();
  assert.equal(await s.raiseMarker('carol'), 1);
  assert.equal(await s.raiseMarker('carol'), 2);
  assert.equal(await s.raiseMarker('carol', 5), 5);
  assert.equal(await s.copyMarker('carol', 3), 5);
  assert.deepEqual((await s.listMarkers()).get('carol'), { gen: 5 });
  assert.deepEqual((await readdir(join(root, 'subjects'))).sort(), ['Y2Fyb2w~1', 'Y2Fyb2w~2', 'Y2Fyb2w~5']);
  const watching = new DirectoryStore({ root, shards: 16, rescanIntervalMs: 20, logger: silentLogger(), nodeId: 'w' });
  await watching.start({ watch: true });
  await waitFor(async () => (await readdir(join(root, 'subjects'))).join() === 'Y2Fyb2w~5', 'lower generations pruned');
  assert.deepEqual((await s.listMarkers()).get('carol'), { gen: 5 });
  await Promise.all([s.close(), watching.close()]);
});

test('concurrent logouts from several processes sharing the folder: the highest generation wins, none is lost', async () => {
  const root = await newRoot();
  const stores = [store(root, 'a'), store(root, 'b'), store(root, 'c')];
  await Promise.all(stores.map((s) => s.start()));
  const results = await Promise.all(stores.flatMap((s) => [s.raiseMarker('dave'), s.raiseMarker('dave')]));
  const stored = (await stores[0]!.listMarkers()).get('dave')!.gen;
  assert.ok(
    results.every((g) => g >= 1 && g <= stored),
    `${results} vs ${stored}`,
  );
  // EEXIST on a generation counts as done (a concurrent logout made it after this one began)
  assert.equal(await stores[1]!.raiseMarker('dave'), stored + 1);
  await Promise.all(stores.map((s) => s.close()));
});

test('a legacy {revokedBefore} marker file is generation 1; raising it replaces it', async () => {
  const root = await newRoot();
  const s = store(root);
  await s.start();
  await writeFile(join(root, 'subjects', 'ZXZl'), JSON.stringify({ subject: 'eve', revokedBefore: 4321 }));
  assert.deepEqual((await s.listMarkers()).get('eve'), { gen: 1, legacyBefore: 4321 });
  assert.equal(await s.raiseMarker('eve'), 2);
  assert.deepEqual((await s.listMarkers()).get('eve'), { gen: 2 });
  assert.deepEqual((await readdir(join(root, 'subjects'))).sort(), ['ZXZl', 'ZXZl~2'], 'the legacy file goes with the next prune');
  await s.close();
});

test('a record carrying a logout generation is named with it and found by that name', async () => {
  const s = store(await newRoot());
  await s.start();
  const r = { ...record('fay'), gen: 3 };
  assert.equal(await s.create(r), true);
  assert.deepEqual(await s.listShard(shardOf(r.jti, 16)), [recordName(r, 2)]);
  assert.equal(parseRecordName(recordName(r, 2))?.gen, 3);
  assert.equal(await s.exists(r), true);
  assert.equal(await s.exists({ jti: r.jti, subject: 'fay' }), false, 'the name without its generation is another name');
  assert.equal(await s.delete(r), true);
  await s.close();
});

test('list pages through shards with a cursor and filters by subject and kind', async () => {
  const s = store(await newRoot());
  await s.start();
  const made: TokenRecord[] = [];
  for (let i = 0; i < 25; i++) made.push(record(i % 5 === 0 ? 'dave' : `user${i}`, i % 2 ? 'api' : 'session'));
  for (const r of made) await s.create(r);
  const seen = new Set<string>();
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await s.list({ limit: 7, cursor });
    assert.ok(page.items.length <= 7);
    for (const item of page.items) seen.add(item.jti);
    cursor = page.nextCursor ?? undefined;
    pages++;
  } while (cursor);
  assert.equal(seen.size, 25);
  assert.ok(pages >= 4);
  const dave = await s.list({ subject: 'dave', limit: 100 });
  assert.equal(dave.items.length, 5);
  const api = await s.list({ kind: 'api', limit: 100 });
  assert.equal(api.items.length, made.filter((r) => r.kind === 'api').length);
  await s.close();
});

test('members and the reaper lease', async () => {
  const root = await newRoot();
  const a = store(root, 'a');
  const b = store(root, 'b');
  await Promise.all([a.start(), b.start()]);
  const info = {
    nodeId: 'a',
    address: '127.0.0.1:1',
    version: '0',
    pid: 1,
    startedAt: Date.now(),
    updatedAt: Date.now(),
    mirrorSize: 0,
    mirrorLagMs: 0,
    state: 'connected' as const,
    storeType: 'DIRECTORY',
  };
  await a.publishMember(info);
  assert.deepEqual(
    (await b.listMembers()).map((m) => m.nodeId),
    ['a'],
  );
  assert.equal(await a.isReaper(), true);
  assert.equal(await b.isReaper(), false);
  await a.close();
  assert.equal(await b.isReaper(), true);
  await b.close();
});

test('a member whose clock runs behind by up to the skew stays listed (its logout acknowledgement is awaited); a silent one goes', async () => {
  const root = await newRoot();
  const a = store(root, 'a');
  await a.start();
  const now = Date.now();
  const beat = {
    address: '127.0.0.1:1',
    version: '0',
    pid: 1,
    startedAt: now,
    mirrorSize: 0,
    mirrorLagMs: 0,
    state: 'connected' as const,
    storeType: 'DIRECTORY',
  };
  await a.publishMember({ ...beat, nodeId: 'behind', updatedAt: now - 30_000 - 5_000 }); // 30 s behind, last beat 5 s ago
  await a.publishMember({ ...beat, nodeId: 'ahead', updatedAt: now + 30_000 });
  await a.publishMember({ ...beat, nodeId: 'dead', updatedAt: now - 30_000 - 30_000 - 1_000 });
  assert.deepEqual((await a.listMembers()).map((m) => m.nodeId).sort(), ['ahead', 'behind']);
  await a.close();
});

test(
  'a folder that cannot be written: StoreUnavailableError and state suspended',
  { skip: process.getuid?.() === 0 ? 'root ignores permissions' : false },
  async () => {
    const root = await newRoot();
    const s = store(root);
    await s.start();
    await chmod(join(root, 'tmp'), 0o500);
    await assert.rejects(s.create(record('eve')), StoreUnavailableError);
    assert.equal(s.state, 'suspended');
    await chmod(join(root, 'tmp'), 0o700);
    await s.close();
  },
);
