import type { ZkOp } from './zk-client.js';
import { ZkMultiError } from './zk-multi-error.js';

export interface CreateBatcherOptions {
  /** Sends one transaction (ZkClient.multi of the current session). */
  multi(ops: ZkOp[]): Promise<void>;
  /** Creates one node on its own: `true` created, `false` the name is taken (NODEEXISTS); anything else throws. */
  single(path: string, data: string): Promise<boolean>;
  /** Creates in one transaction, at most (1: every create on its own, no batching). */
  maxOps: number;
  /**
   * Whether an error means the session could not answer (connection loss, timeout): the creates still waiting
   * then fail with it at once rather than queue behind a stuck connection for another operation timeout.
   */
  unavailable(error: unknown): boolean;
  /**
   * Transactions on the wire at once. While that many are unanswered, new creates wait and leave together in the
   * next one (group commit); under light load nothing waits: a create leaves at the end of its event-loop turn.
   */
  maxInFlight: number;
  /**
   * Receipts (see ReplayReceipts in token-store.ts): every transaction, a lone create too, also creates a receipt
   * node, and deletes those of transactions answered before. A transaction whose answer is lost fails its creates
   * with a {@link LostTransactionError} naming its receipt, which tells later whether it was applied.
   */
  receipts?: {
    /** A fresh receipt: its name and its create op; undefined when none can be written now (no multi). */
    make(): { name: string; op: ZkOp } | undefined;
    /** The delete op of an answered receipt. */
    drop(name: string): ZkOp;
    /** Deletes receipts outside any transaction (those of a lost transaction's deletes); never throws. */
    dropLater(names: string[]): void;
  };
}

/** A create whose transaction's answer never came: `receipt` tells whether it was applied (see ReplayReceipts). */
export class LostTransactionError extends Error {
  constructor(
    readonly error: unknown,
    readonly receipt: string,
  ) {
    super(`transaction with receipt ${receipt} unanswered: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}

/** Receipts of answered transactions deleted by one transaction, at most. */
const MAX_DROPS = 8;

interface Pending {
  path: string;
  data: string;
  resolve: (created: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * A transaction's payload stays well under ZooKeeper's default `jute.maxbuffer` (1 MiB; a bigger request closes
 * the connection). Counted in UTF-16 units times 3 ({@link createWeight}), an upper bound of the UTF-8 bytes.
 */
export const MAX_TRANSACTION_WEIGHT = 512 * 1024;

/** A create op's share of {@link MAX_TRANSACTION_WEIGHT}. */
export function createWeight(path: string, data: string): number {
  return (path.length + data.length) * 3;
}

/**
 * Group commit for record creates: the creates asked for in one event-loop turn (and those that wait while
 * {@link CreateBatcherOptions.maxInFlight} transactions are unanswered) leave as ONE ZooKeeper multi, which the
 * ensemble proposes, logs and commits once for all of them, where each create alone costs all three. A lone create
 * is sent as a plain create.
 *
 * Answers stay per create: a transaction the ensemble refuses (a name already taken, a missing shard: nothing of it
 * was applied) is sent again as single creates, each answered on its own, so one duplicate never fails the
 * others. A transaction lost with the connection fails every create in it with that error, as single creates lost
 * with it would (all or none of it was applied: callers that journal and replay see `false` for any that were),
 * and so do the creates waiting behind it (never sent: nothing of them applied), so that no create waits longer
 * than about one operation timeout for its answer.
 *
 * Order: creates leave in the order they were asked for, on one session. A caller deletes a record only after its
 * create was answered, so a delete never overtakes a create still waiting here.
 */
export class CreateBatcher {
  private queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Transactions sent, and the creates in them (for the batch-size metric and tests). */
  transactions = 0;
  batchedCreates = 0;
  /** Transactions refused and sent again as single creates. */
  fallbacks = 0;
  /** Receipts of answered transactions, deleted by the next ones. */
  private answered: string[] = [];

  constructor(private readonly options: CreateBatcherOptions) {
    if (!Number.isInteger(options.maxOps) || options.maxOps < 1) {
      throw new RangeError(`maxOps ${options.maxOps} must be a whole number >= 1`);
    }
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) {
      throw new RangeError(`maxInFlight ${options.maxInFlight} must be a whole number >= 1`);
    }
  }

  /** Creates waiting for a transaction. */
  get waiting(): number {
    return this.queue.length;
  }

  create(path: string, data: string): Promise<boolean> {
    if (this.options.maxOps === 1) return this.options.single(path, data);
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ path, data, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight) return;
    this.scheduled = true;
    // the end of this event-loop turn: every request read in it has asked by then
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.take();
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.schedule();
      });
    }
  };

  private take(): Pending[] {
    let chars = 0;
    let n = 0;
    while (n < this.queue.length && n < this.options.maxOps) {
      const p = this.queue[n]!;
      chars += createWeight(p.path, p.data);
      if (n > 0 && chars > MAX_TRANSACTION_WEIGHT) break;
      n++;
    }
    return this.queue.splice(0, n);
  }

  /** Receipts of answered transactions still to delete. */
  get receiptsToDrop(): readonly string[] {
    return this.answered;
  }

  private async send(batch: Pending[]): Promise<void> {
    let receipt: { name: string; op: ZkOp } | undefined;
    try {
      receipt = this.options.receipts?.make();
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    if (batch.length === 1 && !receipt) {
      const p = batch[0]!;
      await this.options.single(p.path, p.data).then(p.resolve, p.reject);
      return;
    }
    const drops = receipt ? this.answered.splice(0, MAX_DROPS) : [];
    const ops: ZkOp[] = [
      ...drops.map((name) => this.options.receipts!.drop(name)),
      ...(receipt ? [receipt.op] : []),
      ...batch.map((p): ZkOp => ({ op: 'create', path: p.path, data: p.data })),
    ];
    if (batch.length > 1) {
      this.transactions++;
      this.batchedCreates += batch.length;
    }
    try {
      await this.options.multi(ops);
    } catch (error) {
      if (error instanceof ZkMultiError) {
        // refused, nothing applied (the receipt's deletes neither): every create gets its own answer
        this.answered.unshift(...drops);
        if (batch.length > 1) this.fallbacks++;
        await Promise.all(batch.map((p) => this.options.single(p.path, p.data).then(p.resolve, p.reject)));
      } else {
        // applied or not: its deletes are made again outside any transaction (one already made fails none there)
        if (drops.length > 0) this.options.receipts!.dropLater(drops);
        const lost = receipt ? new LostTransactionError(error, receipt.name) : error;
        for (const p of batch) p.reject(lost);
        // the creates waiting behind it were never sent: nothing of them applied, no receipt to ask
        if (this.options.unavailable(error)) for (const p of this.queue.splice(0)) p.reject(error);
      }
      return;
    }
    if (receipt) this.answered.push(receipt.name);
    for (const p of batch) p.resolve(true);
  }
}
