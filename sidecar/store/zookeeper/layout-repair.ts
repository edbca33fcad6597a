import { performance } from 'node:perf_hooks';
import type { Logger } from '../../util/logger.js';
import { forEachBounded } from '../../util/for-each-bounded.js';
import { LAYOUT_VERSION, type LayoutMeta, type ZkLayout, parseMeta } from './layout.js';
import { createProtected } from './protected-create.js';
import { layout1Notice } from '../record-layout.js';
import type { RecordLayout } from '../token-record.js';
import { CreateMode, type ZkAcl, type ZkClient } from './zk-client.js';
import { ZkCode, ZkError, isZkError } from './zk-error.js';
import { ZooKeeperStoreError } from './zookeeper-store-error.js';

/** Creates in flight while laying out thousands of shard nodes. */
const CREATE_CONCURRENCY = 1_000;

export interface LayoutRepairOptions {
  layout: ZkLayout;
  /** The digest ACL when auth is configured. */
  acl: ZkAcl[] | undefined;
  /** For a NEW tree; an existing `/meta` wins. */
  shards: number;
  readConcurrency: number;
  logger: Logger;
  upgradeCommand?: string;
}

/**
 * Curator's EnsurePath for the whole tree: creates the chroot, the parents, `/meta` and every shard node when
 * missing, takes the shard count from `/meta` (into `layout`), and puts the digest ACL on layout nodes left open.
 */
export async function ensureLayout(client: ZkClient, options: LayoutRepairOptions): Promise<void> {
  const { layout, acl, logger } = options;
  const started = performance.now();
  const chrootPaths = layout.chrootPaths();
  for (const [i, path] of chrootPaths.entries()) {
    // ancestors of the chroot are not ours to protect; the chroot itself is
    await ensureNode(client, acl, path, i === chrootPaths.length - 1);
  }
  await Promise.all(layout.parents().map((path) => ensureNode(client, acl, path, true)));

  let meta = await readMeta(client, layout);
  if (!meta) {
    const fresh: LayoutMeta = { layoutVersion: LAYOUT_VERSION, shards: options.shards };
    try {
      await createProtected(client, acl, layout.meta, JSON.stringify(fresh), CreateMode.PERSISTENT);
      meta = fresh;
      logger.info(`created ${layout.meta}: layout ${fresh.layoutVersion}, ${fresh.shards} shards`);
    } catch (error) {
      if (!isZkError(error, ZkCode.NODEEXISTS)) throw error;
      meta = await readMeta(client, layout); // a racing sidecar created it first: its count wins
    }
    if (!meta) throw new ZooKeeperStoreError(`${layout.meta} vanished while starting`, 'store.zookeeper.layout');
  }
  layout.recordLayout = meta.layoutVersion;
  if (meta.layoutVersion === 1) logger.warn(layout1Notice(layout.meta, options.upgradeCommand));
  if (meta.shards !== options.shards) {
    logger.info(`${layout.meta} says ${meta.shards} shards; the configured ${options.shards} applies to a new tree only`);
  }
  layout.setShards(meta.shards);

  const existing = new Set(await client.getChildren(layout.tokens));
  const missing: number[] = [];
  const present: string[] = [];
  for (let shard = 0; shard < meta.shards; shard++) {
    if (existing.has(layout.shardName(shard))) present.push(layout.shardPath(shard));
    else missing.push(shard);
  }
  if (missing.length > 0) {
    await forEachBounded(missing, CREATE_CONCURRENCY, async (shard) => {
      await ensureNode(client, acl, layout.shardPath(shard), true);
    });
    logger.info(`created ${missing.length} shard nodes under ${layout.tokens} in ${Math.round(performance.now() - started)} ms`);
  }
  if (acl) {
    // nodes created without our ACL (before auth was configured, or by a sidecar that stopped between its
    // create and its set_acl) still have ACL version 0; get_acl cannot be used to tell (it crashes the binding).
    // Layout nodes are therefore always protected by create + set_acl (version 1), never by an ACL in the create
    // itself as records are (which leaves version 0): records are not in this list.
    const paths = [...chrootPaths.slice(-1), ...layout.parents(), layout.meta, ...present];
    await repairAcls(client, acl, paths, options.readConcurrency, logger);
  }
}

/**
 * What {@link ensureLayout} would create, read without writing anything: the missing chroot and parent nodes,
 * `/meta` (with the shard count a new tree would get) and the number of missing shard nodes. Sets the layout's
 * shard count from `/meta` when there is one.
 */
export async function probeLayout(
  client: ZkClient,
  layout: ZkLayout,
  shards: number,
): Promise<{ exists: boolean; wouldCreate: string[]; missingShards: number }> {
  const wouldCreate: string[] = [];
  for (const path of [...layout.chrootPaths(), ...layout.parents()]) {
    if (!(await client.exists(path))) wouldCreate.push(path);
  }
  const meta = await readMeta(client, layout);
  const count = meta?.shards ?? shards;
  if (!meta) wouldCreate.push(`${layout.meta} (layout ${LAYOUT_VERSION}, ${count} shards)`);
  layout.setShards(count);
  if (meta) layout.recordLayout = meta.layoutVersion;
  const present = wouldCreate.includes(layout.tokens) ? new Set<string>() : new Set(await client.getChildren(layout.tokens));
  let missingShards = 0;
  for (let shard = 0; shard < count; shard++) if (!present.has(layout.shardName(shard))) missingShards++;
  if (missingShards > 0) wouldCreate.push(`${missingShards} shard nodes under ${layout.tokens}`);
  return { exists: meta !== undefined, wouldCreate, missingShards };
}

/**
 * Reads `/meta` again while the tree has layout 1, and starts naming new records by layout 2 once `store upgrade`
 * raised it (a layout never goes back). Resolves with the layout now in force.
 */
export async function refreshRecordLayout(client: ZkClient, layout: ZkLayout, logger: Logger): Promise<RecordLayout> {
  if (layout.recordLayout === 2) return 2;
  const meta = await readMeta(client, layout);
  if (meta?.layoutVersion === 2) {
    layout.recordLayout = 2;
    logger.info(`${layout.meta} says layout 2 now: new records are named with their expiry`);
  }
  return layout.recordLayout;
}

export async function readMeta(client: ZkClient, layout: ZkLayout): Promise<LayoutMeta | undefined> {
  try {
    const { data } = await client.get(layout.meta);
    return parseMeta(data, layout.meta);
  } catch (error) {
    if (isZkError(error, ZkCode.NONODE)) return undefined;
    if (error instanceof ZkError) throw error;
    throw new ZooKeeperStoreError((error as Error).message, 'store.zookeeper.layout', { cause: error });
  }
}

/** Creates a persistent node unless it exists; `true` when this call created it. */
async function ensureNode(client: ZkClient, acl: ZkAcl[] | undefined, path: string, protect: boolean): Promise<boolean> {
  try {
    if (protect) await createProtected(client, acl, path, '', CreateMode.PERSISTENT);
    else await client.create(path, '', CreateMode.PERSISTENT);
    return true;
  } catch (error) {
    if (isZkError(error, ZkCode.NODEEXISTS)) return false;
    throw error;
  }
}

async function repairAcls(client: ZkClient, acl: ZkAcl[], paths: string[], concurrency: number, logger: Logger): Promise<void> {
  let repaired = 0;
  await forEachBounded(paths, concurrency, async (path) => {
    const stat = await client.exists(path);
    if (stat && stat.aversion === 0) {
      await client.setAcl(path, -1, acl);
      repaired++;
    }
  });
  if (repaired > 0) logger.warn(`set the digest ACL on ${repaired} existing nodes that were open to anyone`);
}
