import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Reaper } from './reaper.js';
import { DirectoryStore } from './directory/directory-store.js';
import { Mirror } from '../mirror/mirror.js';
import { ManualClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import { newJti, type TokenRecord } from './token-record.js';
import { tempDir } from '../util/test-temp-dirs.js';

const H = 3600_000;

async function setup() {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const store = new DirectoryStore({ root: await tempDir('ts-reaper-'), shards: 8, rescanIntervalMs: 60_000, logger: silentLogger(), nodeId: 'r', clock });
  await store.start();
  const mirror = new Mirror(() => store.shards, { clock });
  const reaper = new Reaper(store, mirror, { intervalMs: 60_000, ratePerSecond: 10_000, clockSkewMs: 30_000 }, clock, silentLogger());
  const make = async (subject: string, kind: TokenRecord['kind'], issuedAt: number, expiresAt: number | null, gen: number | undefined = 0) => {
    const r: TokenRecord = { jti: newJti(kind), subject, kind, issuedAt, expiresAt, node: 'r', ...(gen === undefined ? {} : { gen }) };
    await store.create(r);
    mirror.add(r);
    return r;
  };
  return { clock, store, mirror, reaper, make };
}

test('expired records go (after the skew), live ones and api tokens stay', async () => {
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

test('records behind a logout generation go, whatever their times say; newer ones stay; the marker stays', async () => {
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
  const other = new DirectoryStore({ root: a.store.describe().location, shards: 8, rescanIntervalMs: 60_000, logger: silentLogger(), nodeId: 'other', clock: a.clock });
  await other.start();
  assert.equal(await other.isReaper(), true); // takes the lease first
  assert.equal(await a.reaper.tick(), undefined);
  await other.close(); // releases it
  assert.ok(await a.reaper.tick());
  await a.store.close();
});
