import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess, runCli, startSidecars, tempDir, writeProperties } from './support/sidecar-process.js';
import { zooKeeperSidecarProps } from './support/zk-sidecars.js';
import { request, type HttpResult } from './support/http.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Issue 15: a one-time token lets exactly one request through, wherever it is presented. Two real sidecars on
 * a real ZooKeeper and two on a shared DIRECTORY store: `GET /v1/auth` (any method, any path below it)
 * consumes the token, so the first presentation on any node is 200 and every later one, on every node, is 401
 * `consumed`; `POST /v1/validate` only peeks (`consumed: false`) and grants nothing; with the store
 * unreachable forward-auth answers 503, never 200.
 */

const RACE_ROUNDS = 30;
const cookie = (token: string) => ({ cookie: `tokensync=${token}` });

function oneLine(res: HttpResult): string {
  return `${res.status} ${String(res.headers['x-auth-reason'] ?? '')} ${res.text}`.trim();
}

/** The consumptions a sidecar counted, by result. */
async function consumptions(node: SidecarProcess): Promise<Record<string, number>> {
  const text = (await node.api.get('/metrics')).text;
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^tokensync_onetime_consumptions_total\{result="(\w+)"\} (\d+)$/gm)) counts[m[1]!] = Number(m[2]);
  return counts;
}

function suite(
  label: string,
  start: () => Promise<{ a: SidecarProcess; b: SidecarProcess }>,
  extra?: (nodes: () => { a: SidecarProcess; b: SidecarProcess }) => void,
) {
  describe(`one-time tokens at forward-auth on ${label}`, () => {
    let a: SidecarProcess;
    let b: SidecarProcess;
    before(async () => {
      ({ a, b } = await start());
    });

    test('issued on A, presented at GET /v1/auth on A: 200 once, then 401 consumed on A and on B, by cookie or bearer, and at /v1/tokens/consume', async () => {
      const issued = await a.api.issue({ subject: 'carol', kind: 'onetime' });
      assert.equal(issued.status, 201, issued.text);
      const first = await a.api.auth(cookie(issued.body.token));
      assert.equal(first.status, 200, oneLine(first));
      assert.equal(first.headers['x-auth-subject'], 'carol');
      assert.equal(first.headers['x-auth-token-kind'], 'onetime');
      assert.equal(first.headers['x-auth-token-id'], issued.body.jti);
      for (const node of [a, b, a, b]) {
        for (const headers of [cookie(issued.body.token), { authorization: `Bearer ${issued.body.token}` }]) {
          const again = await node.api.auth(headers);
          assert.equal(again.status, 401, `${node.spec.nodeId}: ${oneLine(again)}`);
          assert.equal(again.headers['x-auth-reason'], 'consumed');
          assert.equal(again.body.reason, 'consumed');
        }
      }
      const consume = await b.api.consume(issued.body.token);
      assert.deepEqual([consume.status, consume.body.reason], [401, 'consumed']);
    });

    test("issued on A, used first through B: B lets it through once, A then refuses it (whatever A's mirror has heard)", async () => {
      const issued = await a.api.issue({ subject: 'dan', kind: 'onetime' });
      // Presented on A right away would be answered from A's mirror; on B the record may not have arrived yet,
      // and B confirms it in the store. Either way: one 200.
      const first = await b.api.auth(cookie(issued.body.token));
      assert.equal(first.status, 200, oneLine(first));
      const onA = await a.api.auth(cookie(issued.body.token));
      assert.deepEqual([onA.status, onA.headers['x-auth-reason']], [401, 'consumed'], oneLine(onA));
    });

    test('POST /v1/validate only peeks: valid, kind onetime, consumed false, on both nodes and again; the one forward-auth still passes', async () => {
      const issued = await a.api.issue({ subject: 'erin', kind: 'onetime' });
      for (const node of [a, b, a, b]) {
        const peek = await node.api.validate(issued.body.token);
        assert.equal(peek.status, 200, peek.text);
        assert.deepEqual(
          { valid: peek.body.valid, kind: peek.body.kind, consumed: peek.body.consumed, subject: peek.body.subject, jti: peek.body.jti },
          { valid: true, kind: 'onetime', consumed: false, subject: 'erin', jti: issued.body.jti },
        );
      }
      assert.equal((await b.api.auth(cookie(issued.body.token))).status, 200);
      const afterOnB = await b.api.validate(issued.body.token);
      assert.deepEqual([afterOnB.status, afterOnB.body.reason], [401, 'consumed']);
      // A hears of the consumption from the store's change notification (a peek answers from the mirror).
      await waitFor(async () => (await a.api.validate(issued.body.token)).status === 401, 'the consumption to reach A', 5000, 20);
      assert.equal((await a.api.validate(issued.body.token)).body.reason, 'consumed');
      // A session token is not touched by any of this: validate answers without `consumed`.
      const session = await a.api.issue({ subject: 'erin' });
      const v = await b.api.validate(session.body.token);
      assert.equal(v.status, 200);
      assert.equal('consumed' in v.body, false);
    });

    test(`${RACE_ROUNDS} tokens, each presented 6 times at once on two nodes (GET, HEAD, POST, paths below /v1/auth) and consumed once: exactly one 200 per token`, async () => {
      const before = [await consumptions(a), await consumptions(b)];
      const failures: string[] = [];
      let granted = 0;
      for (let round = 0; round < RACE_ROUNDS; round++) {
        const issued = await (round % 2 ? b : a).api.issue({ subject: `racer-${round}`, kind: 'onetime' });
        const token = issued.body.token as string;
        const tries: Promise<HttpResult>[] = [
          request(a.url, 'GET', '/v1/auth', { headers: cookie(token) }),
          request(b.url, 'GET', '/v1/auth/app/page?x=1', { headers: cookie(token) }),
          request(a.url, 'POST', '/v1/auth/upload', { headers: cookie(token) }),
          request(b.url, 'HEAD', '/v1/auth', { headers: { authorization: `Bearer ${token}` } }),
          request(a.url, 'GET', '/v1/auth?next=/', { headers: { authorization: `Bearer ${token}` } }),
          request(b.url, 'POST', '/v1/tokens/consume', { body: { token } }),
        ];
        const results = await Promise.all(tries);
        const wins = results.filter((r) => r.status === 200).length;
        const consumed = results.filter(
          (r) => r.status === 401 && (r.headers['x-auth-reason'] === 'consumed' || r.body?.reason === 'consumed'),
        ).length;
        granted += wins;
        if (wins !== 1 || consumed !== results.length - 1)
          failures.push(
            `round ${round}: ${results.map((r) => `${r.status} ${r.headers['x-auth-reason'] ?? r.body?.reason ?? ''}`).join(', ')}`,
          );
      }
      assert.deepEqual(failures, [], `${failures.length} of ${RACE_ROUNDS} rounds without exactly one 200`);
      // Every grant, at forward-auth or at /v1/tokens/consume, is one consumption won in the metrics.
      const after = [await consumptions(a), await consumptions(b)];
      const won = after.reduce((n, c, i) => n + (c.won ?? 0) - (before[i]!.won ?? 0), 0);
      assert.equal(won, granted);
    });

    extra?.(() => ({ a, b }));
  });
}

// ---- ZooKeeper: a versioned delete decides -------------------------------------------------------------------

let zk: ZooKeeperCluster | undefined;
const zkNodes: SidecarProcess[] = [];
let zkDir: string | undefined;

suite(
  'ZooKeeper',
  async () => {
    zk = await startZooKeeper({ servers: 1 });
    const { dir, props } = await zooKeeperSidecarProps(zk.connectString, '/onetime-forward-auth', {
      prefix: 'tokensync-onetime-zk-',
      sessionTimeout: '4s',
    });
    zkDir = dir;
    const nodes = await startSidecars(
      ['a', 'b'].map((id) => ({ nodeId: id, dir: join(dir, `${id}-conf`), props: { ...props, 'app.data.dir': join(dir, id) } })),
    );
    zkNodes.push(...nodes);
    return { a: nodes[0]!, b: nodes[1]! };
  },
  (nodes) => {
    test('ZooKeeper down: a one-time token at /v1/auth is 503 on both nodes (a session token still passes, serve-cached); back up, it passes once', async () => {
      const { a, b } = nodes();
      const onetime = await a.api.issue({ subject: 'frank', kind: 'onetime' });
      const session = await a.api.issue({ subject: 'frank' });
      await waitFor(async () => (await b.api.validate(onetime.body.token)).status === 200, 'B to know the token', 5000, 20);
      await zk!.stop(0);
      await waitFor(
        async () => {
          const states = await Promise.all([a, b].map(async (n) => (await n.api.get('/healthz')).body.store));
          return states.every((s) => s === 'suspended' || s === 'lost');
        },
        'both sidecars to notice the store is gone',
        20_000,
        50,
      );
      for (const node of [a, b, a, b]) {
        const res = await node.api.auth(cookie(onetime.body.token));
        assert.equal(res.status, 503, `${node.spec.nodeId}: ${oneLine(res)}`);
        assert.equal(res.body.error, 'store.unavailable');
        assert.equal(
          (await node.api.auth(cookie(session.body.token))).status,
          200,
          'the outage policy serve-cached still validates a session',
        );
      }
      assert.equal((await consumptions(a)).unavailable, 2);
      await zk!.start(0);
      await waitFor(
        async () => {
          const states = await Promise.all([a, b].map(async (n) => (await n.api.get('/healthz')).body.store));
          return states.every((s) => s === 'connected' || s === 'reconnected');
        },
        'both sidecars to reconnect',
        30_000,
        50,
      );
      const results = await Promise.all([a, b, a, b].map((n) => n.api.auth(cookie(onetime.body.token))));
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 401, 401, 401], results.map(oneLine).join('\n'));
    });
  },
);

after(async () => {
  await Promise.all(zkNodes.map((n) => n.stop()));
  await zk?.close();
  if (zkDir) await rm(zkDir, { recursive: true, force: true });
});

// ---- a shared DIRECTORY store: an atomic rename decides -----------------------------------------------------

const dirNodes: SidecarProcess[] = [];
let sharedDir: string | undefined;

suite('a shared DIRECTORY store', async () => {
  sharedDir = await tempDir('tokensync-onetime-dir-');
  const secret = join(sharedDir, 'token_secret');
  const gen = await runCli([
    'secret',
    'generate',
    '--config',
    await writeProperties(join(sharedDir, 'cli.properties'), { 'authentication.token.secret.file': secret }),
  ]);
  assert.equal(gen.code, 0, gen.stderr);
  const nodes = await startSidecars(
    ['a', 'b'].map((id) => ({
      nodeId: id,
      dir: join(sharedDir!, `${id}-conf`),
      props: {
        'app.data.dir': join(sharedDir!, id),
        'cluster.store.directory.path': join(sharedDir!, 'store'),
        'authentication.token.secret.file': secret,
      },
    })),
  );
  dirNodes.push(...nodes);
  return { a: nodes[0]!, b: nodes[1]! };
});

after(async () => {
  await Promise.all(dirNodes.map((n) => n.stop()));
  if (sharedDir) await rm(sharedDir, { recursive: true, force: true });
});
