import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess } from './support/sidecar-process.js';
import { zooKeeperSidecarProps } from './support/zk-sidecars.js';
import { assertMirrorsEqualTree as assertMirrorsEqualTreeOf } from './support/zk-tree.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Store outages and sidecar faults on a real 3-node ensemble: nothing issued
 * or revoked is lost, and every mirror converges on the tree.
 */
const CHROOT = '/faults';
let zk: ZooKeeperCluster;
let dir: string;
let props: Record<string, string | number | boolean>;
const nodes: SidecarProcess[] = [];

before(async () => {
  zk = await startZooKeeper({ servers: 3 });
  ({ dir, props } = await zooKeeperSidecarProps(zk.connectString, CHROOT, {
    prefix: 'tokensync-zk-faults-',
    sessionTimeout: '3s',
    shards: 32,
  }));
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await zk?.close();
});

async function sidecar(nodeId: string, extra: Record<string, string | number | boolean> = {}): Promise<SidecarProcess> {
  const node = await new SidecarProcess({
    nodeId,
    props: { ...props, 'app.data.dir': join(dir, nodeId), ...extra },
    dir: join(dir, `${nodeId}-conf`),
  }).start();
  nodes.push(node);
  return node;
}

const assertMirrorsEqualTree = (list: SidecarProcess[]) => assertMirrorsEqualTreeOf(zk.connectString, CHROOT, list);

async function stopEnsemble() {
  for (let i = 0; i < zk.servers; i++) await zk.stop(i);
}

async function startEnsemble() {
  for (let i = 0; i < zk.servers; i++) await zk.start(i);
  await zk.waitForQuorum();
}

test('whole ensemble down: issue and revoke on A are journaled; ensemble back: B sees both', async () => {
  const a = await sidecar('a');
  const b = await sidecar('b');
  const doomed = await a.api.issue({ subject: 'doomed' });
  await stopEnsemble();
  await waitFor(async () => (await a.api.get('/healthz')).body.store !== 'connected', 'A notices the outage', 10_000, 50);
  const issued = await a.api.issue({ subject: 'during-outage' });
  assert.equal(issued.status, 201, issued.text);
  assert.equal(issued.body.replicated, false);
  assert.equal((await a.api.validate(issued.body.token)).status, 200, 'valid on A at once from its mirror');
  const revoked = await a.api.revoke(doomed.body.jti);
  assert.equal(revoked.status, 204);
  assert.equal((await a.api.validate(doomed.body.token)).body.reason, 'revoked');
  // validation keeps working from the mirror (serve-cached), consuming needs the store
  assert.equal((await b.api.validate(doomed.body.token)).status, 200, 'B still holds the old state: serve-cached');
  const otp = await a.api.issue({ subject: 'otp', kind: 'onetime' });
  assert.equal((await a.api.consume(otp.body.token)).status, 503);
  await startEnsemble();
  await waitFor(async () => (await b.api.validate(issued.body.token)).status === 200, 'B sees the issue', 30_000, 100);
  await waitFor(async () => (await b.api.validate(doomed.body.token)).status === 401, 'B sees the revocation', 30_000, 100);
  await waitFor(async () => (await a.api.get('/healthz')).body.journalPending === 0, 'journal drained', 30_000, 100);
  await assertMirrorsEqualTree([a, b]);
  await a.stop();
  await b.stop();
});

test('ensemble down, A journals then dies (kill -9), ensemble back, A restarted: B sees both', async () => {
  const a = await sidecar('a2');
  const b = await sidecar('b2');
  const doomed = await a.api.issue({ subject: 'doomed2' });
  await stopEnsemble();
  await waitFor(async () => (await a.api.get('/healthz')).body.store !== 'connected', 'A notices the outage', 10_000, 50);
  const issued = await a.api.issue({ subject: 'kept-through-crash' });
  assert.equal(issued.body.replicated, false);
  assert.equal((await a.api.revoke(doomed.body.jti)).status, 204);
  await a.kill();
  await startEnsemble();
  await a.start(); // same AppData: the journal is replayed
  await waitFor(async () => (await b.api.validate(issued.body.token)).status === 200, 'B sees the journaled issue', 30_000, 100);
  await waitFor(async () => (await b.api.validate(doomed.body.token)).status === 401, 'B sees the journaled revocation', 30_000, 100);
  assert.equal((await a.api.validate(issued.body.token)).status, 200);
  await assertMirrorsEqualTree([a, b]);
  await a.stop();
  await b.stop();
});

test('a sidecar frozen past its session timeout notices lost, resyncs, and its mirror equals the tree', async () => {
  const a = await sidecar('frozen');
  const b = await sidecar('awake');
  const before1 = await b.api.issue({ subject: 'before' });
  a.pause();
  // while A sleeps, B issues and revokes
  const during = await b.api.issue({ subject: 'during' });
  assert.equal((await b.api.revoke(before1.body.jti)).status, 204);
  await new Promise((r) => setTimeout(r, 5000)); // past the 3 s session timeout: the point of the test is elapsed time
  a.resume();
  await waitFor(() => a.logs.includes('-> lost') || a.logs.includes('expired'), 'A reports the lost session', 20_000, 100);
  await waitFor(async () => (await a.api.validate(during.body.token)).status === 200, 'A sees what was issued while it slept', 20_000, 100);
  assert.equal((await a.api.validate(before1.body.token)).body.reason, 'revoked');
  await assertMirrorsEqualTree([a, b]);
  await a.stop();
  await b.stop();
});

test('consistency: random issues, revocations and expiries from three sidecars while servers die and return', async (t) => {
  const sidecars = [await sidecar('c1'), await sidecar('c2'), await sidecar('c3')];
  const live: Array<{ jti: string; token: string }> = [];
  let acked = 0;
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let stop = false;
  const traffic = (async () => {
    while (!stop) {
      const node = sidecars[rand(3)]!;
      const op = rand(10);
      if (op < 6 || live.length === 0) {
        const res = await node.api.issue({ subject: `u${rand(50)}`, ttl: op === 0 ? 1 : 3600 });
        if (res.status === 201) {
          live.push({ jti: res.body.jti, token: res.body.token });
          acked++;
        }
      } else {
        const victim = live.splice(rand(live.length), 1)[0]!;
        const res = await node.api.revoke(victim.jti);
        if (res.status === 204 || res.status === 404) acked++;
      }
    }
  })();
  for (let round = 0; round < 3; round++) {
    const victim = rand(3);
    await zk.kill(victim);
    await new Promise((r) => setTimeout(r, 800));
    await zk.start(victim);
    await zk.waitForQuorum();
  }
  // enough operations to judge, however slowly the elections let them through (CI once had 26 by now)
  await waitFor(async () => acked > 50, 'more than 50 acknowledged operations', 30_000, 50);
  stop = true;
  await traffic;
  t.diagnostic(`acknowledged operations: ${acked}`);
  await Promise.all(
    sidecars.map((n) => waitFor(async () => (await n.api.get('/healthz')).body.journalPending === 0, 'journal drained', 30_000, 100)),
  );
  await assertMirrorsEqualTree(sidecars);
  // nothing acknowledged is lost: every token still believed live validates everywhere (the 1 s ones may have expired)
  for (const t of live.slice(-50)) {
    const v = await sidecars[rand(3)]!.api.validate(t.token);
    assert.ok(v.status === 200 || v.body.reason === 'expired', `${t.jti}: ${v.text}`);
  }
});
