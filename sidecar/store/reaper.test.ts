import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { Reaper } from './reaper.js';
import { DirectoryStore } from './directory/directory-store.js';
import { Mirror } from '../mirror/mirror.js';
import { ManualClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import { newJti, refOf, type RecordRef, type TokenRecord } from './token-record.js';
import type { DirectoryStoreOptions } from './directory/directory-store.js';
import { tempDir } from '../util/test-temp-dirs.js';

const H = 3600_000;

/** A real DIRECTORY store that counts what reaches it: record reads and shard listings. */
class CountingStore extends DirectoryStore {
  reads = 0;
  listings = 0;
  constructor(options: DirectoryStoreOptions) {
    super(options);
  }
  override read(ref: RecordRef) {
    this.reads++;
    return super.read(ref);
  }
  override exists(ref: RecordRef) {
    this.reads++;
    return super.exists(ref);
  }
  override listShard(shard: number, options?: { fresh?: boolean }) {
    this.listings++;
    return super.listShard(shard, options);
  }
}

async function setup(layout: 1 | 2 = 1) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const root = await tempDir('ts-reaper-');
  // layout 1: the folder as a tokensync before layout 2 left it
  if (layout === 1) await writeFile(join(root, 'meta.json'), JSON.stringify({ layoutVersion: 1, shards: 8 }));
  const store = new CountingStore({ root, shards: 8, rescanIntervalMs: 60_000, logger: silentLogger(), nodeId: 'r', clock });
  await store.start();
  assert.equal(store.recordLayout, layout);
  const mirror = new Mirror(() => store.shards, { clock });
  const reaper = new Reaper(store, mirror, { intervalMs: 60_000, ratePerSecond: 10_000, clockSkewMs: 30_000 }, clock, silentLogger());
  const make = async (
    subject: string,
    kind: TokenRecord['kind'],
    issuedAt: number,
    expiresAt: number | null,
    gen: number | undefined = 0,
  ) => {
    const r: TokenRecord = { jti: newJti(kind), subject, kind, issuedAt, expiresAt, node: 'r', ...(gen === undefined ? {} : { gen }) };
    await store.create(r);
    mirror.add(refOf(r, layout));
    return refOf(r, layout);
  };
  return { clock, store, mirror, reaper, make };
}

test('layout 1: expired records go (after the skew), live ones and api tokens stay', async () => {
  const { clock, store, reaper, make, mirror } = await setup();
  const now = clock.now();
  const expired = await make('a', 'session', now - 10 * H, now - H);
  const withinSkew = await make('b', 'onetime', now - H, now - 10_000);
  const live = await make('c', 'session', now, now + H);
  const api = await make('d', 'api', now - 1000 * H, null);
  const stats = await reaper.sweep();
  assert.equal(stats.expired, 1);
  assert.equal(await store.exists(expired), false);
  assert.equal(mirror.lookup(expired.jti).presence, 'removed');
  for (const r of [withinSkew, live, api]) assert.equal(await store.exists(r), true, r.subject);
  assert.equal(stats.read, 3, 'api records without a marker are not even read');
  await store.close();
});

test('layout 1: records behind a logout generation go, whatever their times say; newer ones stay; the marker stays', async () => {
  const { clock, store, reaper, make } = await setup();
  const now = clock.now();
  // issued by a node whose clock ran a day ahead: times cannot order it against the logout, generations do
  const old = await make('eve', 'api', now + 24 * H, null, 0);
  assert.equal(await store.raiseMarker('eve'), 1);
  const fresh = await make('eve', 'session', now - 24 * H, now + 5 * H, 1);
  const legacy = await make('eve', 'session', now + 24 * H, now + 5 * H, undefined); // from before generations
  const stats = await reaper.sweep();
  assert.equal(stats.loggedOut, 2);
  assert.equal(await store.exists(old), false);
  assert.equal(await store.exists(legacy), false);
  assert.equal(await store.exists(fresh), true);
  clock.advance(25 * H);
  await reaper.sweep();
  assert.deepEqual((await store.listMarkers()).get('eve'), { gen: 1 }, 'a generation never goes back to 0');
  await store.close();
});

test('only the elected reaper sweeps on a tick', async () => {
  const a = await setup();
  const other = new DirectoryStore({
    root: a.store.describe().location,
    shards: 8,
    rescanIntervalMs: 60_000,
    logger: silentLogger(),
    nodeId: 'other',
    clock: a.clock,
  });
  await other.start();
  assert.equal(await other.isReaper(), true); // takes the lease first
  assert.equal(await a.reaper.tick(), undefined);
  await other.close(); // releases it
  assert.ok(await a.reaper.tick());
  await a.store.close();
});

test('layout 2: the pass deletes expired and logged-out records from their names, reading none', async () => {
  const { clock, store, reaper, make } = await setup(2);
  const now = clock.now();
  const expired = await make('a', 'session', now - 10 * H, now - H);
  const withinSkew = await make('b', 'onetime', now - H, now - 10_000);
  const live = await make('c', 'session', now, now + H);
  const api = await make('d', 'api', now - 1000 * H, null);
  const old = await make('eve', 'api', now + 24 * H, null, 0);
  assert.equal(await store.raiseMarker('eve'), 1);
  const fresh = await make('eve', 'session', now - 24 * H, now + 5 * H, 1);
  store.reads = 0;
  const stats = await reaper.sweep();
  assert.deepEqual([stats.expired, stats.loggedOut, stats.read, store.reads], [1, 1, 0, 0]);
  for (const r of [expired, old]) assert.equal(await store.exists(r), false, r.subject);
  for (const r of [withinSkew, live, api, fresh]) assert.equal(await store.exists(r), true, r.subject);
  await store.close();
});

test('layout 2: once elected and past its one pass, the reaper deletes what the mirror holds as expired or logged out, with no listing and no read', async () => {
  const { clock, store, reaper, make, mirror } = await setup(2);
  const now = clock.now();
  const early = await make('a', 'session', now - H, now - H);
  assert.equal((await reaper.tick())?.expired, 1, 'the pass after the election');
  assert.equal(await store.exists(early), false);
  const soon = await make('b', 'session', now, now + H);
  const later = await make('c', 'session', now, now + 5 * H);
  const gone = await make('eve', 'session', now, now + 5 * H, 0);
  reaper.start(); // follows the mirror's events (its timer never fires in this test: a one-minute interval)
  assert.equal(await store.raiseMarker('eve'), 1);
  mirror.applyMarker('eve', { gen: 1 });
  clock.advance(2 * H);
  mirror.sweep(); // what the mirror's own sweep timer does: it reports the expired record
  store.reads = 0;
  store.listings = 0;
  const stats = await reaper.tick();
  assert.deepEqual([stats?.expired, stats?.loggedOut, store.reads, store.listings], [1, 1, 0, 0]);
  assert.equal(mirror.lookup(soon.jti).presence, 'removed');
  store.reads = 0;
  for (const r of [soon, gone]) assert.equal(await store.exists(r), false, r.subject);
  assert.equal(await store.exists(later), true);
  await reaper.close();
  await store.close();
});
