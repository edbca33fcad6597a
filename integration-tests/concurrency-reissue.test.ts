import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { type SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { startSidecars } from './support/zk-sidecars.js';
import { FULL, claimsOf, size, sleep } from './support/load.js';
import { forEachBounded } from '../sidecar/util/for-each-bounded.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Sliding reissue racing with revocation. Session tokens past half their lifetime are presented on all three
 * sidecars in a loop (each answer's reissued token is presented next, a chain of cookies with the same `jti`
 * and later and later `exp`) while the token is revoked on one node, by jti or by logging its subject out
 * everywhere. A reissue never brings a revoked token back: once the revocation has reached a node (at the
 * latest a watch notification later; a logout is acknowledged by every node before it returns), the original
 * and every reissued copy, including copies handed out by a lagging node after the revocation returned, are
 * refused there for good.
 */
const TOKENS = size(60, 400);
const TTL_S = 4;
let zk: ZooKeeperCluster;
let dir: string;
const nodes: SidecarProcess[] = [];

before(async () => {
  zk = await startZooKeeper({ servers: 3 });
  dir = await tempDir('tokensync-concurrency-reissue-');
  const cli = await writeProperties(join(dir, 'cli.properties'), { 'app.data.dir': join(dir, 'cli') });
  assert.equal((await runCli(['secret', 'generate', '--config', cli])).code, 0);
  const props = {
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': `${zk.connectString}/concurrency-reissue`,
    'cluster.store.zookeeper.shards': 32,
    'authentication.token.secret.file': join(dir, 'cli', 'token_secret'),
  };
  nodes.push(...(await startSidecars(['r1', 'r2', 'r3'], props, dir)));
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await zk?.close();
});

async function issueBatch(first: number, n: number): Promise<Array<{ token: string; jti: string; subject: string }>> {
  const issued: Array<{ token: string; jti: string; subject: string }> = [];
  await forEachBounded(
    Array.from({ length: n }, (_, i) => first + i),
    8,
    async (i) => {
      const subject = `slider-${i}`;
      const res = await nodes[i % 3]!.api.issue({ subject, ttl: TTL_S });
      assert.equal(res.status, 201, res.text);
      issued.push({ token: res.body.token, jti: res.body.jti, subject });
    },
  );
  return issued;
}

test(`sliding reissue racing with revocation (by jti and by logout), ${TOKENS} tokens on 3 sidecars: a revoked token is never brought back`, async (t) => {
  const failures: string[] = [];
  let reissues = 0;
  let reissuedAfterRevocation = 0;
  let maxPropagationMs = 0;
  const everySeen = new Map<string, Set<string>>();
  // in batches of 60: each batch is issued, waited on until past half its lifetime, then raced
  for (let first = 0; first < TOKENS; first += 60) {
    const issued = await issueBatch(first, Math.min(60, TOKENS - first));
    await sleep((TTL_S / 2 + 0.7) * 1000);
    const probe = await nodes[0]!.api.validate(issued[0]!.token);
    assert.ok(probe.body.reissued, `reissue is due: ${probe.text}`);
    await raceBatch(issued);
  }

  async function raceBatch(issued: Array<{ token: string; jti: string; subject: string }>) {
    await forEachBounded(issued.entries(), 6, async ([i, tok]) => {
      const copies = new Set<string>([tok.token]);
      everySeen.set(tok.jti, copies);
      let revokedAt = 0;
      let revoking = true;
      // presenters: one per node, each presenting the latest copy it got
      const presenters = nodes.map(async (node) => {
        let current = tok.token;
        while (revoking || Date.now() - revokedAt < 50) {
          const v = await node.api.validate(current);
          if (v.status !== 200) break;
          if (v.body.reissued) {
            reissues++;
            if (revokedAt) reissuedAfterRevocation++;
            current = v.body.reissued.token;
            copies.add(current);
            assert.equal(claimsOf(current).jti, tok.jti, 'a reissue keeps the jti');
            assert.equal(claimsOf(current).ath, claimsOf(tok.token).ath, 'a reissue keeps the first-login time');
          }
        }
      });
      await sleep(Math.random() * 15);
      const revoker = nodes[(i + 1) % 3]!;
      const byLogout = i % 4 === 0;
      const res = byLogout ? await revoker.api.logout(tok.subject) : await revoker.api.revoke(tok.jti);
      revokedAt = Date.now();
      if (byLogout) {
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.body.notYetAcknowledgedBy, []);
      } else assert.equal(res.status, 204, res.text);
      revoking = false;
      await Promise.all(presenters);
      // every copy, on every node: refused once the revocation got there, and for good
      for (const node of nodes) {
        for (const copy of copies) {
          await waitFor(
            async () => (await node.api.validate(copy)).status === 401,
            `${tok.jti} copy refused on ${node.spec.nodeId}`,
            10_000,
            5,
          ).catch((err) => failures.push((err as Error).message));
          // an upper bound: includes the checks of the copies before this one
          maxPropagationMs = Math.max(maxPropagationMs, Date.now() - revokedAt);
          if (byLogout) {
            // a logout returns once every node applied it: refused at once, not eventually
            const v = await node.api.validate(copy);
            if (v.status !== 401) failures.push(`${tok.jti}: a copy valid on ${node.spec.nodeId} after the logout returned`);
          }
        }
      }
    });
  }
  // and again, later: nothing came back
  await sleep(500);
  let rechecked = 0;
  for (const [jti, copies] of everySeen) {
    for (const copy of copies) {
      for (const node of nodes) {
        const v = await node.api.validate(copy);
        rechecked++;
        if (v.status !== 401 || v.body.reason !== 'revoked')
          failures.push(`${jti} came back on ${node.spec.nodeId}: ${v.status} ${v.text}`);
      }
    }
  }
  t.diagnostic(
    `FIGURES ${JSON.stringify({ full: FULL, tokens: TOKENS, sidecars: 3, reissues, reissuedByALaggingNodeAfterRevocation: reissuedAfterRevocation, copiesRechecked: rechecked, maxMsUntilRefusedEverywhere: maxPropagationMs, failures: failures.length })}`,
  );
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
});
