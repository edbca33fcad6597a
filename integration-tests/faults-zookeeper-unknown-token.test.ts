import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess } from './support/sidecar-process.js';
import { zooKeeperSidecarProps } from './support/zk-sidecars.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * A validly signed token the mirror does not know costs one store read. When that read cannot be made (the one
 * server this sidecar talks to was killed and is restarting), the token's absence is not established: the answer
 * is 503 "retry", never 401 "no such token record" for a live token, and never 200 for a revoked one. Once the
 * server is back (same session), the same tokens get their true answers.
 *
 * B talks to one server only, so its outage outlasts the short wait a read makes for a reconnect; A talks to the
 * other two, which keep a quorum.
 */
const CHROOT = '/faults-unknown-token';
let zk: ZooKeeperCluster;
let dir: string;
let a: SidecarProcess;
let b: SidecarProcess;
let bServer: number;

before(async () => {
  zk = await startZooKeeper({ servers: 3 });
  const leader = await zk.waitForQuorum();
  bServer = leader === 0 ? 1 : 0; // a follower: with it down, the other two keep a quorum
  const others = [0, 1, 2].filter((i) => i !== bServer).map((i) => zk.getServerConnectString(i));
  let props: Record<string, string | number | boolean>;
  ({ dir, props } = await zooKeeperSidecarProps(others.join(','), CHROOT, { prefix: 'tokensync-unknown-token-', shards: 16 }));
  a = await new SidecarProcess({ nodeId: 'a', props: { ...props, 'app.data.dir': join(dir, 'a') }, dir: join(dir, 'a-conf') }).start();
  b = await new SidecarProcess({
    nodeId: 'b',
    props: {
      ...props,
      'app.data.dir': join(dir, 'b'),
      'cluster.store.zookeeper.connect': `${zk.getServerConnectString(bServer)}${CHROOT}`,
      // outlasts the restart: B comes back on the same session
      'cluster.store.zookeeper.session.timeout': '50s',
      // B's resync after a reconnect comes too late to matter: what B answers before it is what is tested
      'cluster.store.zookeeper.resync.jitter': '10m',
    },
    dir: join(dir, 'b-conf'),
  }).start();
});

after(async () => {
  await Promise.all([a, b].filter((n) => n !== undefined).map((n) => n.stop()));
  await zk?.close();
});

const storeState = async (node: SidecarProcess): Promise<string> => (await node.api.get('/healthz')).body.store as string;

test("B's only server restarting: a token B never saw is 503 (retry), not refused as unknown nor let through; then its true answer", async () => {
  const known = await a.api.issue({ subject: 'known' });
  assert.equal(known.status, 201, known.text);
  await waitFor(async () => (await b.api.validate(known.body.token)).status === 200, 'B knows the first token', 10_000, 20);

  await zk.kill(bServer);
  await waitFor(async () => (await storeState(b)) === 'suspended', 'B notices its server is gone', 20_000, 50);

  const fresh = await a.api.issue({ subject: 'fresh' });
  assert.equal(fresh.status, 201, fresh.text);
  assert.equal(fresh.body.replicated, true, 'A reaches the quorum of the other two');
  const revoked = await a.api.issue({ subject: 'revoked' });
  assert.equal((await a.api.revoke(revoked.body.jti)).status, 204);

  // B cannot ask the store (after its short wait for a reconnect): it must say so
  const freshOnB = await b.api.validate(fresh.body.token);
  assert.equal(freshOnB.status, 503, `a live token B cannot look up: ${freshOnB.status} ${freshOnB.text}`);
  assert.equal(freshOnB.body.error, 'store.unavailable');
  const forwardAuth = await b.api.auth({ cookie: `tokensync=${fresh.body.token}` });
  assert.equal(forwardAuth.status, 503, `forward-auth: ${forwardAuth.status} ${forwardAuth.text}`);
  const revokedOnB = await b.api.validate(revoked.body.token);
  assert.equal(revokedOnB.status, 503, `a revoked token B never saw is never let through: ${revokedOnB.status} ${revokedOnB.text}`);
  // what B holds is served from its mirror meanwhile (serve-cached)
  assert.equal((await b.api.validate(known.body.token)).status, 200);
  assert.equal(await storeState(b), 'suspended', 'B was cut off throughout (else the answers above prove nothing)');

  await zk.start(bServer);
  await waitFor(
    async () => ['connected', 'reconnected'].includes(await storeState(b)),
    'B reconnects to its restarted server',
    60_000,
    100,
  );
  assert.doesNotMatch(b.logs, /-> lost/, 'B kept its session across the restart');
  const freshAfter = await b.api.validate(fresh.body.token);
  assert.equal(freshAfter.status, 200, `the live token once B can ask: ${freshAfter.text}`);
  const revokedAfter = await b.api.validate(revoked.body.token);
  assert.equal(revokedAfter.status, 401, revokedAfter.text);
  assert.equal(revokedAfter.body.reason, 'revoked');
});

test("a token B holds, revoked on A while B's server was down: refused by B as soon as B is back on its session, not after B's resync", async () => {
  const held = await a.api.issue({ subject: 'held' });
  assert.equal(held.status, 201, held.text);
  const kept = await a.api.issue({ subject: 'kept' });
  await waitFor(
    async () => (await b.api.validate(held.body.token)).status === 200 && (await b.api.validate(kept.body.token)).status === 200,
    'B holds both tokens',
    10_000,
    20,
  );

  await zk.kill(bServer);
  await waitFor(async () => (await storeState(b)) === 'suspended', 'B notices its server is gone', 20_000, 50);
  assert.equal((await a.api.revoke(held.body.jti)).status, 204);
  // while cut off B serves what it holds (serve-cached): it cannot know of the revocation yet
  assert.equal((await b.api.validate(held.body.token)).status, 200);

  await zk.start(bServer);
  await waitFor(async () => ['connected', 'reconnected'].includes(await storeState(b)), 'B reconnects', 60_000, 20);
  assert.doesNotMatch(b.logs, /-> lost/, 'B kept its session (the persistent watch lost its events, the session did not end)');
  const revokedOnB = await b.api.validate(held.body.token);
  assert.equal(revokedOnB.status, 401, `revoked while B was cut off: ${revokedOnB.status} ${revokedOnB.text}`);
  assert.equal(revokedOnB.body.reason, 'revoked');
  const cluster = (await b.api.cluster()).body;
  assert.equal(cluster.mirror.trusted, false, `B's other shards wait to be listed again: ${JSON.stringify(cluster.mirror)}`);
  assert.equal((await b.api.validate(kept.body.token)).status, 200, 'a live token B holds stays valid');
  assert.match(b.logs, /-> reconnected/);
});
