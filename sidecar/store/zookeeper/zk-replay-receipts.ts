import { randomBytes } from 'node:crypto';
import type { Logger } from '../../util/logger.js';
import { BadRequestError } from '../../errors/bad-request-error.js';
import type { ReplayReceipts } from '../token-store.js';
import type { TokenRecord } from '../token-record.js';
import { isValidJti, isValidSubject } from '../token-record.js';
import { type CreateBatcherOptions, MAX_TRANSACTION_WEIGHT, createWeight } from './create-batcher.js';
import type { ZkLayout } from './layout.js';
import { createProtected } from './protected-create.js';
import type { TreeWatcher } from './tree-watcher.js';
import { CreateMode, type ZkAcl, type ZkOp } from './zk-client.js';
import { ZkCode, isZkError } from './zk-error.js';
import { ZkMultiError } from './zk-multi-error.js';
import type { ZkSession } from './zk-session.js';

/** What a replay receipt holds: made by the replay's transaction, or by a settle that found it missing. */
const RECEIPT_APPLIED = 'applied';
const RECEIPT_FENCE = 'fence';

export interface ZkReplayReceiptsOptions {
  session: ZkSession;
  layout: ZkLayout;
  acl: ZkAcl[] | undefined;
  /** The sidecar's journal id; unset (the CLI, a migration): the batcher sends no receipts. */
  prefix: string | undefined;
  /** The store's watcher while watching, told of each write so that a late listing cannot undo it. */
  watcher: () => TreeWatcher | null;
  logger: Logger;
}

/** Replay receipts under `/replays` (see {@link ReplayReceipts}); needs the binding's multi patch. */
export class ZkReplayReceipts implements ReplayReceipts {
  readonly maxWeight = MAX_TRANSACTION_WEIGHT;
  /** Part of this store's receipt names: tells this process's receipts from a predecessor's. */
  private readonly runId = randomBytes(6).toString('base64url');

  constructor(private readonly options: ZkReplayReceiptsOptions) {}

  get available(): boolean {
    return this.options.session.current?.canMulti ?? false;
  }

  weight(record: TokenRecord): number {
    return createWeight(this.options.layout.createPath(record), JSON.stringify(record));
  }

  /** `<prefix>.<run>.<random>`. */
  newName(): string {
    const random = randomBytes(12).toString('base64url');
    return this.options.prefix ? `${this.options.prefix}.${this.runId}.${random}` : random;
  }

  /** The batcher's share: every record-create transaction creates a receipt and drops those of answered ones. */
  forBatcher(): CreateBatcherOptions['receipts'] {
    if (!this.options.prefix) return undefined;
    const { layout, logger } = this.options;
    return {
      make: () => {
        if (!this.options.session.requireClient().canMulti) return undefined;
        const name = this.newName();
        return { name, op: { op: 'create', path: layout.receiptPath(name), data: RECEIPT_APPLIED } };
      },
      drop: (name) => ({ op: 'delete', path: layout.receiptPath(name), version: -1 }),
      dropLater: (names) => {
        this.remove(names).catch((error: unknown) => logger.warn(`could not delete ${names.length} receipts: ${(error as Error).message}`));
      },
    };
  }

  /**
   * Deletes the receipts earlier runs of this prefix left (a crash between a transaction's answer and the
   * delete of its receipt) except those in `keep`; never this run's own (a transaction may be on the wire).
   */
  async cleanup(keep: ReadonlySet<string>): Promise<number> {
    const prefix = this.options.prefix;
    if (!prefix) return 0;
    const names = await this.options.session.run((client) => client.getChildren(this.options.layout.replays));
    const own = `${prefix}.${this.runId}.`;
    const left = names.filter((n) => n.startsWith(`${prefix}.`) && !n.startsWith(own) && !keep.has(n));
    if (left.length > 0) await this.remove(left);
    return left.length;
  }

  /**
   * One transaction: delete the stale receipts, create the receipt (data `applied`), create the records, all with
   * the ACL when auth is set. A refusal names one op and applies nothing: a stale receipt already gone or a record
   * already there is left out and the rest sent again; any other refusal throws.
   */
  async createWithReceipt(records: readonly TokenRecord[], receipt: string, stale: readonly string[]): Promise<boolean[]> {
    const { layout } = this.options;
    for (const record of records) {
      if (!isValidJti(record.jti) || !isValidSubject(record.subject)) {
        throw new BadRequestError(`record ${String(record.jti)} is not valid`);
      }
    }
    let recordsLeft = records.map((record, i) => ({ i, path: layout.createPath(record), data: JSON.stringify(record) }));
    const weight = recordsLeft.reduce((sum, r) => sum + createWeight(r.path, r.data), 0);
    // a request over jute.maxbuffer closes the connection: it would look lost, and be sent again, for ever
    if (records.length > 1 && weight > MAX_TRANSACTION_WEIGHT) {
      throw new RangeError(`${records.length} records weigh ${weight}, over the transaction limit ${MAX_TRANSACTION_WEIGHT}`);
    }
    return this.options.session.run(async (client) => {
      const acl = this.options.acl ? { acl: this.options.acl } : {};
      const created = records.map(() => true);
      let staleLeft = stale.map((r) => layout.receiptPath(r));
      const receiptPath = layout.receiptPath(receipt);
      const seq = this.options.watcher()?.nextSeq() ?? 0;
      for (;;) {
        const ops: ZkOp[] = [
          ...staleLeft.map((path) => ({ op: 'delete' as const, path, version: -1 })),
          { op: 'create', path: receiptPath, data: RECEIPT_APPLIED, ...acl },
          ...recordsLeft.map(({ path, data }) => ({ op: 'create' as const, path, data, ...acl })),
        ];
        try {
          await client.multi(ops);
          break;
        } catch (error) {
          if (!(error instanceof ZkMultiError)) throw error;
          const at = error.failedIndex;
          if (at < staleLeft.length && error.rc === ZkCode.NONODE) {
            staleLeft = staleLeft.filter((_, j) => j !== at);
          } else if (at > staleLeft.length && error.rc === ZkCode.NODEEXISTS) {
            const taken = recordsLeft[at - staleLeft.length - 1]!;
            created[taken.i] = false;
            recordsLeft = recordsLeft.filter((r) => r !== taken);
          } else {
            throw error;
          }
        }
      }
      const watcher = this.options.watcher();
      for (const { i } of recordsLeft) watcher?.noteWrite(layout.shardOf(records[i]!.jti), seq);
      return created;
    });
  }

  /**
   * Creates the receipt as a fence (data `fence`) unless it exists. Found holding `applied`: the replay's
   * transaction made it. Found holding `fence`: an earlier settle made it, whose answer was lost.
   */
  async settle(receipt: string): Promise<boolean> {
    const path = this.options.layout.receiptPath(receipt);
    const acl = this.options.acl;
    return this.options.session.run(async (client) => {
      try {
        if (acl && client.canMulti) await client.multi([{ op: 'create', path, data: RECEIPT_FENCE, acl }]);
        else await createProtected(client, acl, path, RECEIPT_FENCE, CreateMode.PERSISTENT);
        return false;
      } catch (error) {
        if (!isZkError(error, ZkCode.NODEEXISTS)) throw error;
      }
      const { data } = await client.get(path);
      return data.toString() === RECEIPT_APPLIED;
    });
  }

  async remove(receipts: readonly string[]): Promise<void> {
    const paths = receipts.map((r) => this.options.layout.receiptPath(r));
    return this.options.session.run(async (client) => {
      await Promise.all(
        paths.map((path) =>
          client.delete(path, -1).catch((error: unknown) => {
            if (!isZkError(error, ZkCode.NONODE)) throw error;
          }),
        ),
      );
    });
  }
}
