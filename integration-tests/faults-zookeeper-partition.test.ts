import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { assertMirrorsEqualTree as assertMirrorsEqualTreeOf } from './support/zk-tree.js';
import { proxyEach, type TcpProxy } from './support/tcp-proxy.js';
import { FULL, LoadRun, checkLedger, size, sleep, type IssuedToken } from './support/load.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * A sidecar cut off from a healthy ensemble: two sidecars reach ZooKeeper only through TCP proxies on loopback
 * that the test controls (one proxy per server), a third talks to the ensemble directly and goes on issuing
 * and revoking. Extends zookeeper-faults.test.ts's "frozen past its session timeout" (the process stopped)
 * to the network failing under a running process:
 *
 * - cut shorter than the session timeout: `suspended`, then `reconnected` with the same session;
 * - cut longer (connections reset): `suspended`, `lost`, a new session, a resync;
 * - blackhole (connections open, nothing passes): noticed from the client's own timeouts, then as above.
 *
 * Meanwhile the cut sidecars serve per `cluster.store.outage.policy` (serve-cached: 200 from the mirror;
 * reject: 503), journal their writes, report the state in /healthz and /v1/cluster, recover by themselves,
 * and end with a mirror equal to the tree, revocations made elsewhere meanwhile included.
 */
const CHROOT = '/faults-partition';
const SESSION_MS = 4_000;
let zk: ZooKeeperCluster;
let dir: string;
let proxies: TcpProxy[];
let cached: SidecarProcess;
let rejecting: SidecarProcess;
let direct: SidecarProcess;
let all: SidecarProcess[];
const stable: IssuedToken[] = [];
const figures: Record<string, unknown>[] = [];

before(async () => {
  zk = await startZooKeeper({ servers: 3 });
  dir = await tempDir('tokensync-faults-partition-');
  const cli = await writeProperties(join(dir, 'cli.properties'), { 'app.data.dir': join(dir, 'cli') });
  assert.equal((await runCli(['secret', 'generate', '--config', cli])).code, 0);
  const proxied = await proxyEach(zk.connectString);
  proxies = proxied.proxies;
  const props = {
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.session.timeout': `${SESSION_MS / 1000}s`,
    'cluster.store.zookeeper.shards': 32,
    'authentication.token.secret.file': join(dir, 'cli', 'token_secret'),
  };
  const make = (id: string, connect: string, extra: Record<string, string> = {}) =>
    new SidecarProcess({
      nodeId: id,
      props: { ...props, 'cluster.store.zookeeper.connect': `${connect}${CHROOT}`, 'app.data.dir': join(dir, id), ...extra },
      dir: join(dir, `${id}-conf`),
    }).start();
  cached = await make('cut-cached', proxied.connectString);
  rejecting = await make('cut-reject', proxied.connectString, { 'cluster.store.outage.policy': 'reject' });
  direct = await make('direct', zk.connectString);
  all = [cached, rejecting, direct];
  for (let i = 0; i < 30; i++) {
    const node = all[i % 3]!;
    const res = await node.api.issue({ subject: `stable-${i}` });
    assert.equal(res.status, 201, res.text);
    stable.push({ jti: res.body.jti, token: res.body.token, node: node.spec.nodeId, replicated: true, at: Date.now() });
  }
  for (const node of all) for (const s of stable) assert.equal((await node.api.validate(s.token)).status, 200);
});

after(async () => {
  await Promise.all((all ?? []).map((n) => n.stop()));
  await Promise.all((proxies ?? []).map((p) => p.close()));
  await zk?.close();
});

const storeState = async (n: SidecarProcess) => (await n.api.get('/healthz')).body.store as string;
const isUp = (s: string) => s === 'connected' || s === 'reconnected';

const assertMirrorsEqualTree = () => assertMirrorsEqualTreeOf(zk.connectString, CHROOT, all);

/** Cuts (or blackholes) every proxy for `ms` under load, restores, and checks what the cut sidecars did. */
async function partition(
  t: { diagnostic: (m: string) => void },
  label: string,
  mode: 'cut' | 'blackhole',
  ms: number,
  expectLost: boolean,
) {
  const logMark = cached.logs.length;
  // revoked on the direct node during the cut: the cut sidecars must refuse them once back
  const doomed = await Promise.all(
    Array.from(
      { length: 10 },
      async (_, i) => (await direct.api.issue({ subject: `doomed-${label}-${i}` })).body as { jti: string; token: string },
    ),
  );
  for (const d of doomed)
    await waitFor(async () => (await cached.api.validate(d.token)).status === 200, 'the cut sidecars know it', 10_000, 20);

  const load = new LoadRun(all, {
    validators: 3,
    issuers: 2,
    revokers: 1,
    stable,
    maxOps: size(100_000, 500_000),
    maxMs: ms + 60_000,
    subject: `p-${label}`,
    allowValidation: (status, node, phase) => status === 503 && node === rejecting && (phase === 'cut' || phase === 'restoring'),
    // a cut sidecar cannot look up the subject of a token it never saw
    allowWrite: (op, status, node, phase) =>
      op === 'revoke' && status === 503 && node !== direct && (phase === 'cut' || phase === 'restoring'),
  }).start();
  await load.waitForOps(300);

  load.setPhase('cut');
  const cutAt = Date.now();
  for (const p of proxies) {
    if (mode === 'cut') p.cut();
    else p.blackhole();
  }
  await waitFor(
    async () => !isUp(await storeState(cached)) && !isUp(await storeState(rejecting)),
    'the cut sidecars report the partition',
    20_000,
    25,
  ).catch(async (err) => {
    throw new Error(
      `${(err as Error).message}: ${await storeState(cached)}/${await storeState(rejecting)}; proxies ${proxies.map((p) => `${p.state} open ${p.openConnections} accepted ${p.connectionsAccepted}`)}\n${[
        cached,
        rejecting,
      ]
        .map((n) =>
          n.logs
            .split('\n')
            .filter((l) => /ZooKeeper|session/.test(l))
            .slice(-15)
            .join('\n'),
        )
        .join('\n----\n')}`,
    );
  });
  const noticedMs = Date.now() - cutAt;
  const reported = { healthz: await storeState(cached), cluster: (await cached.api.cluster()).body.store.state as string };
  assert.ok(['suspended', 'lost'].includes(reported.healthz) && ['suspended', 'lost'].includes(reported.cluster), JSON.stringify(reported));
  assert.equal((await direct.api.get('/healthz')).body.store, 'connected', 'the direct sidecar is not affected');
  for (const d of doomed) assert.equal((await direct.api.revoke(d.jti)).status, 204);
  // serve per policy
  assert.equal((await cached.api.validate(stable[0]!.token)).status, 200, 'serve-cached: from the mirror');
  assert.equal((await rejecting.api.validate(stable[0]!.token)).status, 503, 'reject: 503');
  const journaled = await cached.api.issue({ subject: `journaled-${label}` });
  assert.equal(journaled.status, 201, journaled.text);
  assert.equal(journaled.body.replicated, false);
  await sleep(Math.max(0, ms - (Date.now() - cutAt)));
  if (expectLost) {
    await waitFor(async () => (await storeState(cached)) === 'lost', 'the cut sidecar reports the session lost', 20_000, 25);
    // its ephemeral member node is gone with the session
    await waitFor(
      async () => !(await direct.api.cluster()).body.members.some((m: { nodeId: string }) => m.nodeId === 'cut-cached'),
      'the cluster sees the member gone',
      20_000,
      100,
    );
  } else {
    assert.equal(await storeState(cached), 'suspended', `a cut shorter than the session timeout stays suspended`);
  }
  const stateAtRestore = await storeState(cached);

  // until the cut sidecars see the ensemble again they still serve as cut off
  load.setPhase('restoring');
  const restoredAt = Date.now();
  for (const p of proxies) p.restore();
  await waitFor(async () => (await Promise.all(all.map(storeState))).every(isUp), 'the cut sidecars recover by themselves', 30_000, 25);
  const recoveredMs = Date.now() - restoredAt;
  load.setPhase('restored');
  await waitFor(
    async () => (await Promise.all(all.map(async (n) => (await n.api.get('/healthz')).body.journalPending))).every((p) => p === 0),
    'journals replayed',
    30_000,
    50,
  );
  await load.waitForOps(300);
  await load.stop();

  const transitions = (cached.logs.slice(logMark).match(/ZooKeeper connection \w+ -> \w+/g) ?? []).map((l) => l.split(' ').pop());
  if (expectLost) assert.ok(transitions.includes('lost'), `lost reported: ${transitions}`);
  else assert.ok(!transitions.includes('lost'), `the session survived a short cut: ${transitions}`);
  await waitFor(
    async () => (await direct.api.cluster()).body.members.some((m: { nodeId: string }) => m.nodeId === 'cut-cached'),
    'the member is back',
    20_000,
    100,
  );
  await assertMirrorsEqualTree();
  for (const node of all) {
    for (const d of doomed)
      assert.equal(
        (await node.api.validate(d.token)).body.reason,
        'revoked',
        `${d.jti} revoked elsewhere during the cut, on ${node.spec.nodeId}`,
      );
    assert.equal((await node.api.validate(journaled.body.token)).status, 200, 'the journaled issue reached everyone');
  }
  assert.deepEqual(load.anomalies.slice(0, 10), [], `${load.anomalies.length} anomalies`);
  const ledger = await checkLedger(all, load.issued.values(), load.revoked, load.revokeUnknown);
  assert.deepEqual(ledger.issuesLost.slice(0, 10), []);
  assert.deepEqual(ledger.revocationsLost.slice(0, 10), []);
  const f = {
    scenario: label,
    cutMs: ms,
    noticedMs,
    reported,
    stateAtRestore,
    recoveredMs,
    transitions,
    ...load.summary(),
    issuesChecked: ledger.issuesChecked,
    revocationsChecked: ledger.revocationsChecked,
  };
  figures.push(f);
  t.diagnostic(`FIGURES ${JSON.stringify({ full: FULL, ...f })}`);
}

test('connection cut for less than the session timeout: suspended, served per policy, reconnected with the same session', async (t) => {
  await partition(t, 'short-cut', 'cut', size(1_500, 2_500), false);
});

test('connection cut past the session timeout: lost, served per policy, a new session and a resync', async (t) => {
  await partition(t, 'long-cut', 'cut', size(7_000, 30_000), true);
});

test('connection blackholed (nothing passes, nothing closes) past the session timeout: noticed, lost, recovered', async (t) => {
  await partition(t, 'blackhole', 'blackhole', size(8_000, 30_000), true);
});

test('answers lost on the way back (applied, never acknowledged), the tokens revoked on another node meanwhile: the replay does not bring them back', async (t) => {
  await waitFor(async () => (await Promise.all(all.map(storeState))).every(isUp), 'every sidecar connected', 30_000, 25);
  const logMark = cached.logs.length;
  for (const p of proxies) p.muteReplies();
  // requests reach ZooKeeper and are applied; their answers never come back: the sidecar times out, journals the
  // issues with the receipts of their transactions, and still answers the client (201, not replicated)
  const issued = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      const res = await cached.api.issue({ subject: `unanswered-${i % 8}` });
      assert.equal(res.status, 201, res.text);
      return { jti: res.body.jti as string, token: res.body.token as string, replicated: res.body.replicated as boolean };
    }),
  );
  assert.ok(
    issued.every((x) => !x.replicated),
    'journaled, not acknowledged by ZooKeeper',
  );
  // the client revokes them on the other node, which sees what ZooKeeper applied
  const revoked: string[] = [];
  for (const x of issued) {
    const res = await direct.api.revoke(x.jti);
    assert.ok(res.status === 204 || res.status === 404, res.text);
    if (res.status === 204) revoked.push(x.jti);
  }
  t.diagnostic(`${issued.length} issues unanswered, ${revoked.length} of them found applied and revoked on the direct node`);
  assert.ok(revoked.length > 0, 'some unanswered creates had been applied');
  for (const p of proxies) p.restore();
  await waitFor(async () => (await Promise.all(all.map(storeState))).every(isUp), 'the muted sidecars recover', 30_000, 25);
  await waitFor(
    async () => (await Promise.all(all.map(async (n) => (await n.api.get('/healthz')).body.journalPending))).every((p) => p === 0),
    'journals replayed',
    30_000,
    50,
  );
  await assertMirrorsEqualTree();
  for (const node of all) {
    for (const x of issued) {
      const res = await node.api.validate(x.token);
      if (revoked.includes(x.jti))
        assert.equal(res.body.reason, 'revoked', `${x.jti}, revoked on direct, came back on ${node.spec.nodeId}`);
      else assert.equal(res.status, 200, `${x.jti}, never revoked, on ${node.spec.nodeId}: ${res.text}`);
    }
  }
  const log = cached.logs.slice(logMark);
  assert.match(log, /issues whose answer was lost had been applied/, 'the replay settled the receipts');
  assert.doesNotMatch(log, /may have been revoked since/, 'nothing guessed');
});
