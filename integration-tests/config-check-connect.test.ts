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

test('on a layout-1 tree: one line naming the upgrade command with this file, the line a sidecar logs at start', async () => {
  await raw.create('/old', '', 0);
  await raw.create('/old/meta', JSON.stringify({ layoutVersion: 1, shards: 16 }), 0);
  const props = await config('/old');
  const r = await runCli(['config', 'check', '--connect', '--config', props]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.split('\n').filter((l) => /layout 1/.test(l));
  assert.equal(lines.length, 1, r.stdout);
  assert.match(
    lines[0]!,
    /^store reachable: ZOOKEEPER .*\/old \(16 shards\); it has layout 1 .*; convert it while running with: tokensync store upgrade --config (\S+)$/,
  );
  assert.equal(/--config (\S+)$/.exec(lines[0]!)![1], props);

  const node = new SidecarProcess({
    nodeId: 'old1',
    dir: join(dir, 'old1'),
    props: { ...propsOf('/old'), 'app.data.dir': join(dir, 'old1') },
  });
  await node.start();
  try {
    const notices = node.logs.split('\n').filter((l) => /has layout 1/.test(l));
    assert.equal(notices.length, 1, node.logs);
    assert.ok(notices[0]!.includes(`convert it while running with: tokensync store upgrade --config ${node.configPath}`), notices[0]);
  } finally {
    await node.stop();
  }
});

function propsOf(chroot: string): Record<string, string | number> {
  return {
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': `${zk.connectString}${chroot}`,
    'authentication.token.secret.file': join(dir, 'cli', 'token_secret'),
  };
}
