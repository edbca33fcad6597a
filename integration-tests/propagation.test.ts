import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startSkewCluster, type SkewStore } from './support/skew-cluster.js';
import { FAKETIME_MISSING, faketimeLibrary } from './support/faketime.js';
import type { SidecarProcess } from './support/sidecar-process.js';
import { assertMirrorsEqualTree, connectRaw } from './support/zk-tree.js';
import { waitFor } from '../sidecar/util/wait-for.js';
import { isProbeName } from '../sidecar/store/probe-record.js';
import { parseRecordName } from '../sidecar/store/token-record.js';
import { readSecretFile } from '../sidecar/tokens/secret-file.js';
import { TokenCodec } from '../sidecar/tokens/token-codec.js';

/**
 * Issue and revoke propagation as `GET /v1/stats` reports it (the console's Live view): three real sidecar
 * processes on one store, their wall clocks 30 s apart each way (DIRECTORY: 10 s, see OFFSETS). Every node must report, for each other member,
 * an issue and a revoke figure of a few ms to a few hundred, never the tens of seconds a comparison of two
 * nodes' clocks would give. Meanwhile the probe records in the store must never show as tokens: not in
 * listings, counts, mirror digests, inspection, revocation or validation (even signed with the cluster's key).
 */
// DIRECTORY lists a member only while its heartbeat file's updatedAt (the writer's clock) is within 60 s of the
// reader's (directory-members.ts): 60 s apart, "ahead" and "behind" would not see each other as members at all
const OFFSETS = { ZOOKEEPER: { n0: 0, ahead: 30, behind: -30 }, DIRECTORY: { n0: 0, ahead: 10, behind: -10 } } as const;
type NodeName = keyof (typeof OFFSETS)['ZOOKEEPER'];
const skip = faketimeLibrary() ? false : FAKETIME_MISSING;
// probes run every 10 s here (5 s per other member), alternating create and delete: both figures take 2 to 4 rounds
// (waitFor scales this by TOKENSYNC_TEST_TIME_SCALE)
const WAIT = 60_000;

interface OpFigures {
  samples: number;
  p50Ms: number | null;
  maxMs: number | null;
  members: Record<string, { lastMs: number | null; missed: number }>;
}

for (const store of ['ZOOKEEPER', 'DIRECTORY'] as SkewStore[]) {
  test(
    `${store}: each node reports issue and revoke propagation to every other member; probes never show as tokens`,
    { skip },
    async () => {
      await using cluster = await startSkewCluster(
        store,
        (Object.keys(OFFSETS[store]) as NodeName[]).map((id) => ({ nodeId: id, offset: OFFSETS[store][id] })),
      );
      const nodes = [...cluster.nodes.values()];
      const issued: string[] = [];
      for (const node of nodes) {
        for (let i = 0; i < 3; i++) {
          const res = await node.api.issue({ subject: `user-${node.spec.nodeId}` });
          assert.equal(res.status, 201, res.text);
          issued.push(res.body.jti as string);
        }
      }
      let last = '';
      await waitFor(
        async () => {
          await assertNoProbeShows(nodes, issued.length);
          const stats = await Promise.all(nodes.map(async (n) => (await n.api.get('/v1/stats')).body.propagation));
          last = JSON.stringify(stats);
          return nodes.every((node, i) =>
            nodes
              .filter((other) => other !== node)
              .every((other) => [stats[i].issue, stats[i].revoke].every((o: OpFigures) => o.members[other.spec.nodeId]?.lastMs != null)),
          );
        },
        'every node has an issue and a revoke figure for each other member',
        WAIT,
        500,
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${last}`);
      });

      for (const node of nodes) {
        const p = (await node.api.get('/v1/stats')).body.propagation as { intervalMs: number; issue: OpFigures; revoke: OpFigures };
        assert.equal(p.intervalMs, 10_000, '5 s per other member');
        for (const op of ['issue', 'revoke'] as const) {
          const o = p[op];
          assert.deepEqual(
            Object.keys(o.members).sort(),
            nodes
              .filter((n) => n !== node)
              .map((n) => n.spec.nodeId)
              .sort(),
            `${op}: others only`,
          );
          // an upper bound measured on one clock: the clocks' differences (10 s and more) never show
          for (const m of Object.values(o.members))
            if (m.lastMs !== null) assert.ok(m.lastMs >= 0 && m.lastMs < 4_500, `${op}: ${m.lastMs} ms`);
          assert.ok(o.samples >= 1 && o.p50Ms !== null && o.maxMs !== null && o.p50Ms <= o.maxMs);
          console.log(
            `${store} ${node.spec.nodeId} ${op} propagation: p50 ${o.p50Ms} ms, max ${o.maxMs} ms over ${o.samples} figures; ` +
              Object.entries(o.members)
                .map(([id, m]) => `${id} ${m.lastMs} ms (missed ${m.missed})`)
                .join(', '),
          );
        }
        const metrics = (await node.api.get('/metrics')).text;
        assert.match(metrics, /^tokensync_propagation_seconds_count\{op="issue"\} [1-9]/m);
        assert.match(metrics, /^tokensync_propagation_seconds_count\{op="revoke"\} [1-9]/m);
      }

      // a probe record as it sits in the store, caught while it is there (it lives every other 5 s interval)
      let probeName: string | undefined;
      await waitFor(
        async () => (probeName = (await storeNames(nodes[0]!, store)).find(isProbeName)) !== undefined,
        'a probe record in the store',
        WAIT,
        100,
      );
      const probe = parseRecordName(probeName!)!;
      const n0 = cluster.node('n0');
      assert.equal((await n0.api.inspect(probe.jti)).status, 404, 'inspect: no such token');
      const codec = new TokenCodec(await readSecretFile(n0.spec.props['authentication.token.secret.file'] as string));
      const now = Math.floor(Date.now() / 1000);
      const signed = codec.sign({ sub: probe.subject, jti: probe.jti, knd: 'session', iat: now, exp: now + 600, ath: Date.now() });
      const validated = await n0.api.validate(signed);
      assert.equal(validated.status, 401, `a token signed with the cluster's key for a probe's jti: ${validated.text}`);
      assert.equal(validated.body.reason, 'revoked');
      assert.equal((await n0.api.issue({ token: signed })).status, 400, 'nor can one be mirrored');
      assert.equal((await n0.api.revoke(probe.jti)).status, 404, 'revoke: no such token');

      await assertNoProbeShows(nodes, issued.length);
      if (store === 'ZOOKEEPER') {
        const [connect, chroot] = splitConnect(n0);
        await assertMirrorsEqualTree(connect, chroot, nodes);
      }
    },
  );
}

/** Listings, subject listings and counts on every node hold the issued tokens and nothing else. */
async function assertNoProbeShows(nodes: SidecarProcess[], tokens: number): Promise<void> {
  for (const node of nodes) {
    const listed = await node.api.list('?limit=1000');
    assert.equal(listed.status, 200, listed.text);
    const jtis = (listed.body.items as Array<{ jti: string }>).map((r) => r.jti);
    assert.equal(jtis.filter(isProbeName).length, 0, `listing of ${node.spec.nodeId}: ${jtis.join()}`);
    assert.equal(jtis.length, tokens);
    for (const prober of nodes) {
      const bySubject = await node.api.list(`?subject=${encodeURIComponent(`tokensync-probe:${prober.spec.nodeId}`)}`);
      assert.deepEqual(bySubject.body.items, [], 'no probe by its subject either');
    }
    const cluster = (await node.api.get('/v1/cluster?digest=1')).body;
    assert.equal(cluster.mirror.size, tokens, `mirror size of ${node.spec.nodeId}`);
    assert.equal(cluster.mirror.digest.size, tokens, `mirror digest of ${node.spec.nodeId}`);
  }
}

/** Every name in the store's tokens folder, probes included (read behind the sidecars' backs). */
async function storeNames(node: SidecarProcess, store: SkewStore): Promise<string[]> {
  if (store === 'DIRECTORY') {
    const root = join(node.spec.props['cluster.store.directory.path'] as string, 'tokens');
    return (await Promise.all((await readdir(root)).map((s) => readdir(join(root, s)).catch(() => [])))).flat();
  }
  const [connect, chroot] = splitConnect(node);
  const client = await connectRaw(connect);
  try {
    const shards = (await client.get_children(`${chroot}/tokens`, false)) as string[];
    return (await Promise.all(shards.map((s) => client.get_children(`${chroot}/tokens/${s}`, false) as Promise<string[]>))).flat();
  } finally {
    client.close();
  }
}

function splitConnect(node: SidecarProcess): [connect: string, chroot: string] {
  const full = node.spec.props['cluster.store.zookeeper.connect'] as string;
  const slash = full.indexOf('/');
  return [full.slice(0, slash), full.slice(slash)];
}
