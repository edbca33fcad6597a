import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_ZOOKEEPER_IMAGE, probeContainerRuntime, startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import type { ZooKeeperContainerCluster } from './zookeeper/zookeeper-container.js';
import { SidecarProcess, startSidecars } from './support/sidecar-process.js';
import { zooKeeperSidecarProps } from './support/zk-sidecars.js';
import { assertMirrorsEqualTree as assertMirrorsEqualTreeOf } from './support/zk-tree.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * The ZooKeeper store's core scenarios on a 3-node ensemble of ZooKeeperContainer (testcontainers): issue,
 * revoke, logout, one-time tokens, and a server killed and started again through the container runtime.
 * Runs wherever a container runtime answers and the image is there, whichever provider the rest of the run uses;
 * skips, saying why, elsewhere, unless TOKENSYNC_REQUIRE_CONTAINERS=1 (CI) makes that a failure.
 */
const CHROOT = '/containers';
const required = process.env.TOKENSYNC_REQUIRE_CONTAINERS === '1';

async function unavailable(): Promise<string | undefined> {
  const runtime = await probeContainerRuntime();
  if (!runtime.reachable) return runtime.reason;
  const { getContainerRuntimeClient, ImageName } = await import('testcontainers');
  const client = await getContainerRuntimeClient();
  if (!(await client.image.exists(ImageName.fromString(DEFAULT_ZOOKEEPER_IMAGE)))) {
    return `image ${DEFAULT_ZOOKEEPER_IMAGE} is not there (docker pull it, or bash docker/offline-base-images.sh)`;
  }
  return undefined;
}

const why = await unavailable();
if (why && required) throw new Error(`TOKENSYNC_REQUIRE_CONTAINERS=1 but ZooKeeper cannot run in containers: ${why}`);
const skip = why ? `no ZooKeeper containers here: ${why}` : false;

let zk: ZooKeeperCluster;
let dir: string;
let a: SidecarProcess;
let b: SidecarProcess;

before(async () => {
  if (skip) return;
  zk = await startZooKeeper({ servers: 3, provider: 'container' });
  let props: Record<string, string | number | boolean>;
  ({ dir, props } = await zooKeeperSidecarProps(zk.connectString, CHROOT, { prefix: 'tokensync-zk-containers-' }));
  [a, b] = await startSidecars([
    { nodeId: 'a', props: { ...props, 'app.data.dir': join(dir, 'a') } },
    { nodeId: 'b', props: { ...props, 'app.data.dir': join(dir, 'b') } },
  ]);
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await zk?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const assertMirrorsEqualTree = () => assertMirrorsEqualTreeOf(zk.connectString, CHROOT, [a, b]);

test('three ZooKeeper containers on a network of their own, client ports published on 127.0.0.1 only', { skip }, async () => {
  assert.equal(zk.provider, 'container');
  assert.equal((await zk.waitForQuorum()) >= 0, true);
  const { getContainerRuntimeClient } = await import('testcontainers');
  const client = await getContainerRuntimeClient();
  const cluster = zk as ZooKeeperContainerCluster;
  const networks = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const info = await client.container.inspect(client.container.getById(cluster.getContainer(i).getId()));
    assert.equal(info.Config.Image, DEFAULT_ZOOKEEPER_IMAGE);
    const bindings = Object.values(info.HostConfig.PortBindings ?? {}).flat() as Array<{ HostIp: string }>;
    assert.ok(bindings.length > 0, `server ${i} publishes its client port`);
    for (const binding of bindings) assert.equal(binding.HostIp, '127.0.0.1', `server ${i}: ${JSON.stringify(bindings)}`);
    for (const name of Object.keys(info.NetworkSettings.Networks)) networks.add(name);
    assert.match(zk.getServerConnectString(i), /^127\.0\.0\.1:\d+$/);
  }
  assert.equal(networks.size, 1, `one network: ${[...networks].join(', ')}`);
  assert.ok(![...networks].some((n) => ['bridge', 'host', 'none'].includes(n)), `a network the run created: ${[...networks]}`);
});

test('issue on A is valid on B; revoke on B is refused on A; logout across nodes', { skip }, async () => {
  const issued: Array<{ token: string; jti: string }> = [];
  for (let i = 0; i < 10; i++) {
    const res = await a.api.issue({ subject: `user${i}` });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.replicated, true);
    issued.push(res.body);
  }
  for (const t of issued) assert.equal((await b.api.validate(t.token)).status, 200, t.jti);
  assert.equal((await b.api.revoke(issued[0]!.jti)).status, 204);
  await waitFor(async () => (await a.api.validate(issued[0]!.token)).body.reason === 'revoked', 'revocation reaches A', 5000, 5);
  const s1 = await a.api.issue({ subject: 'zed' });
  const s2 = await b.api.issue({ subject: 'zed', kind: 'api' });
  const out = await b.api.logout('zed');
  assert.equal(out.status, 200, out.text);
  assert.deepEqual(out.body.acknowledgedBy, ['a', 'b']);
  for (const node of [a, b]) for (const t of [s1, s2]) assert.equal((await node.api.validate(t.body.token)).body.reason, 'revoked');
  await assertMirrorsEqualTree();
});

test('one-time tokens: 4 consumers on 2 nodes, 30 rounds, exactly one winner each', { skip }, async () => {
  for (let round = 0; round < 30; round++) {
    const { body } = await (round % 2 ? a : b).api.issue({ subject: `otp${round}`, kind: 'onetime' });
    const results = await Promise.all([a, b, a, b].map((n) => n.api.consume(body.token)));
    assert.equal(results.filter((r) => r.status === 200).length, 1, `round ${round}: ${results.map((r) => r.status)}`);
    assert.ok(
      results.filter((r) => r.status !== 200).every((r) => r.body.reason === 'consumed'),
      `round ${round}: ${results.map((r) => r.text)}`,
    );
  }
});

test('the leader container killed and started again through the runtime: issuing goes on, it rejoins, nothing lost', { skip }, async () => {
  const leader = await zk.waitForQuorum();
  const before = await a.api.issue({ subject: 'before-kill' });
  assert.equal(before.status, 201, before.text);
  await zk.kill(leader);
  assert.equal(await zk.mode(leader), 'down');
  const newLeader = await zk.waitForQuorum();
  assert.notEqual(newLeader, leader);
  let during: Awaited<ReturnType<typeof a.api.issue>> | undefined;
  await waitFor(
    async () => {
      during = await b.api.issue({ subject: 'during-kill' });
      return during.status === 201 && during.body.replicated === true;
    },
    'issuing on two servers',
    20_000,
    100,
  );
  assert.equal((await a.api.validate(during!.body.token)).status, 200);
  assert.equal((await b.api.validate(before.body.token)).status, 200);

  await zk.start(leader);
  assert.equal(await zk.waitForQuorum(), newLeader);
  assert.equal(await zk.mode(leader), 'follower');
  // The restarted server serves the writes it missed: read through it alone.
  const { connectRaw } = await import('./support/zk-tree.js');
  const raw = await connectRaw(zk.getServerConnectString(leader));
  try {
    await raw.sync(CHROOT);
    assert.ok(await raw.exists(CHROOT, false), `${CHROOT} on the restarted server`);
  } finally {
    raw.close();
  }
  assert.equal((await a.api.revoke(during!.body.jti)).status, 204);
  await waitFor(async () => (await b.api.validate(during!.body.token)).status === 401, 'revocation after the restart', 5000, 5);
  await assertMirrorsEqualTree();
});
