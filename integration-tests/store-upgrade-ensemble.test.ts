import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { BIN, SidecarProcess, runCli, writeProperties } from './support/sidecar-process.js';
import { zooKeeperSidecarProps, startSidecars } from './support/zk-sidecars.js';
import { assertMirrorsEqualTree, connectRaw, readTree } from './support/zk-tree.js';
import { LoadRun, checkLedger, size, issueStable } from './support/load.js';
import { populate } from '../bench/support/populate.js';
import { parseRecordName } from '../sidecar/store/token-record.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * `tokensync store upgrade` on a live THREE-server ensemble holding a layout-1 tree, three sidecars serving,
 * issuing and revoking throughout, and the leader killed while records are being renamed, then restarted. The run
 * must carry on across the election (or the test says it did not), and afterwards: every record has its layout-2
 * name, no record of before is lost, every acknowledged issue validates and every acknowledged revocation is refused
 * on every node, and every mirror equals the tree. A second run is a no-op that says so.
 */
const CHROOT = '/upgrade-ensemble';
const SHARDS = 64;
/** Enough that renaming lasts several seconds on three servers, so that the kill lands inside it. */
const RECORDS = size(20_000, 100_000);

let zk: ZooKeeperCluster;
let dir: string;
let props: Record<string, string | number | boolean>;
const nodes: SidecarProcess[] = [];

before(async () => {
  zk = await startZooKeeper({ servers: 3 });
  ({ dir, props } = await zooKeeperSidecarProps(zk.connectString, CHROOT, { prefix: 'tokensync-upgrade-ens-', shards: SHARDS }));
  // the tree as a tokensync before layout 2 left it: /meta says 1, records named without their expiry
  await populate(zk.connectString, CHROOT, RECORDS, () => undefined, SHARDS, 1);
  nodes.push(...(await startSidecars(['u1', 'u2', 'u3'], props, dir)));
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await zk?.close();
});

test('store upgrade on a live three-server ensemble, the leader killed and restarted mid-rename: resumes, nothing lost, nothing revoked comes back', async (t) => {
  for (const node of nodes) {
    const notices = node.logs.split('\n').filter((l) => /has layout 1/.test(l));
    assert.equal(notices.length, 1, `one line on ${node.spec.nodeId}: ${node.logs}`);
    assert.ok(notices[0]!.includes(`convert it while running with: tokensync store upgrade --config ${node.configPath}`), notices[0]);
  }
  const raw = await connectRaw(zk.connectString);
  t.after(() => raw.close());
  const before = new Set((await readTree(raw, CHROOT)).map((n) => parseRecordName(n)!.jti));
  assert.equal(before.size, RECORDS);

  const stable = await issueStable(nodes);
  const load = new LoadRun(nodes, {
    validators: 3,
    issuers: 2,
    revokers: 2,
    stable,
    maxOps: 1_000_000,
    maxMs: 300_000,
    subject: 'up',
  }).start();
  t.after(() => load.stop()); // a failed assertion must not leave the load running until maxMs
  await load.waitForOps(200);

  const ops = await writeProperties(join(dir, 'ops.properties'), { ...props, 'node.id': 'ops', 'app.data.dir': join(dir, 'ops') });
  load.setPhase('upgrading');
  const run = startCli(['store', 'upgrade', '--config', ops, '--concurrency', '2']);
  t.after(() => run.kill());
  await waitFor(() => /^shards \d+\/\d+/m.test(run.stderr) || run.code !== undefined, 'renaming under way', 60_000, 20);
  const leader = await zk.leaderIndex();
  assert.notEqual(leader, undefined, 'a leader before the kill');
  load.setPhase('leader-killed');
  await zk.kill(leader!);
  const killedMidRename = run.code === undefined;
  await zk.waitForQuorum();
  await new Promise((r) => setTimeout(r, 1_000));
  load.setPhase('leader-restarted');
  await zk.start(leader!);
  await zk.waitForQuorum();
  await waitFor(() => run.code !== undefined, 'the upgrade ends', 180_000, 100);
  assert.ok(killedMidRename, `the leader was killed after the upgrade had ended: make RECORDS larger\n${run.stderr}`);
  t.diagnostic(`UPGRADE ${JSON.stringify({ code: run.code, stdout: run.stdout.trim(), stderr: run.stderr.trim().split('\n') })}`);
  assert.equal(run.code, 0, `the upgrade carries on across the election:\n${run.stderr}`);
  assert.match(run.stderr, /^upgrading ZOOKEEPER \S+ from layout 1 to 2$/m);
  assert.match(run.stderr, new RegExp(`^shards ${SHARDS}/${SHARDS}, \\d+ records renamed$`, 'm'), 'progress to the last shard');
  assert.match(run.stdout, /^layout 2: \d+ records renamed, \d+ gone meanwhile, 0 skipped, in [\d.]+ s \(\d pass(es)?\)$/m);

  load.setPhase('after');
  await load.waitForOps(200);
  await load.stop();
  await waitFor(
    async () => (await Promise.all(nodes.map(async (n) => (await n.api.get('/healthz')).body.journalPending))).every((p) => p === 0),
    'journals replayed',
    30_000,
    100,
  );
  const summary = load.summary();
  t.diagnostic(`LOAD ${JSON.stringify(summary)}`);
  assert.deepEqual(load.anomalies.slice(0, 10), [], `${load.anomalies.length} requests refused`);
  assert.ok(load.counts.issue.ok > 20 && load.counts.revoke.ok > 10, `load ran: ${JSON.stringify(summary)}`);

  const names = await readTree(raw, CHROOT);
  const layout1 = names.filter((n) => parseRecordName(n)?.expiresAt === undefined);
  assert.deepEqual(layout1.slice(0, 5), [], `${layout1.length} records left with layout-1 names`);
  const after = new Set(names.map((n) => parseRecordName(n)!.jti));
  const lost = [...before].filter((jti) => !after.has(jti));
  assert.deepEqual(lost.slice(0, 5), [], `${lost.length} records of before the upgrade lost`);
  const ledger = await checkLedger(nodes, [...stable, ...load.issued.values()], load.revoked, load.revokeUnknown);
  t.diagnostic(`LEDGER ${JSON.stringify({ issuesChecked: ledger.issuesChecked, revocationsChecked: ledger.revocationsChecked })}`);
  assert.deepEqual(ledger.issuesLost, []);
  assert.deepEqual(ledger.revocationsLost, []);
  await assertMirrorsEqualTree(zk.connectString, CHROOT, nodes);

  const again = await runCli(['store', 'upgrade', '--config', ops]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^ZOOKEEPER \S+ has layout 2 already and every record its layout-2 name: nothing to do$/m);
});

/** The CLI as a child whose output can be watched while it runs (runCli waits for the end). */
function startCli(args: string[]): { stdout: string; stderr: string; code: number | null | undefined; kill(): void } {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const state = {
    stdout: '',
    stderr: '',
    code: undefined as number | null | undefined,
    kill: () => void (state.code === undefined && proc.kill('SIGKILL')),
  };
  proc.stdout.on('data', (c: Buffer) => (state.stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (state.stderr += c.toString()));
  proc.on('exit', (code) => (state.code = code));
  return state;
}
