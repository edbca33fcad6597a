import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mirror } from '../mirror/mirror.js';
import { DirectoryStore } from '../store/directory/directory-store.js';
import { TokenCodec } from '../tokens/token-codec.js';
import { TEST_SECRET_A, testKeys } from '../tokens/test-keys.js';
import { systemClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import { waitFor } from '../util/wait-for.js';
import { Membership, type MembershipDeps } from './membership.js';
import { PropagationStats } from '../metrics/propagation-stats.js';

/** Two members sharing one DIRECTORY folder: reports, logout acknowledgements, and their absence. */

const roots: string[] = [];
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.splice(0)) await close();
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

async function member(root: string, nodeId: string, propagation?: MembershipDeps['propagation']) {
  const store = new DirectoryStore({ root, shards: 4, rescanIntervalMs: 50, logger: silentLogger(), nodeId, clock: systemClock });
  const mirror = new Mirror(() => store.shards, { clock: systemClock });
  mirror.attach(store);
  await store.start({ watch: true });
  const codec = new TokenCodec(testKeys(TEST_SECRET_A));
  const membership = new Membership({
    nodeId,
    store,
    mirror,
    codec,
    clock: systemClock,
    logger: silentLogger(),
    inProcess: true,
    ...(propagation && { propagation }),
  });
  closers.push(async () => {
    await membership.close();
    mirror.detach();
    await store.close();
  });
  return { store, mirror, membership };
}

async function twoMembers() {
  const root = await mkdtemp(join(tmpdir(), 'ts-membership-'));
  roots.push(root);
  const a = await member(root, 'a');
  const b = await member(root, 'b');
  a.membership.start();
  b.membership.start();
  await waitFor(async () => (await a.store.listMembers()).length === 2, 'both members listed');
  return { a, b };
}

test('a member reports itself: node id, in-process address, keys and the markers it applied', async () => {
  const { a } = await twoMembers();
  a.mirror.applyMarker('alice', { gen: 3 });
  const report = a.membership.report();
  assert.equal(report.nodeId, 'a');
  assert.equal(report.address, 'in-process');
  assert.equal(report.markers?.alice, 3);
  assert.deepEqual(report.acceptedKids, [report.signingKid]);
});

test('a logout is acknowledged once the other member reports the marker applied', async () => {
  const { a, b } = await twoMembers();
  const waiting = b.membership.awaitMarker('bob', 1);
  a.mirror.applyMarker('bob', { gen: 1 }); // a reports at once: a logout is waiting for it
  assert.deepEqual(await waiting, { acknowledged: ['a', 'b'], pending: [] });
});

test('a member that never applies the marker is named pending when the wait runs out', async () => {
  const { b } = await twoMembers();
  assert.deepEqual(await b.membership.awaitMarker('carol', 5), { acknowledged: ['b'], pending: ['a'] });
});

test('DIRECTORY: each member times its probes to the other (issue and revoke); probes are never listed or counted', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ts-membership-'));
  roots.push(root);
  const stats = { a: new PropagationStats(systemClock, { intervalMs: 200 }), b: new PropagationStats(systemClock, { intervalMs: 200 }) };
  const feed = (s: PropagationStats): MembershipDeps['propagation'] => ({
    measured: (op, m, ms) => s.measured(op, m, ms),
    missed: (op, m) => s.missed(op, m),
    intervalMs: 200,
  });
  const a = await member(root, 'a', feed(stats.a));
  const b = await member(root, 'b', feed(stats.b));
  a.membership.start();
  b.membership.start();
  const listed: string[] = [];
  await waitFor(async () => {
    for (const r of (await a.store.list({ limit: 100 })).items) listed.push(r.jti);
    const [x, y] = [stats.a.snapshot(), stats.b.snapshot()];
    return [x.issue, x.revoke].every((o) => o.members.b?.lastMs != null) && [y.issue, y.revoke].every((o) => o.members.a?.lastMs != null);
  }, 'a and b each have issue and revoke figures for the other');
  assert.deepEqual(listed, [], 'the store lists no probe record');
  assert.equal(a.mirror.size + b.mirror.size, 0, 'and no mirror counts one');
  assert.deepEqual(Object.keys(stats.a.snapshot().issue.members), ['b'], 'a node does not time itself');
});
