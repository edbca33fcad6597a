import type { Logger } from '../../util/logger.js';
import { BadRequestError } from '../../errors/bad-request-error.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import type { CreateBatchCounts } from '../token-store.js';
import type { RecordRef, TokenRecord } from '../token-record.js';
import { isValidJti, isValidSubject } from '../token-record.js';
import { directName, listedName } from '../record-layout.js';
import { CreateBatcher, LostTransactionError } from './create-batcher.js';
import type { ZkLayout } from './layout.js';
import type { TreeWatcher } from './tree-watcher.js';
import { CreateMode, type ZkAcl, type ZkClient } from './zk-client.js';
import { ZkCode, ZkError, isZkError } from './zk-error.js';
import { barrier } from './record-reads.js';
import type { ZkReplayReceipts } from './zk-replay-receipts.js';
import type { ZkSession } from './zk-session.js';

/** `cluster.store.zookeeper.write.batch`'s default (sidecar/config/options.ts). */
export const DEFAULT_CREATE_BATCH = 128;
export const DEFAULT_CREATES_IN_FLIGHT = 2;

export interface RecordWritesOptions {
  session: ZkSession;
  layout: ZkLayout;
  acl: ZkAcl[] | undefined;
  receipts: ZkReplayReceipts;
  watcher: () => TreeWatcher | null;
  logger: Logger;
  createBatch?: number;
  createsInFlight?: number;
}

/**
 * Record creates, deletes and consumes: each ONE request, creates of one turn sharing a transaction
 * ({@link CreateBatcher}); every write the store makes is noted with the watcher so a late listing cannot undo it.
 */
export class RecordWrites {
  private readonly batcher: CreateBatcher;

  constructor(private readonly options: RecordWritesOptions) {
    const { session, acl } = options;
    this.batcher = new CreateBatcher({
      maxOps: options.createBatch ?? DEFAULT_CREATE_BATCH,
      maxInFlight: options.createsInFlight ?? DEFAULT_CREATES_IN_FLIGHT,
      // the session current when the transaction leaves (a create asked for in an older one still goes)
      multi: async (ops) => session.requireClient().multi(acl ? ops.map((op) => (op.op === 'create' ? { ...op, acl } : op)) : ops),
      single: async (path, data) => this.createRecordNode(session.requireClient(), path, data),
      unavailable: (error) => (error instanceof ZkError && error.isUnavailable) || error instanceof StoreUnavailableError,
      receipts: options.receipts.forBatcher(),
    });
  }

  /** Record creates sent in transactions so far, and the transactions that carried them. */
  get counts(): CreateBatchCounts {
    return { transactions: this.batcher.transactions, creates: this.batcher.batchedCreates, refused: this.batcher.fallbacks };
  }

  /** Receipts of answered transactions not deleted yet (deleted on close, so that a successor sees it at once). */
  get receiptsToDrop(): readonly string[] {
    return this.batcher.receiptsToDrop;
  }

  async create(record: TokenRecord): Promise<boolean> {
    if (!isValidJti(record.jti)) throw new BadRequestError(`jti '${String(record.jti)}' is not a valid token id`);
    if (!isValidSubject(record.subject)) throw new BadRequestError('subject is empty, too long or has control characters');
    const { session, layout } = this.options;
    return session.run(async (client) => {
      const watcher = this.options.watcher();
      const shard = layout.shardOf(record.jti);
      const seq = watcher?.nextSeq() ?? 0;
      const path = layout.createPath(record);
      const data = JSON.stringify(record);
      let created: boolean;
      try {
        created = client.canMulti ? await this.batcher.create(path, data) : await this.createRecordNode(client, path, data);
      } catch (error) {
        if (!(error instanceof LostTransactionError)) throw error;
        const mapped = session.mapError(error.error);
        if (mapped instanceof StoreUnavailableError) mapped.receipt = error.receipt;
        throw mapped;
      }
      if (created) this.options.watcher()?.noteWrite(shard, seq);
      return created;
    });
  }

  /**
   * One record create: `true` created, `false` the name is taken. With auth and the multi patch the record carries
   * the digest ACL from its creation; an unpatched binding creates it open (one request still, no `set_acl`).
   */
  private async createRecordNode(client: ZkClient, path: string, data: string): Promise<boolean> {
    const acl = this.options.acl;
    try {
      if (acl && client.canMulti) await client.multi([{ op: 'create', path, data, acl }]);
      else await client.create(path, data, CreateMode.PERSISTENT);
      return true;
    } catch (error) {
      if (isZkError(error, ZkCode.NODEEXISTS)) return false;
      throw error;
    }
  }

  /**
   * `version`: -1 any (delete), 0 (consume: records are never modified, so exactly one racer's delete succeeds).
   * The ref's own name first when it speaks the store's layout; else, or when that name is gone, the name the
   * shard lists for the jti (a ref without the expiry, or a record `store upgrade` renamed meanwhile: its rename
   * is one transaction, so one of the two names is always there).
   */
  delete(ref: RecordRef, version: -1 | 0): Promise<boolean> {
    const { session, layout } = this.options;
    return session.run(async (client) => {
      const direct = directName(ref, layout.recordLayout);
      if (direct !== undefined && (await this.deleteNode(client, ref.jti, layout.pathIn(ref.jti, direct), version))) return true;
      const shardPath = layout.shardPath(layout.shardOf(ref.jti));
      // behind a write, not a sync: a leader answers a sync at once, and a listing that misses the record would
      // report a revocation done that never happened
      const [, names] = await Promise.all([barrier(client, shardPath), client.getChildren(shardPath)]);
      const listed = listedName(names, ref);
      return listed !== undefined && listed !== direct && (await this.deleteNode(client, ref.jti, layout.pathIn(ref.jti, listed), version));
    });
  }

  private async deleteNode(client: ZkClient, jti: string, path: string, version: -1 | 0): Promise<boolean> {
    const { layout, logger } = this.options;
    const seq = this.options.watcher()?.nextSeq() ?? 0;
    try {
      await client.delete(path, version);
      this.options.watcher()?.noteWrite(layout.shardOf(jti), seq);
      return true;
    } catch (error) {
      if (isZkError(error, ZkCode.NONODE)) return false;
      if (isZkError(error, ZkCode.BADVERSION)) {
        logger.warn(`${path} was modified after it was created (records are immutable); not consuming it`);
        return false;
      }
      throw error;
    }
  }
}
