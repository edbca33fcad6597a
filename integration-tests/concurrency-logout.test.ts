import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { type SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { startSidecars } from './support/zk-sidecars.js';
import { FULL, claimsOf, size, sleep } from './support/load.js';
import { forEachBounded } from '../sidecar/util/for-each-bounded.js';

/**
 * Logout everywhere racing with issuing for the same subject on three sidecars. The promise of
 * `DELETE /v1/subjects/{s}/tokens`: once it returns with every member's acknowledgement
 * (`notYetAcknowledgedBy` empty), no token of that subject issued before it validates on any node, at once,
 * without waiting for anything. Tokens whose issue raced with the logout are judged by the logout generation
 * they carry (`lgn`) against the one the logout wrote (`gen`): lower ones refused everywhere, the others valid
 * everywhere (a logout does not stop the next login).
 */
const ROUNDS = size(30, 200);
let zk: ZooKeeperCluster;
let dir: string;
const nodes: SidecarProcess[] = [];

before(async () => {
  zk = await startZooKeeper({ servers: 3 });
  dir = await tempDir('tokensync-concurrency-logout-');
  const cli = await writeProperties(join(dir, 'cli.properties'), { 'app.data.dir': join(dir, 'cli') });
  assert.equal((await runCli(['secret', 'generate', '--config', cli])).code, 0);
  const props = {
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': `${zk.connectString}/concurrency-logout`,
    'cluster.store.zookeeper.shards': 32,
    'authentication.token.secret.file': join(dir, 'cli', 'token_secret'),
  };
  nodes.push(...(await startSidecars(['l1', 'l2', 'l3'], props, dir)));
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await zk?.close();
});

interface Issued {
  token: string;
  jti: string;
  lgn: number;
  node: string;
  answeredAt: number;
}

test(`logout everywhere racing with issuing for the same subject, ${ROUNDS} rounds on 3 sidecars: nothing issued before it validates anywhere`, async (t) => {
  const failures: string[] = [];
  let checkedBefore = 0;
  let racedOlder = 0;
  let racedNewer = 0;
  let maxLogoutMs = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const subject = `racer-${round}`;
    const issued: Issued[] = [];
    const issue = async (node: SidecarProcess) => {
      const res = await node.api.issue({ subject, kind: round % 4 === 3 ? 'api' : 'session' });
      assert.equal(res.status, 201, res.text);
      issued.push({
        token: res.body.token,
        jti: res.body.jti,
        lgn: claimsOf(res.body.token).lgn,
        node: node.spec.nodeId,
        answeredAt: Date.now(),
      });
    };
    for (const node of nodes) await issue(node);
    // issuers on every node keep going while the logout runs
    let racing = true;
    const issuers = nodes.map(async (node) => {
      while (racing) await issue(node);
    });
    await sleep(Math.random() * 20);
    const logoutNode = nodes[round % 3]!;
    const sentAt = Date.now();
    const out = await logoutNode.api.logout(subject);
    const returnedAt = Date.now();
    maxLogoutMs = Math.max(maxLogoutMs, returnedAt - sentAt);
    assert.equal(out.status, 200, out.text);
    if (out.body.notYetAcknowledgedBy.length !== 0) failures.push(`round ${round}: not acknowledged by ${out.body.notYetAcknowledgedBy}`);
    assert.deepEqual([...out.body.acknowledgedBy].sort(), ['l1', 'l2', 'l3']);
    const gen = out.body.gen as number;
    // at once, before anything else: every token answered before the logout was sent is refused everywhere
    const before = issued.filter((i) => i.answeredAt <= sentAt);
    await Promise.all(
      before.flatMap((i) =>
        nodes.map(async (node) => {
          const v = await node.api.validate(i.token);
          checkedBefore++;
          if (v.status !== 401 || v.body.reason !== 'revoked')
            failures.push(`round ${round}: ${i.jti} (issued on ${i.node} before the logout) on ${node.spec.nodeId}: ${v.status} ${v.text}`);
        }),
      ),
    );
    racing = false;
    await Promise.all(issuers);
    // the racers: judged by their logout generation against the one the logout wrote
    for (const i of issued.filter((x) => x.answeredAt > sentAt)) {
      const older = i.lgn < gen;
      if (older) racedOlder++;
      else racedNewer++;
      for (const node of nodes) {
        const v = await node.api.validate(i.token);
        const ok = older ? v.status === 401 && v.body.reason === 'revoked' : v.status === 200;
        if (!ok)
          failures.push(
            `round ${round}: ${i.jti} (lgn ${i.lgn} ${older ? '<' : '>='} gen ${gen}, issued on ${i.node}) on ${node.spec.nodeId}: ${v.status} ${v.text}`,
          );
      }
    }
  }
  t.diagnostic(
    `FIGURES ${JSON.stringify({ full: FULL, rounds: ROUNDS, sidecars: 3, tokensIssuedBeforeChecked: checkedBefore, racersOlderThanMarker: racedOlder, racersNewerThanMarker: racedNewer, maxLogoutMs, failures: failures.length })}`,
  );
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
});

test(`revoking on another node right after the issue, ${size(2_000, 10_000)} times: the revocation is never a 404 that revokes nothing`, async (t) => {
  const rounds = size(2_000, 10_000);
  const failures: string[] = [];
  // 16 at a time, so that the servers lag behind one another as they do under load
  await forEachBounded(
    Array.from({ length: rounds }, (_, i) => i),
    16,
    async (round) => {
      const issuer = nodes[round % 3]!;
      const revoker = nodes[(round + 1 + (round % 2)) % 3]!;
      const issued = await issuer.api.issue({ subject: `quick-${round}` });
      assert.equal(issued.status, 201, issued.text);
      const res = await revoker.api.revoke(issued.body.jti);
      if (res.status !== 204) {
        failures.push(
          `round ${round}: revoke on ${revoker.spec.nodeId} of a token issued on ${issuer.spec.nodeId} (replicated: ${String(issued.body.replicated)}): ${res.status} ${res.text}`,
        );
      }
    },
  );
  t.diagnostic(
    `FIGURES ${JSON.stringify({ full: FULL, scenario: 'revoke right after issue, other node', rounds, failures: failures.length })}`,
  );
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${rounds} revocations failed`);
});
