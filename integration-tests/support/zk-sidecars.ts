import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SidecarProcess, runCli, tempDir, writeProperties } from './sidecar-process.js';

/**
 * The set-up every ZooKeeper-backed sidecar suite shares: a folder, a
 * signing secret made with the CLI, and the properties pointing sidecars at
 * `<connect><chroot>` with that secret (small shard count, short session).
 */
export async function zooKeeperSidecarProps(
  connect: string,
  chroot: string,
  options: { prefix?: string; sessionTimeout?: string; shards?: number } = {},
): Promise<{ dir: string; props: Record<string, string | number | boolean> }> {
  const dir = await tempDir(options.prefix ?? 'tokensync-zk-');
  const cli = await writeProperties(join(dir, 'cli.properties'), { 'app.data.dir': join(dir, 'cli') });
  const made = await runCli(['secret', 'generate', '--config', cli]);
  assert.equal(made.code, 0, made.stderr);
  return {
    dir,
    props: {
      'cluster.store.type': 'ZOOKEEPER',
      'cluster.store.zookeeper.connect': `${connect}${chroot}`,
      'cluster.store.zookeeper.session.timeout': options.sessionTimeout ?? '4s',
      'cluster.store.zookeeper.shards': options.shards ?? 32,
      'authentication.token.secret.file': join(dir, 'cli', 'token_secret'),
    },
  };
}

/** Starts one sidecar per id, one after the other, each with its own data folder under `dir` and `props` otherwise. */
export async function startSidecars(
  ids: readonly string[],
  props: Record<string, string | number | boolean>,
  dir: string,
): Promise<SidecarProcess[]> {
  const started: SidecarProcess[] = [];
  for (const id of ids) {
    started.push(
      await new SidecarProcess({ nodeId: id, props: { ...props, 'app.data.dir': join(dir, id) }, dir: join(dir, `${id}-conf`) }).start(),
    );
  }
  return started;
}
