import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess, runCli, startSidecars, tempDir, writeProperties } from './support/sidecar-process.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * The cutover of docs/operations.md, as an operator runs it on a live two-node cluster: DIRECTORY ->
 * ZOOKEEPER with a client validating (and logging users in) throughout, like traffic behind a load
 * balancer that sends each request to a node that is up.
 *
 *   1. tokensync store migrate --config previous.properties --to-config next.properties
 *   2. restart the nodes one at a time on the new store, with cluster.store.fallback.config=previous.properties
 *   3. tokensync store migrate ... again (idempotent: copies stragglers)
 *   4. restart the nodes one at a time without the fallback
 *
 * No validation may fail: not of a token issued before, nor of one issued on one node during the switch
 * and presented at once to the other node, whatever store each of them is on at that moment.
 */
let zk: ZooKeeperCluster;
let dir: string;
let a: SidecarProcess;
let b: SidecarProcess;
let previousConfig: string;
let nextConfig: string;
let oldProps: Record<string, string | number | boolean>;
let newProps: Record<string, string | number | boolean>;

before(async () => {
  zk = await startZooKeeper({ servers: 1 });
  dir = await tempDir('tokensync-cutover-');
  const secret = { 'authentication.token.secret.file': join(dir, 'token_secret') };
  oldProps = { ...secret, 'cluster.store.directory.path': join(dir, 'store'), 'cluster.store.directory.rescan.interval': '1s' };
  newProps = {
    ...secret,
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': `${zk.connectString}/tokensync`,
    'cluster.store.zookeeper.session.timeout': '4s',
    'cluster.store.zookeeper.shards': 256,
  };
  // what the README tells the operator to write: the previous store's file and the next one's
  previousConfig = await writeProperties(join(dir, 'previous.properties'), {
    ...oldProps,
    'node.id': 'ops',
    'app.data.dir': join(dir, 'ops'),
  });
  nextConfig = await writeProperties(join(dir, 'next.properties'), { ...newProps, 'node.id': 'ops', 'app.data.dir': join(dir, 'ops') });
  assert.equal((await runCli(['secret', 'generate', '--config', previousConfig])).code, 0);
  [a, b] = await startSidecars([
    { nodeId: 'a', dir: join(dir, 'a'), props: { ...oldProps, 'app.data.dir': join(dir, 'a') } },
    { nodeId: 'b', dir: join(dir, 'b'), props: { ...oldProps, 'app.data.dir': join(dir, 'b') } },
  ]);
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await zk?.close();
});

/** Each node restarts in place on new properties (same port): what an operator's rolling restart does. */
async function switchNode(node: SidecarProcess, props: Record<string, string | number | boolean>): Promise<void> {
  node.spec.props = { ...props, 'app.data.dir': join(dir, node.spec.nodeId) };
  await node.restart();
}

/** Like a load balancer: the preferred node, or the other one when the preferred one does not answer. */
async function send<T>(prefer: SidecarProcess, call: (n: SidecarProcess) => Promise<T>): Promise<{ result: T; node: SidecarProcess }> {
  const order = prefer === a ? [a, b] : [b, a];
  let last: unknown;
  for (const node of order) {
    try {
      const result = await call(node);
      const status = (result as { status?: number }).status;
      if (status === 503) throw new Error(`${node.spec.nodeId} answered 503`);
      return { result, node };
    } catch (err) {
      last = err; // refused, reset while the node restarts: try the other one
    }
  }
  throw last;
}

test('migrate a live two-node cluster from DIRECTORY to ZOOKEEPER, one node at a time: no validation fails', async (t) => {
  const pool: Array<{ token: string; jti: string; subject: string }> = [];
  for (let i = 0; i < 60; i++) {
    const issued = await (i % 2 ? a : b).api.issue({ subject: `user${i}`, kind: i % 10 === 0 ? 'api' : 'session' });
    assert.equal(issued.status, 201, issued.text);
    pool.push(issued.body);
  }
  const failures: string[] = [];
  let validations = 0;
  let crossNode = 0;
  let stop = false;
  const validating = (async () => {
    for (let i = 0; !stop; i++) {
      const t = pool[i % pool.length]!;
      try {
        const { result, node } = await send(i % 2 ? a : b, (n) => n.api.validate(t.token));
        if (result.status !== 200) failures.push(`${t.jti} on ${node.spec.nodeId}: ${result.text}`);
      } catch (err) {
        failures.push(`${t.jti}: no node answered (${String(err)})`);
      }
      validations++;
    }
  })();
  // users keep logging in: issued on one node, presented at once to the other
  const loggingIn = (async () => {
    for (let i = 0; !stop; i++) {
      try {
        const { result: issued, node } = await send(i % 2 ? a : b, (n) => n.api.issue({ subject: `new${i}` }));
        if (issued.status !== 201) {
          failures.push(`issue on ${node.spec.nodeId}: ${issued.text}`);
          continue;
        }
        const other = node === a ? b : a;
        const { result: v, node: checked } = await send(other, (n) => n.api.validate(issued.body.token));
        if (v.status !== 200)
          failures.push(`${issued.body.jti} issued on ${node.spec.nodeId}, refused on ${checked.spec.nodeId}: ${v.text}`);
        else if (checked !== node) crossNode++;
        pool.push(issued.body);
      } catch (err) {
        failures.push(`logging in: no node answered (${String(err)})`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const progressed = async (what: string) => {
    const at = validations;
    await waitFor(() => validations >= at + 50, `validations continue ${what}`, 20_000, 10);
  };

  try {
    // 1. copy everything to the new store while both nodes serve from the old one
    const first = await runCli(['store', 'migrate', '--config', previousConfig, '--to-config', nextConfig, '--json']);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    assert.equal(JSON.parse(first.stdout).verification.ok, true);
    await progressed('after the first copy');

    // 2. switch the nodes one at a time, each with the previous store as fallback
    const withFallback = { ...newProps, 'cluster.store.fallback.config': previousConfig };
    await switchNode(a, withFallback);
    await progressed('with A on ZooKeeper and B on DIRECTORY');
    // A one-time token issued on the old store is consumed once, through the fallback
    const otp = await b.api.issue({ subject: 'reset-me', kind: 'onetime' });
    assert.equal((await a.api.consume(otp.body.token)).status, 200);
    assert.equal((await b.api.consume(otp.body.token)).body.reason, 'consumed');
    // A revocation on a switched node reaches the node still on the old store
    const victim = (await b.api.issue({ subject: 'victim' })).body as { token: string; jti: string };
    assert.equal((await a.api.validate(victim.token)).status, 200);
    assert.equal((await a.api.revoke(victim.jti)).status, 204);
    await waitFor(async () => (await b.api.validate(victim.token)).body.reason === 'revoked', 'B refuses what A revoked', 10_000, 20);
    const cluster = (await a.api.cluster()).body;
    assert.equal(cluster.store.type, 'ZOOKEEPER');
    assert.equal(cluster.fallback.type, 'DIRECTORY');
    assert.ok(cluster.fallback.confirmed >= 1, JSON.stringify(cluster.fallback));

    await switchNode(b, withFallback);
    await progressed('with both nodes on ZooKeeper and the fallback');

    // 3. copy again: whatever was issued on the old store after the first copy
    const second = await runCli(['store', 'migrate', '--config', previousConfig, '--to-config', nextConfig, '--json']);
    assert.equal(second.code, 0, second.stderr + second.stdout);
    const again = JSON.parse(second.stdout);
    assert.equal(again.verification.missing, 0);
    assert.ok(again.records.existing > 60, JSON.stringify(again.records));

    // 4. the fallback goes, one node at a time
    await switchNode(a, newProps);
    await progressed('with A without the fallback');
    await switchNode(b, newProps);
    await progressed('with both nodes on ZooKeeper alone');
  } finally {
    stop = true;
    await Promise.all([validating, loggingIn]);
  }

  t.diagnostic(`${validations} validations, ${pool.length} tokens, ${crossNode} issued on one node and validated on the other`);
  assert.deepEqual(failures, [], `${failures.length} of ${validations} validations (and logins) failed`);
  assert.ok(crossNode > 10, `only ${crossNode} tokens were checked on the other node`);
  // every token, old or issued during the switch, valid on both nodes from the new store alone
  for (const token of pool) {
    for (const node of [a, b]) {
      const v = await node.api.validate(token.token);
      assert.equal(v.status, 200, `${token.jti} on ${node.spec.nodeId} after the cutover: ${v.text}`);
    }
  }
  const status = JSON.parse((await runCli(['cluster', 'status', '--config', nextConfig, '--json'])).stdout);
  assert.deepEqual(
    status.members.map((m: { nodeId: string; storeType: string }) => `${m.nodeId}:${m.storeType}`),
    ['a:ZOOKEEPER', 'b:ZOOKEEPER'],
  );
});
