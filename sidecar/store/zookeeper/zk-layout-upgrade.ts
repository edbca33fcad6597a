import type { ShardUpgrade } from '../token-store.js';
import { layout2Name, parseRecord, parseRecordName, refOf, type TokenRecord } from '../token-record.js';
import { ZooKeeperStoreError } from './zookeeper-store-error.js';
import { type LayoutMeta, type ZkLayout, parseMeta } from './layout.js';
import type { ZkAcl, ZkClient, ZkOp } from './zk-client.js';
import { ZkCode, isZkError } from './zk-error.js';
import type { ZkSession } from './zk-session.js';

/** Renames per transaction: two ops each, far below `jute.maxbuffer` for records of a few hundred bytes. */
const RENAMES_PER_TRANSACTION = 100;

export interface ZkLayoutUpgradeOptions {
  session: ZkSession;
  layout: ZkLayout;
  acl: ZkAcl[] | undefined;
}

/**
 * `store upgrade` on ZooKeeper: each layout-1 record is re-created under its layout-2 name and its old node deleted
 * in the same transaction, so a watcher sees a create and a delete of one jti together (a mirror takes it as a
 * rename) and nobody can find the jti missing; a delete or consume of the old name racing with it makes the
 * transaction fail as a whole, and the record is then simply gone.
 */
export class ZkLayoutUpgrade {
  constructor(private readonly options: ZkLayoutUpgradeOptions) {}

  /** Sets `/meta`'s layoutVersion to 2 with a versioned write (a concurrent raise is fine: it wrote the same). */
  async raiseLayout(): Promise<void> {
    const { session, layout } = this.options;
    await session.run(async (client) => {
      for (;;) {
        const { data, stat } = await client.get(layout.meta);
        const meta = parseMeta(data, layout.meta);
        if (meta.layoutVersion === 2) break;
        const next: LayoutMeta = { ...(JSON.parse(data.toString()) as LayoutMeta), layoutVersion: 2 };
        try {
          await client.set(layout.meta, JSON.stringify(next), stat.version);
          break;
        } catch (error) {
          if (!isZkError(error, ZkCode.BADVERSION)) throw error;
        }
      }
    });
    layout.recordLayout = 2;
  }

  async upgradeShard(shard: number): Promise<ShardUpgrade> {
    const { session, layout } = this.options;
    return session.run(async (client) => {
      if (!client.canMulti) {
        throw new ZooKeeperStoreError(
          'store upgrade needs the patched zookeeper binding (multi); fix: npm rebuild zookeeper',
          'store.zookeeper.layout',
        );
      }
      const shardPath = layout.shardPath(shard);
      const names = (await client.getChildren(shardPath)).filter((name) => parseRecordName(name)?.expiresAt === undefined);
      const result: ShardUpgrade = { renamed: 0, gone: 0, skipped: 0 };
      for (let i = 0; i < names.length; i += RENAMES_PER_TRANSACTION) {
        const batch = names.slice(i, i + RENAMES_PER_TRANSACTION);
        const reads = await Promise.all(batch.map((name) => readOld(client, `${shardPath}/${name}`)));
        const renames: Array<{ old: string; ops: ZkOp[] }> = [];
        for (const [j, read] of reads.entries()) {
          if (read === 'gone') result.gone++;
          else if (read === 'unreadable' || parseRecordName(batch[j]!)?.jti !== read.record.jti) result.skipped++;
          else renames.push({ old: batch[j]!, ops: this.renameOps(shardPath, batch[j]!, read.record, read.data) });
        }
        if (renames.length === 0) continue;
        try {
          await client.multi(renames.flatMap((r) => r.ops));
          result.renamed += renames.length;
        } catch (error) {
          if (!isZkError(error) || error.isUnavailable) throw error;
          // one of them was deleted meanwhile (the transaction is all or nothing): one transaction each
          for (const rename of renames) {
            try {
              await client.multi(rename.ops);
              result.renamed++;
            } catch (single) {
              if (!isZkError(single, ZkCode.NONODE) && !isZkError(single, ZkCode.NODEEXISTS)) throw single;
              result.gone++;
            }
          }
        }
      }
      return result;
    });
  }

  private renameOps(shardPath: string, old: string, record: TokenRecord, data: Buffer): ZkOp[] {
    const acl = this.options.acl;
    const path = `${shardPath}/${layout2Name(refOf(record))}`;
    return [
      { op: 'create', path, data, ...(acl && { acl }) },
      // version 0: records are never modified, and a racing consume (a versioned delete) wins over this
      { op: 'delete', path: `${shardPath}/${old}`, version: 0 },
    ];
  }
}

async function readOld(client: ZkClient, path: string): Promise<{ record: TokenRecord; data: Buffer } | 'gone' | 'unreadable'> {
  try {
    const { data } = await client.get(path);
    return { record: parseRecord(data), data };
  } catch (error) {
    if (isZkError(error, ZkCode.NONODE)) return 'gone';
    if (isZkError(error)) throw error;
    return 'unreadable';
  }
}
