import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess, runCli, startSidecars, tempDir, writeProperties } from './support/sidecar-process.js';
import { rawClient } from './support/zk-test-support.js';
import { CreateMode } from '../sidecar/store/zookeeper/zk-client.js';
import { silentLogger } from '../sidecar/util/logger.js';
import { parseRecordName } from '../sidecar/store/token-record.js';

/**
 * `tokensync store upgrade` on a live two-node cluster whose store has layout 1 (as a tokensync before layout 2
 * left it), for each store type: a client validates every token issued so far and keeps logging users in (issued
 * on one node, validated at once on the other) throughout. No validation may fail, every token issued during the
 * run must be in the store under its layout-2 name afterwards, and the nodes must write layout 2 from then on.
 */
let zk: ZooKeeperCluster;
let dir: string;

before(async () => {
  zk = await startZooKeeper({ servers: 1 });
  dir = await tempDir('tokensync-upgrade-');
});

after(async () => {
  await zk?.close();
});

const SHARDS = 16;

for (const type of ['DIRECTORY', 'ZOOKEEPER'] as const) {
  test(`store upgrade converts a live two-node ${type} cluster from layout 1 to 2: no validation fails, nothing issued meanwhile is lost`, async () => {
    const base = join(dir, type.toLowerCase());
    const storeDir = join(base, 'store');
    await mkdir(base, { recursive: true });
    const props: Record<string, string | number | boolean> =
      type === 'DIRECTORY'
        ? {
            'cluster.store.directory.path': storeDir,
            'cluster.store.directory.rescan.interval': '1s',
            'cluster.store.directory.shards': SHARDS,
          }
        : {
            'cluster.store.type': 'ZOOKEEPER',
            'cluster.store.zookeeper.connect': `${zk.connectString}/upgrade`,
            'cluster.store.zookeeper.session.timeout': '4s',
            'cluster.store.zookeeper.shards': SHARDS,
          };
    Object.assign(props, { 'authentication.token.secret.file': join(base, 'token_secret') });
    // the store as layout 1 left it: meta says 1
    if (type === 'DIRECTORY') {
      await mkdir(storeDir, { recursive: true });
      await writeFile(join(storeDir, 'meta.json'), JSON.stringify({ layoutVersion: 1, shards: SHARDS }));
    } else {
      const raw = await rawClient(zk.connectString, silentLogger());
      await raw.create('/upgrade', '', CreateMode.PERSISTENT);
      await raw.create('/upgrade/meta', JSON.stringify({ layoutVersion: 1, shards: SHARDS }), CreateMode.PERSISTENT);
      raw.close();
    }
    const ops = await writeProperties(join(base, 'ops.properties'), { ...props, 'node.id': 'ops', 'app.data.dir': join(base, 'ops') });
    assert.equal((await runCli(['secret', 'generate', '--config', ops])).code, 0);
    const [a, b] = (await startSidecars([
      { nodeId: 'a', dir: join(base, 'a'), props: { ...props, 'app.data.dir': join(base, 'a') } },
      { nodeId: 'b', dir: join(base, 'b'), props: { ...props, 'app.data.dir': join(base, 'b') } },
    ])) as [SidecarProcess, SidecarProcess];
    try {
      for (const node of [a, b]) {
        const notices = node.logs.split('\n').filter((l) => /has layout 1/.test(l));
        assert.equal(notices.length, 1, `one line: ${node.logs}`);
        assert.ok(notices[0]!.includes(`convert it while running with: tokensync store upgrade --config ${node.configPath}`), notices[0]);
      }
      const pool: Array<{ token: string; jti: string }> = [];
      for (let i = 0; i < 60; i++) {
        const issued = await (i % 2 ? a : b).api.issue({ subject: `user${i % 9}`, kind: i % 10 === 0 ? 'api' : 'session' });
        assert.equal(issued.status, 201, issued.text);
        pool.push(issued.body);
      }
      const failures: string[] = [];
      let validations = 0;
      let stop = false;
      const validating = (async () => {
        for (let i = 0; !stop; i++) {
          const t = pool[i % pool.length]!;
          const v = await (i % 2 ? a : b).api.validate(t.token);
          if (v.status !== 200) failures.push(`${t.jti}: ${v.text}`);
          validations++;
        }
      })();
      const duringUpgrade: string[] = [];
      const loggingIn = (async () => {
        for (let i = 0; !stop; i++) {
          const [issuer, other] = i % 2 ? [a, b] : [b, a];
          const issued = await issuer.api.issue({ subject: `new${i}` });
          if (issued.status !== 201) {
            failures.push(`issue: ${issued.text}`);
            continue;
          }
          const v = await other.api.validate(issued.body.token);
          if (v.status !== 200)
            failures.push(`${issued.body.jti} issued on ${issuer.spec.nodeId}, refused on ${other.spec.nodeId}: ${v.text}`);
          pool.push(issued.body);
          duringUpgrade.push(issued.body.jti);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const run = await runCli(['store', 'upgrade', '--config', ops]);
      stop = true;
      await Promise.all([validating, loggingIn]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^layout 2: \d+ records renamed/m);
      assert.deepEqual(failures, [], `${failures.length} of ${validations} validations failed`);
      assert.ok(duringUpgrade.length > 0, 'users logged in during the upgrade');

      // every name is layout 2 now, every token ever issued is there, and the nodes name new records by layout 2
      const after1 = await issueAndList();
      assert.ok(
        after1.every((n) => parseRecordName(n)?.expiresAt !== undefined),
        after1.filter((n) => parseRecordName(n)?.expiresAt === undefined).join(),
      );
      const jtis = new Set(after1.map((n) => parseRecordName(n)!.jti));
      for (const t of pool) assert.ok(jtis.has(t.jti), `${t.jti} is in the store`);
      for (const t of pool.slice(0, 20)) assert.equal((await b.api.validate(t.token)).status, 200);
      const again = await runCli(['store', 'upgrade', '--config', ops]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^\S+ \S+ has layout 2 already and every record its layout-2 name: nothing to do$/m, 'a no-op, said so');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }

    async function issueAndList(): Promise<string[]> {
      for (const node of [a, b]) assert.equal((await node.api.issue({ subject: 'after' })).status, 201);
      if (type === 'DIRECTORY') {
        const shards = await readdir(join(storeDir, 'tokens'));
        return (await Promise.all(shards.map((s) => readdir(join(storeDir, 'tokens', s))))).flat().filter((n) => parseRecordName(n));
      }
      const raw = await rawClient(zk.connectString, silentLogger());
      try {
        const shards = await raw.getChildren('/upgrade/tokens');
        return (await Promise.all(shards.map((s) => raw.getChildren(`/upgrade/tokens/${s}`)))).flat();
      } finally {
        raw.close();
      }
    }
  });
}

test('store upgrade refuses, exit 2 and one line, when the store is unreachable', async () => {
  const ops = await writeProperties(join(dir, 'unreachable.properties'), {
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': '127.0.0.1:1/nowhere',
    'node.id': 'ops',
    'app.data.dir': join(dir, 'unreachable'),
  });
  const run = await runCli(['store', 'upgrade', '--config', ops]);
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  assert.match(run.stderr, /cannot upgrade/);
});

test('store upgrade on bad flags or config: exit 2 and one line, nothing created', async () => {
  const base = join(dir, 'bad');
  await mkdir(base, { recursive: true });
  const nowhere = join(base, 'no-store-here');
  const cases: Array<[string, string[], RegExp]> = [
    ['a bad number', ['--concurrency', '0'], /--concurrency.*invalid/],
    ['an unknown flag', ['--bogus'], /unknown option '--bogus'/],
    ['an argument', ['extra'], /too many arguments/],
    ['a missing file', ['--config', join(base, 'missing.properties')], /not a readable configuration file/],
    [
      'a misspelt key',
      ['--config', await writeProperties(join(base, 'typo.properties'), { 'cluster.store.directory.pth': nowhere })],
      /unknown key \(did you mean "cluster\.store\.directory\.path"\?\)/,
    ],
    [
      'a bad value',
      ['--config', await writeProperties(join(base, 'value.properties'), { 'cluster.store.type': 'FOO' })],
      /not a store type/,
    ],
    [
      'a folder holding no store',
      ['--config', await writeProperties(join(base, 'empty.properties'), { 'cluster.store.directory.path': nowhere })],
      /cannot upgrade: DIRECTORY .*no-store-here holds no tokensync store \(check cluster\.store\.directory\.path\)/,
    ],
  ];
  for (const [what, args, message] of cases) {
    const run = await runCli(['store', 'upgrade', ...args], { cwd: base });
    assert.equal(run.code, 2, `${what}: ${run.stderr}`);
    assert.equal(run.stderr.trim().split('\n').length, 1, `${what}: ${run.stderr}`);
    assert.match(run.stderr, message, what);
    assert.equal(run.stdout, '', what);
  }
  assert.deepEqual((await readdir(base)).sort(), ['empty.properties', 'typo.properties', 'value.properties'], 'no store was made');
});
