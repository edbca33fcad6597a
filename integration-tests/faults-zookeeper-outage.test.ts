import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess } from './support/sidecar-process.js';
import { zooKeeperSidecarProps } from './support/zk-sidecars.js';
import { treeDigestFresh } from './support/zk-tree.js';
import { FULL, LoadRun, checkLedger, size, sleep, issueStable } from './support/load.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Extends zookeeper-faults.test.ts ("whole ensemble down: issue and revoke on A are journaled") from two
 * writes to sustained load, and to both outage policies at once: two sidecars validate from their mirror
 * (`serve-cached`), a third refuses to (`reject`: 503), while the whole ensemble is down (CI: 8 s; full: 30 s,
 * far past the 4 s session timeout, so every session is lost and replaced).
 *
 * Issues and revocations made meanwhile are journaled (`replicated: false`) and replayed; afterwards every
 * mirror equals the tree, every acknowledged issue validates on every node and every acknowledged revocation
 * is refused on every node.
 *
 * ZooKeeper 3.8.0 (Debian's) sometimes comes back from this with servers that disagree: one server keeps records
 * the others deleted (seen about once in five runs on containers, never on local processes). A sidecar then mirrors
 * its own server faithfully, and no client can be told the truth. Such a run is recognised (each server's tree read
 * on its own), reported, and the scenario runs again on a fresh ensemble; a failure on a consistent ensemble fails.
 */
const CHROOT = '/faults-outage';
const OUTAGE_MS = size(8_000, 30_000);
const ATTEMPTS = 3;
let zk: ZooKeeperCluster;
let dir: string;
let nodes: SidecarProcess[] = [];

async function setUp(): Promise<void> {
  nodes = [];
  zk = await startZooKeeper({ servers: 3 });
  let props: Record<string, string | number | boolean>;
  ({ dir, props } = await zooKeeperSidecarProps(zk.connectString, CHROOT, {
    prefix: 'tokensync-faults-outage-',
    sessionTimeout: '4s',
    shards: 32,
  }));
  for (const [id, policy] of [
    ['cached1', 'serve-cached'],
    ['cached2', 'serve-cached'],
    ['reject1', 'reject'],
  ] as const) {
    nodes.push(
      await new SidecarProcess({
        nodeId: id,
        props: { ...props, 'app.data.dir': join(dir, id), 'cluster.store.outage.policy': policy },
        dir: join(dir, `${id}-conf`),
      }).start(),
    );
  }
}

async function tearDown(): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop()));
  await zk?.close();
}

/** Each server's tree, read on its own; `undefined` once they agree (within a few seconds of catching up). */
async function divergence(): Promise<string | undefined> {
  let seen: Array<{ size: number; xor: string }> = [];
  const agree = async () => {
    seen = await Promise.all(Array.from({ length: zk.servers }, (_, i) => treeDigestFresh(zk.getServerConnectString(i), CHROOT)));
    return seen.every((d) => d.size === seen[0]!.size && d.xor === seen[0]!.xor);
  };
  return (await waitFor(agree, 'the servers agree', 10_000, 500).then(
    () => true,
    () => false,
  ))
    ? undefined
    : JSON.stringify(seen);
}

async function states(): Promise<string[]> {
  return Promise.all(nodes.map(async (n) => (await n.api.get('/healthz')).body.store as string));
}

test(`whole ensemble down for ${OUTAGE_MS / 1000} s under load: serve-cached validates from the mirror, reject answers 503, writes are journaled and replayed`, async (t) => {
  for (let attempt = 1; ; attempt++) {
    await setUp();
    let diverged: string | undefined;
    try {
      diverged = await scenario(t);
    } finally {
      await tearDown();
    }
    if (diverged === undefined) return;
    t.diagnostic(`DIVERGED attempt ${attempt}: ZooKeeper's servers disagree after the restart (${diverged}); running again`);
    assert.ok(attempt < ATTEMPTS, `ZooKeeper's servers disagreed after the restart in ${ATTEMPTS} attempts: ${diverged}`);
  }
});

/** One run of the scenario; the servers' disagreement when ZooKeeper diverged (then nothing of ours was judged). */
async function scenario(t: TestContext): Promise<string | undefined> {
  const stable = await issueStable(nodes);
  for (const node of nodes) for (const s of stable) assert.equal((await node.api.validate(s.token)).status, 200);

  const rejectedDuringOutage: number[] = [];
  const load = new LoadRun(nodes, {
    validators: 4,
    issuers: 2,
    revokers: 2,
    stable,
    maxOps: size(200_000, 1_000_000),
    maxMs: size(60_000, 180_000),
    subject: 'o',
    allowValidation: (status, node, phase) => {
      const allowed = status === 503 && node.spec.nodeId === 'reject1' && (phase === 'outage' || phase === 'restarting');
      if (allowed) rejectedDuringOutage.push(Date.now());
      return allowed;
    },
    // a node cannot look up the subject of a token it never saw while the store is down
    allowWrite: (op, status, _node, phase) => op === 'revoke' && status === 503 && (phase === 'outage' || phase === 'restarting'),
  }).start();
  await load.waitForOps(500);

  load.setPhase('outage');
  const downAt = Date.now();
  for (let i = 0; i < zk.servers; i++) await zk.kill(i);
  let seen: string[] = [];
  await waitFor(
    async () => (seen = await states()).every((s) => s === 'suspended' || s === 'lost'),
    'every sidecar notices the outage',
    20_000,
    50,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}: ${seen}\n${nodes.map((n) => n.logs.split('\n').slice(-6).join('\n')).join('\n')}`);
  });
  const noticedMs = Date.now() - downAt;
  const issuedBefore = load.counts.issue.ok;
  const revokedBefore = load.counts.revoke.ok;
  const validatedBefore = load.counts.validate.tried;
  await sleep(OUTAGE_MS - (Date.now() - downAt));
  const duringOutage = {
    validations: load.counts.validate.tried - validatedBefore,
    issues: load.counts.issue.ok - issuedBefore,
    revocations: load.counts.revoke.ok - revokedBefore,
    rejected503: rejectedDuringOutage.length,
  };
  const cluster = await nodes[0]!.api.cluster();
  assert.ok(['suspended', 'lost'].includes(cluster.body.store.state), `/v1/cluster reports the outage: ${cluster.body.store.state}`);
  assert.ok(cluster.body.journalPending > 0, 'writes were journaled');

  load.setPhase('restarting');
  for (let i = 0; i < zk.servers; i++) await zk.start(i);
  await zk.waitForQuorum();
  const upAt = Date.now();
  await waitFor(
    async () => (await states()).every((s) => s === 'connected' || s === 'reconnected'),
    'every sidecar reconnects',
    30_000,
    50,
  );
  const reconnectMs = Date.now() - upAt;
  let pending: number[] = [];
  await waitFor(
    async () => {
      pending = await Promise.all(nodes.map(async (n) => (await n.api.get('/healthz')).body.journalPending));
      return pending.every((p) => p === 0);
    },
    'journals replayed while the load goes on',
    30_000,
    100,
  ).catch((err) => {
    const lines = nodes.map((n) =>
      n.logs
        .split('\n')
        .filter((l) => /journal|->|session|replay/.test(l))
        .slice(-12)
        .join('\n'),
    );
    throw new Error(`${(err as Error).message}: pending ${pending}\n${lines.join('\n')}`);
  });
  const drainMs = Date.now() - upAt;
  load.setPhase('after');
  await load.waitForOps(500);
  await load.stop();

  // what the sidecars answered before the ensemble came back owes nothing to how the servers restarted
  const early = load.anomalies.filter((a) => a.phase !== 'restarting' && a.phase !== 'after');
  assert.deepEqual(early.slice(0, 10), [], `${early.length} anomalies before the restart`);
  const diverged = await divergence();
  if (diverged !== undefined) return diverged;
  const journaled = [...load.issued.values()].filter((i) => !i.replicated).length;
  t.diagnostic(
    `FIGURES ${JSON.stringify({ full: FULL, outageMs: OUTAGE_MS, noticedMs, reconnectMs, drainMs, duringOutage, journaledIssues: journaled, ...load.summary() })}`,
  );
  assert.deepEqual(load.anomalies.slice(0, 10), [], `${load.anomalies.length} anomalies`);
  assert.ok(duringOutage.rejected503 > 0, 'the reject policy answered 503 during the outage');
  assert.ok(duringOutage.issues > 10 && journaled > 10, 'issues were accepted and journaled during the outage');
  assert.ok(duringOutage.revocations > 5, 'revocations were accepted during the outage');

  let last = '';
  await waitFor(
    async () => {
      const tree = await treeDigestFresh(zk.connectString, CHROOT);
      const mirrors = await Promise.all(nodes.map(async (n) => (await n.api.get('/v1/cluster?digest=1')).body.mirror.digest));
      last = JSON.stringify({ tree, mirrors });
      return mirrors.every((m) => m.size === tree.size && m.xor === tree.xor);
    },
    'every mirror equals the tree',
    30_000,
    200,
  ).catch(async (err) => {
    // which tokens the odd mirror answers wrongly, and what its node logged about them
    const check = await checkLedger(nodes, [...stable, ...load.issued.values()], load.revoked, load.revokeUnknown);
    const wrong = [...check.issuesLost, ...check.revocationsLost].slice(0, 10);
    const jtis = wrong.map((w) => w.split(' ')[0]!);
    const logs = nodes.map(
      (n) =>
        `${n.spec.nodeId}:\n${n.logs
          .split('\n')
          .filter((l) => jtis.some((j) => l.includes(j)))
          .slice(-10)
          .join('\n')}`,
    );
    throw new Error(`${(err as Error).message}: ${last}\nwrong answers: ${JSON.stringify(wrong)}\n${logs.join('\n')}`);
  });
  const ledger = await checkLedger(nodes, [...stable, ...load.issued.values()], load.revoked, load.revokeUnknown);
  t.diagnostic(
    `LEDGER ${JSON.stringify({ issuesChecked: ledger.issuesChecked, revocationsChecked: ledger.revocationsChecked, issuesLost: ledger.issuesLost.length, revocationsLost: ledger.revocationsLost.length })}`,
  );
  assert.deepEqual(ledger.issuesLost.slice(0, 10), []);
  assert.deepEqual(ledger.revocationsLost.slice(0, 10), []);
  return undefined;
}
