import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess } from './support/sidecar-process.js';
import { zooKeeperSidecarProps, startSidecars } from './support/zk-sidecars.js';
import { assertMirrorsEqualTree as assertMirrorsEqualTreeOf } from './support/zk-tree.js';
import { FULL, LoadRun, checkLedger, size, issueStable } from './support/load.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Extends zookeeper-cluster.test.ts ("the leader killed under validation load") to the whole fault: the
 * leader killed, then a follower, under sustained validation, issuing and revoking against three sidecars.
 *
 * - while a quorum stands (the leader dead, two servers left), no request is refused: an operation caught by
 *   the reconnect is journaled (writes) or served from the mirror (validations), never answered 5xx;
 * - with the follower dead too there is no quorum: validation goes on from the mirror (serve-cached), issues
 *   and revocations are journaled; a node may refuse (503) to revoke a token it has never seen, since it
 *   cannot learn its subject without the store, and 503 to validate one (never 401: its absence is not
 *   established); the same until the restarted servers form a quorum again (phase `restarting`);
 * - afterwards nothing is lost: every acknowledged issue validates on every node, every acknowledged
 *   revocation is refused on every node, and every mirror equals the tree.
 */
const CHROOT = '/faults-quorum';
let zk: ZooKeeperCluster;
let dir: string;
const nodes: SidecarProcess[] = [];

before(async () => {
  zk = await startZooKeeper({ servers: 3 });
  let props: Record<string, string | number | boolean>;
  ({ dir, props } = await zooKeeperSidecarProps(zk.connectString, CHROOT, {
    prefix: 'tokensync-faults-quorum-',
    sessionTimeout: '4s',
    shards: 32,
  }));
  nodes.push(...(await startSidecars(['q1', 'q2', 'q3'], props, dir)));
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await zk?.close();
});

const assertMirrorsEqualTree = (list: SidecarProcess[]) => assertMirrorsEqualTreeOf(zk.connectString, CHROOT, list);

test('leader killed, then a follower killed, under validation, issuing and revoking load: nothing refused while a quorum stands, nothing lost', async (t) => {
  const phaseMs = size(3_000, 12_000);
  const stable = await issueStable(nodes);
  for (const node of nodes) for (const s of stable) assert.equal((await node.api.validate(s.token)).status, 200);

  const load = new LoadRun(nodes, {
    validators: size(4, 6),
    issuers: 2,
    revokers: 2,
    stable,
    maxOps: size(200_000, 1_000_000),
    maxMs: size(60_000, 240_000),
    subject: 'q',
    // without a quorum a node cannot look up the subject of a token it never saw: 503, retried later
    allowWrite: (op, status, _node, phase) => op === 'revoke' && status === 503 && (phase === 'no-quorum' || phase === 'restarting'),
  }).start();
  await load.waitForOps(300);

  const leader = await zk.leaderIndex();
  assert.notEqual(leader, undefined, 'a leader before the kill');
  load.setPhase('leader-killed');
  const t0 = Date.now();
  await zk.kill(leader!);
  const newLeader = await zk.waitForQuorum();
  const electionMs = Date.now() - t0;
  // the sidecars that were on the dead leader reconnect elsewhere; issuing replicates again
  await waitFor(
    async () =>
      (await Promise.all(nodes.map(async (n) => (await n.api.get('/healthz')).body.store))).every(
        (s) => s === 'connected' || s === 'reconnected',
      ),
    'every sidecar connected again',
    20_000,
    50,
  );
  await load.waitForOps(300);
  await new Promise((r) => setTimeout(r, phaseMs));

  const follower = [0, 1, 2].find((i) => i !== leader && i !== newLeader)!;
  load.setPhase('no-quorum');
  await zk.kill(follower);
  await waitFor(
    async () =>
      (await Promise.all(nodes.map(async (n) => (await n.api.get('/healthz')).body.store))).every((s) => s === 'suspended' || s === 'lost'),
    'every sidecar notices the lost quorum',
    20_000,
    50,
  );
  await load.waitForOps(300);
  await new Promise((r) => setTimeout(r, phaseMs));

  load.setPhase('restarting');
  await zk.start(leader!);
  await zk.start(follower);
  await zk.waitForQuorum();
  const quorumBackAt = Date.now();
  // apart from 'restarting' (servers starting, no quorum yet), so that an anomaly says on which side of it it fell
  load.setPhase('rejoining');
  await waitFor(
    async () =>
      (await Promise.all(nodes.map(async (n) => (await n.api.get('/healthz')).body.store))).every(
        (s) => s === 'connected' || s === 'reconnected',
      ),
    'every sidecar connected again',
    30_000,
    50,
  );
  const reconnectMs = Date.now() - quorumBackAt;
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
    const journalLines = nodes.map((n) =>
      n.logs
        .split('\n')
        .filter((l) => /journal|->/.test(l))
        .slice(-8)
        .join('\n'),
    );
    throw new Error(
      `${(err as Error).message}: journal entries pending ${pending}; ${JSON.stringify(load.summary())}\n${journalLines.join('\n')}`,
    );
  });
  load.setPhase('quorum-back');
  await load.waitForOps(300);
  await load.stop();

  const summary = { ...load.summary(), phases: load.phases };
  const transitions = nodes.map(
    (n) => `${n.spec.nodeId}: ${(n.logs.match(/ZooKeeper connection \w+ -> \w+/g) ?? []).map((l) => l.split(' ').pop()).join(',')}`,
  );
  t.diagnostic(`FIGURES ${JSON.stringify({ full: FULL, electionMs, reconnectMs, ...summary, transitions })}`);
  const refusedInQuorum = load.anomalies.filter((a) => a.phase !== 'no-quorum' && a.phase !== 'restarting');
  assert.deepEqual(refusedInQuorum.slice(0, 10), [], `${refusedInQuorum.length} requests refused while a quorum stood`);
  assert.equal(
    load.validationsFailed,
    0,
    `validations failed: ${JSON.stringify(load.anomalies.filter((a) => a.op === 'validate').slice(0, 10))}`,
  );
  assert.equal(load.anomalies.length, 0, JSON.stringify(load.anomalies.slice(0, 10)));
  assert.ok(load.counts.issue.ok > 20 && load.counts.revoke.ok > 10, `load ran: ${JSON.stringify(summary)}`);

  await assertMirrorsEqualTree(nodes);
  const ledger = await checkLedger(nodes, [...stable, ...load.issued.values()], load.revoked, load.revokeUnknown);
  t.diagnostic(
    `LEDGER ${JSON.stringify({ issuesChecked: ledger.issuesChecked, revocationsChecked: ledger.revocationsChecked, issuesLost: ledger.issuesLost.length, revocationsLost: ledger.revocationsLost.length })}`,
  );
  assert.deepEqual(ledger.issuesLost, []);
  assert.deepEqual(ledger.revocationsLost, []);
});
