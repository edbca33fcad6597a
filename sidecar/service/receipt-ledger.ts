import type { Logger } from '../util/logger.js';
import type { ReplayReceipts } from '../store/token-store.js';
import type { JournalEntry, JournalSending } from '../store/journal.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';

export type CreateEntry = JournalEntry & { op: 'create' };

/**
 * What the write path's replay knows about one store's replay receipts (see {@link ReplayReceipts}): the
 * transaction whose answer was lost and must be settled before anything else is sent, what settling found,
 * which journaled creates are therefore known sent, and the receipts no longer needed. It asks the store only
 * to settle, clean up and delete receipts; sending is the write path's.
 */
export class ReceiptLedger {
  /** The receipt of a replay transaction whose answer never came (lost, or sent by a killed process): settled first. */
  private unsettled: { receipt: string; seq: number } | undefined;
  /** Journaled creates (by seq) that a settled receipt shows applied: not sent again. */
  private readonly applied = new Set<number>();
  /** Creates up to this seq were sent by a killed process without a receipt to ask (an older version, DIRECTORY). */
  private unknownThrough = 0;
  /** Receipts no longer needed: deleted by the next replay transaction, or once the journal is empty. */
  private staleReceipts: string[] = [];
  /** Journaled creates whose answer was lost, per receipt of their transaction (see JournalOp). */
  private readonly entryReceipts = new Map<string, number>();
  /** What settling such a receipt found: applied or not; `unknown` when the store could not say. */
  private readonly receiptOutcome = new Map<string, boolean | 'unknown'>();
  /** Receipts earlier runs left behind have been looked for (once per process). */
  private cleaned = false;

  constructor(
    private readonly receipts: ReplayReceipts | undefined,
    private readonly log: Logger,
  ) {}

  /** The store's receipts when they can be written now. */
  usable(): ReplayReceipts | undefined {
    return this.receipts?.available ? this.receipts : undefined;
  }

  /** Receipts no longer needed (a copy). */
  get stale(): string[] {
    return [...this.staleReceipts];
  }

  /** After a restart: what the process before recorded in `journal.sending`, and the entries still pending. */
  restore(sending: Readonly<JournalSending>, pending: readonly JournalEntry[]): void {
    this.staleReceipts.push(...sending.stale);
    const sentPending = pending.some((e) => e.seq <= sending.seq);
    if (sentPending && sending.receipt) this.unsettled = { receipt: sending.receipt, seq: sending.seq };
    else if (sentPending) this.unknownThrough = sending.seq;
    else if (sending.receipt) this.staleReceipts.push(sending.receipt);
    for (const entry of pending) this.hold(entry);
  }

  /** A journaled create that names the receipt of its lost answer: that receipt is kept until the entry is done. */
  hold(entry: JournalEntry): void {
    if (entry.op === 'create' && entry.receipt) this.entryReceipts.set(entry.receipt, (this.entryReceipts.get(entry.receipt) ?? 0) + 1);
  }

  /** An entry the store now holds: its receipt may go once no pending entry names it. */
  done(entry: JournalEntry): void {
    this.applied.delete(entry.seq);
    if (entry.op !== 'create' || !entry.receipt) return;
    const left = (this.entryReceipts.get(entry.receipt) ?? 1) - 1;
    if (left > 0) {
      this.entryReceipts.set(entry.receipt, left);
      return;
    }
    this.entryReceipts.delete(entry.receipt);
    this.receiptOutcome.delete(entry.receipt);
    this.staleReceipts.push(entry.receipt);
  }

  /** A replay transaction was applied: the receipts it deleted are gone, its own is stale. */
  sent(receipt: string, deleted: readonly string[]): void {
    this.staleReceipts = [...this.staleReceipts.filter((r) => !deleted.includes(r)), receipt];
  }

  /** A replay transaction's answer was lost: it is settled before anything else is sent. */
  lost(receipt: string, throughSeq: number): void {
    this.unsettled = { receipt, seq: throughSeq };
  }

  /**
   * Asks the store whether the transaction whose answer was lost was applied (nothing to do when none was);
   * false when it cannot answer now. Without receipts (the binding lost its patch), or when the store refuses
   * the question, its creates are treated as sent without a receipt.
   */
  async settleLost(pending: readonly JournalEntry[]): Promise<boolean> {
    if (!this.unsettled) return true;
    const { receipt, seq } = this.unsettled;
    const applied = await this.ask(receipt);
    if (applied === undefined) return false;
    if (applied === 'unknown') {
      this.unknownThrough = Math.max(this.unknownThrough, seq);
      this.unsettled = undefined;
      return true;
    }
    let creates = 0;
    for (const entry of pending) {
      if (entry.seq > seq) break;
      if (entry.op !== 'create') continue;
      creates++;
      if (applied) this.applied.add(entry.seq);
    }
    this.log.info(
      applied
        ? 'a replay transaction whose answer was lost had been applied'
        : 'a replay transaction whose answer was lost was not applied; sending it again',
      {
        creates,
      },
    );
    this.staleReceipts.push(receipt);
    this.unsettled = undefined;
    return true;
  }

  /**
   * Settles the receipts of the batch's creates whose answer was lost when they went straight to the store; false
   * when the store cannot answer now. A receipt the store cannot settle for another reason leaves its creates to the
   * rule for creates sent without a receipt.
   */
  async settleEntries(batch: readonly JournalEntry[]): Promise<boolean> {
    const open = new Set<string>();
    for (const e of batch) if (e.op === 'create' && e.receipt && !this.receiptOutcome.has(e.receipt)) open.add(e.receipt);
    for (const receipt of open) {
      const applied = await this.ask(receipt);
      if (applied === undefined) return false;
      this.receiptOutcome.set(receipt, applied);
      if (applied === 'unknown') continue;
      const creates = batch.filter((e) => e.op === 'create' && e.receipt === receipt).length;
      this.log.info(
        applied ? 'issues whose answer was lost had been applied' : 'issues whose answer was lost were not applied; sending them again',
        { creates },
      );
    }
    return true;
  }

  /**
   * A create already applied (a settled receipt says so), or sent and its answer lost with no receipt to settle
   * (a killed process that left none, a store that cannot tell).
   */
  knownSent(entry: CreateEntry): boolean {
    if (this.applied.has(entry.seq) || entry.seq <= this.unknownThrough) return true;
    const outcome = entry.receipt === undefined ? false : this.receiptOutcome.get(entry.receipt);
    return outcome === true || outcome === 'unknown';
  }

  /** A create a settled receipt shows applied (not merely sent with its answer lost). */
  knownApplied(entry: CreateEntry): boolean {
    return this.applied.has(entry.seq) || (entry.receipt !== undefined && this.receiptOutcome.get(entry.receipt) === true);
  }

  /** Deletes, in the background and once per process, receipts that earlier runs left and the journal no longer names. */
  cleanupOnce(): void {
    if (this.cleaned || !this.receipts?.available) return;
    this.cleaned = true;
    const keep = new Set(this.entryReceipts.keys());
    if (this.unsettled) keep.add(this.unsettled.receipt);
    this.receipts.cleanup(keep).then(
      (n) => n > 0 && this.log.info('deleted receipts an earlier run left behind', { receipts: n }),
      (err: unknown) => {
        this.cleaned = false; // again at the next connection
        this.log.warn('could not look for receipts an earlier run left behind', { error: String(err) });
      },
    );
  }

  /** Deletes the receipts no longer needed (the journal is empty); a failure leaves them to the next replay. */
  async removeStale(): Promise<void> {
    if (this.staleReceipts.length === 0 || !this.receipts) return;
    const done = [...this.staleReceipts];
    await this.receipts.remove(done).then(
      () => (this.staleReceipts = this.staleReceipts.filter((r) => !done.includes(r))),
      (err: unknown) => this.log.warn('could not delete replay receipts; the next replay will', { error: String(err) }),
    );
  }

  /**
   * Whether the transaction carrying `receipt` was applied; `undefined` while the store cannot answer, `unknown`
   * when it cannot say at all (no receipts, a refusal): those creates fall to the rule for creates without one.
   */
  private async ask(receipt: string): Promise<boolean | 'unknown' | undefined> {
    const receipts = this.usable();
    try {
      if (!receipts) throw new Error('this store cannot settle receipts');
      return await receipts.settle(receipt);
    } catch (err) {
      if (err instanceof StoreUnavailableError) return undefined;
      this.log.error('cannot settle a receipt; its creates are replayed only where the store holds them', { error: String(err) });
      return 'unknown';
    }
  }
}
