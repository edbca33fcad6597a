import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { ROOT, SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { zooKeeperSidecarProps } from './support/zk-sidecars.js';
import { rawClient } from './support/zk-test-support.js';
import { CreateMode } from '../sidecar/store/zookeeper/zk-client.js';
import { silentLogger } from '../sidecar/util/logger.js';

/**
 * Mixed versions, with the real old binary: the last commit before the layout version (it reads layout 1 only),
 * built from this repository's history. While it runs, `store upgrade` refuses; once the store says layout 2, it
 * refuses to start, with the one line README quotes. Skipped where the history is not there (a shallow clone).
 */
const OLD_COMMIT = '011c6c6';
let oldBin: string | undefined;
let skip = '';
let zk: ZooKeeperCluster;
let dir: string;

before(async () => {
  dir = await tempDir('tokensync-old-binary-');
  try {
    execFileSync('git', ['-C', ROOT, 'cat-file', '-e', `${OLD_COMMIT}^{commit}`], { stdio: 'ignore' });
  } catch {
    skip = `commit ${OLD_COMMIT} is not in this checkout's history`;
    return;
  }
  const tree = join(dir, 'old');
  await mkdir(tree);
  execFileSync('sh', ['-c', `git -C "${ROOT}" archive ${OLD_COMMIT} | tar -x -C "${tree}"`]);
  await symlink(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(tree, 'tsconfig.json')]);
  oldBin = join(tree, 'bin', 'tokensync.js');
  zk = await startZooKeeper({ servers: 1 });
});

after(async () => {
  await zk?.close();
});

test('an old binary refuses a layout-2 DIRECTORY store: exit 1, one line', async (t) => {
  if (skip) return t.skip(skip);
  const store = join(dir, 'dir-store');
  await mkdir(store);
  await writeFile(join(store, 'meta.json'), JSON.stringify({ layoutVersion: 2, shards: 4 }));
  const config = await writeProperties(join(dir, 'dir.properties'), {
    'node.id': 'old',
    'app.data.dir': join(dir, 'dir-app'),
    'cluster.store.directory.path': store,
    'sidecar.listen': '127.0.0.1:0',
  });
  assert.equal((await runCli(['secret', 'generate', '--config', config])).code, 0);
  const run = await runOld(['sidecar', '--config', config]);
  assert.equal(run.code, 1, run.stderr);
  assert.equal(lastLine(run.stderr), `tokensync: ${store}/meta.json: layout version 2 is not supported by this tokensync`);
});

test('ZooKeeper: store upgrade refuses while an old sidecar runs; after it, the old sidecar refuses to start', async (t) => {
  if (skip) return t.skip(skip);
  const { props } = await zooKeeperSidecarProps(zk.connectString, '/mixed', { prefix: 'tokensync-old-zk-', shards: 16 });
  const raw = await rawClient(zk.connectString, silentLogger());
  await raw.create('/mixed', '', CreateMode.PERSISTENT);
  await raw.create('/mixed/meta', JSON.stringify({ layoutVersion: 1, shards: 16 }), CreateMode.PERSISTENT);
  const old = await new SidecarProcess({ nodeId: 'old1', bin: oldBin!, props: { ...props, 'app.data.dir': join(dir, 'old1') } }).start();
  const fresh = await new SidecarProcess({ nodeId: 'new1', props: { ...props, 'app.data.dir': join(dir, 'new1') } }).start();
  try {
    const issued = await old.api.issue({ subject: 'alice' });
    assert.equal(issued.status, 201, issued.text);
    const ops = await writeProperties(join(dir, 'ops.properties'), { ...props, 'node.id': 'ops', 'app.data.dir': join(dir, 'ops') });
    const refused = await runCli(['store', 'upgrade', '--config', ops]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal(
      lastLine(refused.stderr),
      'tokensync: member old1 runs a tokensync that cannot read layout-2 record names (0.1.0); upgrade it first, or pass --force',
    );
    assert.equal(JSON.parse((await raw.get('/mixed/meta')).data.toString()).layoutVersion, 1, 'nothing changed');

    await old.stop();
    const done = await runCli(['store', 'upgrade', '--config', ops]);
    assert.equal(done.code, 0, done.stderr);
    assert.equal((await fresh.api.validate(issued.body.token)).status, 200, 'the old node’s token survives the rename');

    const again = await runOld(['sidecar', '--config', old.configPath]);
    assert.equal(again.code, 1, again.stderr);
    assert.equal(lastLine(again.stderr), 'tokensync: /mixed/meta says layoutVersion 2; this tokensync understands 1 only');
  } finally {
    raw.close();
    await Promise.all([old.stop(), fresh.stop()]);
  }
});

function lastLine(text: string): string {
  return text.trim().split('\n').pop()!;
}

function runOld(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [oldBin!, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('exit', (code) => resolve({ code, stderr }));
  });
}
