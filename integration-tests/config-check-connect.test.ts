import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type ZooKeeper from 'zookeeper';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { connectRaw } from './support/zk-tree.js';

/**
 * `config check --connect` on a real ZooKeeper is read-only: on an empty ensemble it says what the first
 * start would create (chroot, /meta, shards) and creates none of it; on a laid-out tree it reads the layout.
 */
let zk: ZooKeeperCluster;
let raw: ZooKeeper;
let dir: string;
let sidecar: SidecarProcess | undefined;

before(async () => {
  zk = await startZooKeeper({ servers: 1 });
  raw = await connectRaw(zk.connectString);
  dir = await tempDir('tokensync-check-zk-');
});

after(async () => {
  await sidecar?.stop();
  raw?.close();
  await zk?.close();
});

async function config(chroot: string): Promise<string> {
  const made = await runCli([
    'secret',
    'generate',
    '--config',
    await writeProperties(join(dir, 'cli.properties'), { 'app.data.dir': join(dir, 'cli') }),
  ]);
  assert.ok(made.code === 0 || /exists/.test(made.stderr), made.stderr);
  return writeProperties(join(dir, 'node.properties'), {
    'node.id': 'n1',
    'app.data.dir': join(dir, 'n1'),
    'sidecar.listen': '127.0.0.1:0',
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': `${zk.connectString}${chroot}`,
    'cluster.store.zookeeper.shards': 64,
    'authentication.token.secret.file': join(dir, 'cli', 'token_secret'),
  });
}

test('on an empty ensemble: reports the chroot, /meta and shards a start would create, and creates nothing', async () => {
  const before = (await raw.get_children('/', false)) as string[];
  const r = await runCli(['config', 'check', '--connect', '--config', await config('/check/tokensync')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /^store reachable: ZOOKEEPER .*\/check\/tokensync; empty: the first start would create \/check, \/check\/tokensync, \/check\/tokensync\/tokens, .*\/check\/tokensync\/meta \(layout 2, 64 shards\), 64 shard nodes under \/check\/tokensync\/tokens \(nothing was created now\)$/m,
  );
  assert.deepEqual((await raw.get_children('/', false)) as string[], before, 'no znode was created');
  await assert.rejects(raw.exists('/check', false), /no node/);
});

test('on a tree a sidecar laid out: reads the shard count from /meta and writes nothing', async () => {
  const props = await config('/laid-out');
  sidecar = new SidecarProcess({
    nodeId: 'n1',
    dir: join(dir, 'p1'),
    props: {
      'cluster.store.type': 'ZOOKEEPER',
      'cluster.store.zookeeper.connect': `${zk.connectString}/laid-out`,
      'cluster.store.zookeeper.shards': 32,
      'authentication.token.secret.file': join(dir, 'cli', 'token_secret'),
      'app.data.dir': join(dir, 'n1'),
    },
  });
  await sidecar.start();
  const zxidBefore = JSON.stringify(await raw.exists('/laid-out/tokens', false));
  // the file says 64 shards; /meta (written by the sidecar with 32) wins, as at start-up
  const r = await runCli(['config', 'check', '--connect', '--config', props]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^store reachable: ZOOKEEPER .*\/laid-out \(32 shards, layout 2\)$/m);
  assert.equal(JSON.stringify(await raw.exists('/laid-out/tokens', false)), zxidBefore, '/tokens unchanged');
});
