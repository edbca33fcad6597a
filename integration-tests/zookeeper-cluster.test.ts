import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type ZooKeeper from 'zookeeper';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess, runCli, startSidecars, tempDir, writeProperties } from './support/sidecar-process.js';
import { connectRaw, treeDigest } from './support/zk-tree.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Real sidecar processes on a real 3-node ZooKeeper ensemble (Debian's
 * ZooKeeper 3.8 as local processes here; testcontainers where a container
 * runtime is reachable): the scenarios of the ZooKeeper issue.
 */
const CHROOT = '/tokensync';
let zk: ZooKeeperCluster;
let dir: string;
let a: SidecarProcess;
let b: SidecarProcess;
let raw: ZooKeeper;
let props: Record<string, string | number | boolean>;

before(async () => {
  zk = await startZooKeeper({ servers: 3 });
  dir = await tempDir('tokensync-zk-');
  const cli = await writeProperties(join(dir, 'cli.properties'), { 'app.data.dir': join(dir, 'cli') });
  const gen = await runCli(['secret', 'generate', '--config', cli]);
  assert.equal(gen.code, 0, gen.stderr);
  props = {
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': `${zk.connectString}${CHROOT}`,
    'cluster.store.zookeeper.session.timeout': '4s',
    'cluster.store.zookeeper.shards': 64,
    'authentication.token.secret.file': join(dir, 'cli', 'token_secret'),
  };
  [a, b] = await startSidecars([
    { nodeId: 'a', props: { ...props, 'app.data.dir': join(dir, 'a') } },
    { nodeId: 'b', props: { ...props, 'app.data.dir': join(dir, 'b') } },
  ]);
  raw = await connectRaw(zk.connectString);
});

after(async () => {
  raw?.close();
  await Promise.all([a?.stop(), b?.stop()]);
  await zk?.close();
});

async function mirrorDigest(node: SidecarProcess) {
  const res = await node.api.get('/v1/cluster?digest=1');
  return res.body.mirror.digest as { size: number; xor: string };
}

/** Every mirror equals a fresh read of the tree (waits for notifications in flight). */
async function assertMirrorsEqualTree(nodes: SidecarProcess[]) {
  let last = '';
  await waitFor(
    async () => {
      const tree = await treeDigest(raw, CHROOT);
      const mirrors = await Promise.all(nodes.map(mirrorDigest));
      last = JSON.stringify({ tree, mirrors });
      return mirrors.every((m) => m.size === tree.size && m.xor === tree.xor);
    },
    'mirrors equal to the tree',
    20_000,
    50,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}: ${last}`);
  });
}

test('issue on A is valid on B at once; revoke on B is refused on A; api tokens; logout across nodes', async () => {
  for (let i = 0; i < 20; i++) {
    const issued = await a.api.issue({ subject: `user${i}` });
    assert.equal(issued.status, 201, issued.text);
    assert.equal(issued.body.replicated, true);
    const v = await b.api.validate(issued.body.token);
    assert.equal(v.status, 200, `token ${i} on B: ${v.text}`);
  }
  const api = await b.api.issue({ subject: 'robot', kind: 'api' });
  assert.equal((await a.api.validate(api.body.token)).status, 200);
  assert.equal((await a.api.revoke(api.body.jti)).status, 204);
  await waitFor(async () => (await b.api.validate(api.body.token)).status === 401, 'revocation reaches B', 5000, 5);
  const s1 = await a.api.issue({ subject: 'zed' });
  const s2 = await b.api.issue({ subject: 'zed', kind: 'api' });
  const out = await a.api.logout('zed');
  assert.equal(out.status, 200);
  assert.deepEqual(out.body.notYetAcknowledgedBy, []);
  assert.deepEqual(out.body.acknowledgedBy, ['a', 'b']);
  for (const node of [a, b]) for (const t of [s1, s2]) assert.equal((await node.api.validate(t.body.token)).body.reason, 'revoked');
  const after = await b.api.issue({ subject: 'zed' });
  assert.equal((await a.api.validate(after.body.token)).status, 200);
  await assertMirrorsEqualTree([a, b]);
});

test('one-time race: 4 consumers on 2 nodes, 100 rounds, exactly one winner each', async () => {
  for (let round = 0; round < 100; round++) {
    const { body } = await (round % 2 ? a : b).api.issue({ subject: `otp${round}`, kind: 'onetime' });
    const results = await Promise.all([a, b, a, b].map((n) => n.api.consume(body.token)));
    assert.equal(results.filter((r) => r.status === 200).length, 1, `round ${round}: ${results.map((r) => r.status)}`);
  }
});

test('cluster status shows both members with the CLI', async () => {
  const cfg = await writeProperties(join(dir, 'zk-cli.properties'), { ...props, 'app.data.dir': join(dir, 'cli') });
  const status = await runCli(['cluster', 'status', '--json', '--config', cfg]);
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(
    JSON.parse(status.stdout).members.map((m: { nodeId: string }) => m.nodeId),
    ['a', 'b'],
  );
  const list = await runCli(['tokens', 'list', '--subject', 'user3', '--json', '--config', cfg]);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(JSON.parse(list.stdout).items.length, 1);
});

test('the leader killed under validation load: no validation fails, issuing resumes after re-election', async () => {
  const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => a.api.issue({ subject: `load${i}` })));
  let failed = 0;
  let done = 0;
  let stop = false;
  const load = (async () => {
    while (!stop) {
      const t = tokens[done % tokens.length]!;
      const v = await (done % 2 ? a : b).api.validate(t.body.token);
      if (v.status !== 200) failed++;
      done++;
    }
  })();
  const leader = await zk.leaderIndex();
  assert.notEqual(leader, undefined);
  const atKill = done;
  await zk.kill(leader!);
  await zk.waitForQuorum();
  const duringElection = done - atKill;
  // issuing works again once a quorum stands (a write caught by the reconnect is journaled, not lost)
  let issued: Awaited<ReturnType<typeof a.api.issue>> | undefined;
  await waitFor(
    async () => {
      issued = await a.api.issue({ subject: 'after-election' });
      return issued.status === 201 && issued.body.replicated === true;
    },
    'issuing resumes',
    20_000,
    100,
  );
  // a count, not a rate: on a busy machine an election can be over before 100 validations were answered
  await waitFor(() => done > 100, 'at least 100 validations', 20_000, 20);
  stop = true;
  await load;
  assert.equal(failed, 0, `${failed} of ${done} validations failed`);
  assert.ok(duringElection > 0, `validations were answered while the ensemble elected a new leader (${done} in all)`);
  assert.equal((await b.api.validate(issued!.body.token)).status, 200);
  await zk.start(leader!);
  await zk.waitForQuorum();
  await assertMirrorsEqualTree([a, b]);
});
