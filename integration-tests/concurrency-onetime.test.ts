import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { FULL, size } from './support/load.js';

/**
 * One-time tokens consumed by 8 racing consumers spread over 3 sidecars, half of them by `POST
 * /v1/tokens/consume` and half by presenting it at forward-auth (`GET /v1/auth`, which consumes it): exactly one
 * winner per token, the losers told `consumed`, nobody answered 5xx, and the token refused everywhere afterwards. Extends
 * zookeeper-cluster.test.ts ("4 consumers on 2 nodes, 100 rounds") to the size of the issue, on ZooKeeper
 * (a versioned delete decides) and on a shared DIRECTORY store (an atomic rename decides).
 */
const ROUNDS = size(150, 1_000);
const CONSUMERS = 8;
let zk: ZooKeeperCluster;
let dir: string;
let secretFile: string;
const started: SidecarProcess[] = [];

before(async () => {
  zk = await startZooKeeper({ servers: 3 });
  dir = await tempDir('tokensync-concurrency-onetime-');
  const cli = await writeProperties(join(dir, 'cli.properties'), { 'app.data.dir': join(dir, 'cli') });
  assert.equal((await runCli(['secret', 'generate', '--config', cli])).code, 0);
  secretFile = join(dir, 'cli', 'token_secret');
});

after(async () => {
  await Promise.all(started.map((n) => n.stop()));
  await zk?.close();
});

async function cluster(prefix: string, props: Record<string, string | number>): Promise<SidecarProcess[]> {
  const nodes: SidecarProcess[] = [];
  for (let i = 1; i <= 3; i++) {
    const id = `${prefix}${i}`;
    const node = await new SidecarProcess({
      nodeId: id,
      props: { ...props, 'authentication.token.secret.file': secretFile, 'app.data.dir': join(dir, id) },
      dir: join(dir, `${id}-conf`),
    }).start();
    nodes.push(node);
    started.push(node);
  }
  return nodes;
}

async function race(t: { diagnostic: (m: string) => void }, label: string, nodes: SidecarProcess[]) {
  const failures: string[] = [];
  const winnersByNode: Record<string, number> = {};
  const winnersByRoute: Record<string, number> = {};
  let presentations = 0;
  const startedAt = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    const issuer = nodes[round % 3]!;
    const issued = await issuer.api.issue({ subject: `otp-${label}-${round}`, kind: 'onetime' });
    assert.equal(issued.status, 201, issued.text);
    // 8 consumers over the 3 nodes, starting on a different node each round
    const consumers = Array.from({ length: CONSUMERS }, (_, i) => nodes[(round + i) % 3]!);
    const cookie = { cookie: `tokensync=${issued.body.token}` };
    const results = await Promise.all(consumers.map((n, i) => (i % 2 ? n.api.auth(cookie) : n.api.consume(issued.body.token))));
    presentations += results.length;
    const winners = results.filter((r) => r.status === 200);
    const losers = results.filter((r) => r.status === 401 && r.body.reason === 'consumed');
    if (winners.length !== 1 || losers.length !== CONSUMERS - 1) {
      failures.push(`round ${round}: ${results.map((r) => `${r.status}${r.body?.reason ? ` ${r.body.reason}` : ''}`).join(', ')}`);
    } else {
      const index = results.findIndex((r) => r.status === 200);
      const winner = consumers[index]!.spec.nodeId;
      winnersByNode[winner] = (winnersByNode[winner] ?? 0) + 1;
      const route = index % 2 ? 'auth' : 'consume';
      winnersByRoute[route] = (winnersByRoute[route] ?? 0) + 1;
    }
    if (round % 25 === 0) {
      // replayed anywhere afterwards: refused
      for (const n of nodes) {
        for (const again of [await n.api.consume(issued.body.token), await n.api.auth(cookie)]) {
          if (again.status !== 401 || again.body.reason !== 'consumed')
            failures.push(`round ${round}: replay on ${n.spec.nodeId} answered ${again.status} ${again.text}`);
        }
      }
    }
  }
  const figures = {
    full: FULL,
    store: label,
    rounds: ROUNDS,
    consumersPerToken: CONSUMERS,
    sidecars: nodes.length,
    presentations,
    roundsWithoutExactlyOneWinner: failures.length,
    winnersByNode,
    winnersByRoute,
    ms: Date.now() - startedAt,
  };
  t.diagnostic(`FIGURES ${JSON.stringify(figures)}`);
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${ROUNDS} rounds without exactly one winner`);
}

test(`one-time tokens on ZooKeeper: ${ROUNDS} rounds of ${CONSUMERS} concurrent consumers across 3 sidecars, exactly one winner each`, async (t) => {
  const nodes = await cluster('zk', {
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': `${zk.connectString}/concurrency-onetime`,
    'cluster.store.zookeeper.shards': 32,
  });
  await race(t, 'ZOOKEEPER', nodes);
  await Promise.all(nodes.map((n) => n.stop()));
});

test(`one-time tokens on a shared DIRECTORY store: ${ROUNDS} rounds of ${CONSUMERS} concurrent consumers across 3 sidecars, exactly one winner each`, async (t) => {
  const nodes = await cluster('dir', { 'cluster.store.directory.path': join(dir, 'shared'), 'cluster.store.directory.shards': 16 });
  await race(t, 'DIRECTORY', nodes);
  await Promise.all(nodes.map((n) => n.stop()));
});
