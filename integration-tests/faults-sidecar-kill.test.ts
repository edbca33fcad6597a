import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess } from './support/sidecar-process.js';
import { zooKeeperSidecarProps } from './support/zk-sidecars.js';
import { treeDigestFresh } from './support/zk-tree.js';
import { FULL, checkLedger, size, sleep, type IssuedToken } from './support/load.js';
import { forEachBounded } from '../sidecar/util/for-each-bounded.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Extends zookeeper-faults.test.ts ("ensemble down, A journals then dies (kill -9)", two writes) to kill -9
 * in the middle of a burst of concurrent issues and revocations, with the ensemble up (writes go straight to
 * ZooKeeper) and down (writes are journaled), and in the middle of the journal's replay while another node
 * revokes what was replayed. After the restart (same <AppData>): nothing acknowledged to a client is lost,
 * nothing is applied twice (a revoked token never comes back), and every mirror equals the tree.
 */
const CHROOT = '/faults-kill';
let zk: ZooKeeperCluster;
let dir: string;
let victim: SidecarProcess;
let others: SidecarProcess[];
const figures: Record<string, unknown>[] = [];

before(async () => {
  zk = await startZooKeeper({ servers: 3 });
  let props: Record<string, string | number | boolean>;
  ({ dir, props } = await zooKeeperSidecarProps(zk.connectString, CHROOT, {
    prefix: 'tokensync-faults-kill-',
    sessionTimeout: '4s',
    shards: 32,
  }));
  const make = (id: string) =>
    new SidecarProcess({ nodeId: id, props: { ...props, 'app.data.dir': join(dir, id) }, dir: join(dir, `${id}-conf`) }).start();
  victim = await make('victim');
  others = [await make('k2'), await make('k3')];
});

after(async () => {
  await Promise.all([victim, ...others].map((n) => n?.stop()));
  await zk?.close();
});

interface Ledger {
  issued: IssuedToken[];
  revoked: Set<string>;
  /** Revocations sent but never answered: either outcome is right. */
  unknown: Set<string>;
  sent: number;
}

/**
 * `concurrency` loops on `node`, each issuing or revoking (a token from `revocable`, or one it issued itself),
 * until its first request without an answer: the node was killed under it.
 */
async function burst(node: SidecarProcess, ledger: Ledger, revocable: IssuedToken[], concurrency: number, maxOps: number): Promise<void> {
  const mine: IssuedToken[] = [];
  const loop = async () => {
    while (ledger.sent < maxOps) {
      ledger.sent++;
      const pool = Math.random() < 0.5 ? revocable : mine;
      const target = Math.random() < 0.4 ? pool.shift() : undefined;
      try {
        if (target) {
          const res = await node.api.revoke(target.jti);
          assert.equal(res.status, 204, `revoke ${target.jti}: ${res.text}`);
          ledger.revoked.add(target.jti);
        } else {
          const res = await node.api.issue({ subject: `burst-${Math.floor(Math.random() * 50)}` });
          assert.equal(res.status, 201, res.text);
          const t = { jti: res.body.jti, token: res.body.token, node: node.spec.nodeId, replicated: res.body.replicated, at: Date.now() };
          ledger.issued.push(t);
          mine.push(t);
        }
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        if (target) ledger.unknown.add(target.jti);
        return; // killed
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
}

async function issueOn(node: SidecarProcess, n: number, subject: string): Promise<IssuedToken[]> {
  const out: IssuedToken[] = [];
  await forEachBounded(
    Array.from({ length: n }, (_, i) => i),
    8,
    async (i) => {
      const res = await node.api.issue({ subject: `${subject}-${i % 20}` });
      assert.equal(res.status, 201, res.text);
      out.push({ jti: res.body.jti, token: res.body.token, node: node.spec.nodeId, replicated: res.body.replicated, at: Date.now() });
    },
  );
  return out;
}

async function storeStates(nodes: SidecarProcess[]): Promise<string[]> {
  return Promise.all(nodes.map(async (n) => (await n.api.get('/healthz')).body.store as string));
}

async function killEnsemble() {
  for (let i = 0; i < zk.servers; i++) await zk.kill(i);
  await waitFor(
    async () => (await storeStates(others)).every((s) => s === 'suspended' || s === 'lost'),
    'the sidecars notice the outage',
    20_000,
    50,
  );
}

async function startEnsemble() {
  for (let i = 0; i < zk.servers; i++) await zk.start(i);
  await zk.waitForQuorum();
}

async function settled(nodes: SidecarProcess[]) {
  await waitFor(
    async () => (await storeStates(nodes)).every((s) => s === 'connected' || s === 'reconnected'),
    'every sidecar connected',
    30_000,
    50,
  );
  await waitFor(
    async () => (await Promise.all(nodes.map(async (n) => (await n.api.get('/healthz')).body.journalPending))).every((p) => p === 0),
    'journals replayed',
    30_000,
    50,
  );
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
  ).catch((err) => {
    throw new Error(`${(err as Error).message}: ${last}`);
  });
}

async function assertNothingLost(ledger: Ledger, label: string) {
  const all = [victim, ...others];
  const check = await checkLedger(all, ledger.issued, ledger.revoked, ledger.unknown);
  figures.push({
    scenario: label,
    requestsSent: ledger.sent,
    issuesAcknowledged: ledger.issued.length,
    revocationsAcknowledged: ledger.revoked.size,
    revocationsUnanswered: ledger.unknown.size,
    issuesLost: check.issuesLost.length,
    revocationsUndone: check.revocationsLost.length,
  });
  assert.deepEqual(check.issuesLost.slice(0, 10), [], `${label}: acknowledged issues lost`);
  assert.deepEqual(check.revocationsLost.slice(0, 10), [], `${label}: acknowledged revocations undone`);
}

test('kill -9 in the middle of a burst of issues and revocations, the ensemble up', async () => {
  for (let round = 0; round < size(3, 10); round++) {
    const ledger: Ledger = { issued: [], revoked: new Set(), unknown: new Set(), sent: 0 };
    const fromOthers = await issueOn(others[round % 2]!, 40, `up${round}`);
    ledger.issued.push(...fromOthers);
    const running = burst(victim, ledger, [...fromOthers], 16, 5_000);
    await sleep(200 + Math.random() * 600);
    await victim.kill();
    await running;
    assert.ok(ledger.sent > 20, `the burst was under way (${ledger.sent} requests)`);
    await victim.start();
    await settled([victim, ...others]);
    await assertNothingLost(ledger, `ensemble up, round ${round}`);
  }
});

test('kill -9 in the middle of a burst of journaled issues and revocations, the ensemble down', async () => {
  for (let round = 0; round < size(2, 5); round++) {
    const ledger: Ledger = { issued: [], revoked: new Set(), unknown: new Set(), sent: 0 };
    const known = await issueOn(others[round % 2]!, 40, `down${round}`);
    ledger.issued.push(...known);
    await waitFor(
      async () => (await Promise.all(known.map((t) => victim.api.validate(t.token)))).every((v) => v.status === 200),
      'the victim knows them',
      10_000,
      50,
    );
    await killEnsemble();
    await waitFor(async () => (await victim.api.get('/healthz')).body.store !== 'connected', 'the victim notices the outage', 20_000, 50);
    const running = burst(victim, ledger, [...known], 16, 5_000);
    await sleep(200 + Math.random() * 600);
    await victim.kill();
    await running;
    assert.ok(
      ledger.issued.some((t) => t.node === 'victim' && !t.replicated),
      'issues were journaled',
    );
    await startEnsemble();
    await victim.start(); // replays its journal
    await settled([victim, ...others]);
    await assertNothingLost(ledger, `ensemble down, round ${round}`);
  }
});

test('kill -9 while the journal is replayed, another node revoking what was replayed: no revoked token comes back', async (t) => {
  // the kill lands at another moment of the replay each round: before a batch's transaction left, while it was on the
  // wire, after it was applied but before its answer was read; the replay's receipt tells them apart after the restart
  const delays = [0, 2, 5, 10, 20, 40].slice(0, size(4, 6));
  const settled_ = { applied: 0, fenced: 0 };
  for (const [round, delayMs] of delays.entries()) {
    const ledger: Ledger = { issued: [], revoked: new Set(), unknown: new Set(), sent: 0 };
    await killEnsemble();
    await waitFor(async () => (await victim.api.get('/healthz')).body.store !== 'connected', 'the victim notices the outage', 20_000, 50);
    const journaled = await issueOn(victim, size(1_500, 4_000), `replay${round}`);
    ledger.issued.push(...journaled);
    const pendingAtStart = (await victim.api.get('/healthz')).body.journalPending as number;
    await startEnsemble();
    // kill once the replay is under way, and a few milliseconds later each round
    let pendingAtKill = pendingAtStart;
    await waitFor(
      async () => {
        pendingAtKill = (await victim.api.get('/healthz')).body.journalPending;
        return pendingAtKill < pendingAtStart;
      },
      'the replay starts',
      30_000,
      1,
    );
    await sleep(delayMs + Math.random() * 2);
    await victim.kill();
    // another node revokes every one of them that reached the tree
    await waitFor(
      async () => (await storeStates(others)).every((s) => s === 'connected' || s === 'reconnected'),
      'the others reconnect',
      30_000,
      50,
    );
    let revokedByOthers = 0;
    await forEachBounded(journaled, 8, async (tok) => {
      const res = await others[0]!.api.revoke(tok.jti);
      if (res.status === 204) {
        ledger.revoked.add(tok.jti);
        revokedByOthers++;
      } else assert.equal(res.status, 404, res.text);
    });
    const logFrom = victim.logs.length;
    await victim.start();
    await settled([victim, ...others]);
    const restartLog = victim.logs.slice(logFrom);
    const applied = restartLog.includes('whose answer was lost had been applied');
    const fenced = restartLog.includes('whose answer was lost was not applied');
    if (applied) settled_.applied++;
    if (fenced) settled_.fenced++;
    t.diagnostic(
      `round ${round} (+${delayMs} ms): journaled ${pendingAtStart}, pending at the kill ${pendingAtKill}, revoked on k2 before the restart ${revokedByOthers}; ` +
        `the receipt of the transaction cut off by the kill: ${applied ? 'applied' : fenced ? 'not applied (fenced)' : 'none pending'}`,
    );
    assert.ok(
      !restartLog.includes('may have been revoked since'),
      'every create sent before the kill was settled by its receipt, none guessed',
    );
    figures.push({
      scenario: `kill during replay, round ${round}`,
      journaled: pendingAtStart,
      pendingAtKill,
      revokedElsewhereBeforeRestart: revokedByOthers,
      receipt: applied ? 'applied' : fenced ? 'fenced' : 'none',
    });
    await assertNothingLost(ledger, `kill during replay, round ${round}`);
  }
  t.diagnostic(`receipts settled after the restarts: ${settled_.applied} applied, ${settled_.fenced} fenced`);
  t.diagnostic(`FIGURES ${JSON.stringify({ full: FULL, figures })}`);
});
