import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/clock.js';
import type { Mirror } from '../mirror/mirror.js';
import { type ReplayReceipts, type TokenStore, hasRelist, hasReplayReceipts } from '../store/token-store.js';
import { type CreateEntry, ReceiptLedger } from './receipt-ledger.js';
import type { Journal, JournalEntry, JournalOp } from '../store/journal.js';
import { isConnected } from '../store/connection-state.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';
import { type RecordLayout, refOf, shardOf } from '../store/token-record.js';

/** Journal entries replayed at once (see WritePath.replay). */
const REPLAY_BATCH = 64;

/** Outcome of a write: `replicated` is false when it was journaled for later. */
export interface WriteOutcome {
  replicated: boolean;
  /** For creates and deletes: did the store change (false: already there / already gone). */
  changed: boolean;
  /** For a logout: the subject's generation it wrote (the store's), or took here (journaled). */
  gen?: number;
}

/**
 * Every write goes through here. While the store answers, a write goes
 * straight to it unless the journal still holds a write for the same token
 * (or, for a logout marker, the same subject). Otherwise it is journaled
 * (fsynced), applied to the mirror's overlay at once, and replayed in order
 * when the store is back: a write may not overtake one journaled before it
 * for the same record, or a revocation could be undone by a late create.
 *
 * Per record, not behind the whole journal: under sustained issuing a journal
 * every new write queues behind may never drain (docs/design-notes.md). Writes
 * to different records commute: jtis are never reused, and markers only ever
 * move forward.
 */
export class WritePath {
  private replaying: Promise<void> | undefined;
  /** Journaled, not yet replayed writes per record key (see keyOf): a write for such a key must queue behind them. */
  private readonly pendingKeys = new Map<string, number>();
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** What the replay knows about receipts: those to settle, those settled, those to delete. */
  private readonly ledger: ReceiptLedger;

  constructor(
    private readonly store: TokenStore,
    private readonly mirror: Mirror,
    private readonly journal: Journal,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.ledger = new ReceiptLedger(hasReplayReceipts(store) ? store.receipts : undefined, log);
    store.on('state', (next) => {
      if (isConnected(next)) this.kick();
    });
  }

  get pending(): number {
    return this.journal.size;
  }

  /** Puts what the journal holds back into the mirror's overlay (after a restart) and starts replaying. */
  restore(): void {
    this.ledger.restore(this.journal.sendingAtOpen, this.journal.pending());
    for (const entry of this.journal.pending()) {
      this.hold(keyOf(entry));
      this.overlay(entry);
    }
    this.kick();
  }

  async apply(op: JournalOp): Promise<WriteOutcome> {
    if (!this.pendingKeys.has(keyOf(op)) && isConnected(this.store.state)) {
      try {
        if (op.op === 'marker') {
          const gen = await this.raise(op);
          return { replicated: true, changed: true, gen };
        }
        const layout = this.store.recordLayout; // before the write: a create names the record by this layout or a later one
        const changed = await this.send(op);
        this.confirm(op, layout);
        return { replicated: true, changed };
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        this.log.warn('store unreachable; journaling the write', { op: op.op });
        // sent, answer lost: the replay asks the receipt whether it was applied before sending it again
        if (op.op === 'create' && err.receipt) op = { ...op, receipt: err.receipt };
      }
    }
    // A logout taken here at once, one above what this node knows: every token it answered before is refused.
    if (op.op === 'marker') op = { op: 'marker', subject: op.subject, floor: Math.max(op.floor ?? 0, this.mirror.gen(op.subject) + 1) };
    const key = keyOf(op);
    this.hold(key);
    let entry: JournalEntry;
    try {
      entry = await this.journal.append(op, this.clock.now());
    } catch (err) {
      this.release(key);
      throw err;
    }
    this.ledger.hold(entry);
    this.overlay(entry);
    this.kick();
    return { replicated: false, changed: true, ...(entry.op === 'marker' ? { gen: entry.floor } : {}) };
  }

  /** Replays the journal in order; stops at the first write the store cannot take and retries later. */
  kick(): void {
    if (!this.closed && isConnected(this.store.state)) this.ledger.cleanupOnce();
    if (this.closed || this.replaying || this.journal.size === 0) return;
    this.replaying = this.replay()
      .catch((err: unknown) => {
        this.log.error('journal replay failed', { error: String(err) });
      })
      .finally(() => {
        this.replaying = undefined;
        if (this.journal.size > 0 && !this.closed) this.scheduleRetry();
      });
  }

  /** Resolves once the journal is empty (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.journal.size > 0 && !this.closed) {
      this.kick();
      await (this.replaying ?? new Promise((r) => setTimeout(r, 50)));
    }
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (isConnected(this.store.state)) this.kick();
      else this.scheduleRetry();
    }, 1000);
    this.retryTimer.unref();
  }

  /**
   * Replays the journal in batches of the leading {@link REPLAY_BATCH} entries, sent at once and recorded
   * done with one write. A record with several entries in the batch gets one write, the last (a create and
   * its revocation: the revocation; for a subject's logout markers, the latest), so two writes of one record
   * are never in flight together, for either store, and a busy node's journal (issues and revocations of
   * the same tokens interleaved) still replays 64 entries at a time: one at a time (two durable writes and a
   * round trip each), replay falls behind what a busy node journals during an outage. Entries after a failure
   * in the batch are sent again later, which is harmless for deletes and markers.
   *
   * Creates are not harmless to send twice: one applied, then revoked on another node, would come back. Where
   * the store has {@link ReplayReceipts}, a batch's creates therefore go in ONE transaction with a receipt
   * named in `journal.sending` first; a transaction whose answer never came (lost with the connection, or the
   * process killed) is settled before anything else is sent: applied (its creates are done, and one absent
   * now was revoked) or fenced off for good (its creates are sent again).
   */
  private async replay(): Promise<void> {
    let replayed = 0;
    for (;;) {
      if (this.closed || !isConnected(this.store.state)) break;
      const receipts = this.ledger.usable();
      if (!(await this.ledger.settleLost(this.journal.pending()))) break;
      const batch = this.nextBatch(receipts);
      if (batch.length === 0) break;
      if (!(await this.ledger.settleEntries(batch))) break;
      const last = batch[batch.length - 1]!.seq;
      const finals = new Map<string, JournalEntry>();
      for (const entry of batch) {
        const key = keyOf(entry);
        finals.set(key, laterOf(finals.get(key), entry));
      }
      const creates = receipts ? [...finals.values()].filter((e): e is CreateEntry => e.op === 'create' && !this.ledger.knownSent(e)) : [];
      const receipt = creates.length > 0 ? receipts!.newName() : undefined;
      const stale = receipt ? this.ledger.stale : [];
      await this.journal.markSending(last, receipt, this.ledger.stale);
      const unavailable = new Set<string>();
      const one = async (entry: JournalEntry) => {
        try {
          await this.replayEntry(entry);
        } catch (err) {
          if (err instanceof StoreUnavailableError) unavailable.add(keyOf(entry));
          // A write the store refuses for good (not an outage) must not block everything behind it.
          else this.log.error('journal entry refused by the store; dropping it', { seq: entry.seq, op: entry.op, error: String(err) });
        }
      };
      const inTransaction = new Set<JournalEntry>(creates);
      await Promise.all([
        ...[...finals.values()].filter((e) => !inTransaction.has(e)).map(one),
        receipt ? this.sendWithReceipt(receipts!, creates, receipt, stale, last, unavailable, one) : undefined,
      ]);
      const failedAt = batch.findIndex((entry) => unavailable.has(keyOf(entry)));
      const sent = failedAt < 0 ? batch.length : failedAt;
      if (sent === 0) break;
      await this.journal.completeThrough(batch[sent - 1]!.seq);
      for (const entry of batch.slice(0, sent)) {
        this.ledger.done(entry);
        this.retire(entry);
      }
      replayed += sent;
      if (sent < batch.length) break;
    }
    if (replayed > 0) this.log.info('journal replayed into the store', { entries: replayed });
    if (this.journal.size === 0 && isConnected(this.store.state)) await this.ledger.removeStale();
  }

  /** The leading pending entries: at most {@link REPLAY_BATCH}, with creates that fit one transaction. */
  private nextBatch(receipts: ReplayReceipts | undefined): JournalEntry[] {
    const batch: JournalEntry[] = [];
    let weight = 0;
    for (const entry of this.journal.pending()) {
      if (batch.length === REPLAY_BATCH) break;
      if (receipts && entry.op === 'create') {
        weight += receipts.weight(entry.record);
        if (batch.length > 0 && weight > receipts.maxWeight) break;
      }
      batch.push(entry);
    }
    return batch;
  }

  /**
   * The creates of a batch in one transaction with `receipt`. Lost with the connection: the receipt stays to be
   * settled. Refused for another reason than a name already taken (which the store handles): each is sent alone.
   */
  private async sendWithReceipt(
    receipts: ReplayReceipts,
    creates: CreateEntry[],
    receipt: string,
    stale: string[],
    last: number,
    unavailable: Set<string>,
    one: (entry: JournalEntry) => Promise<void>,
  ): Promise<void> {
    try {
      await receipts.createWithReceipt(
        creates.map((e) => e.record),
        receipt,
        stale,
      );
      this.ledger.sent(receipt, stale);
    } catch (err) {
      if (err instanceof StoreUnavailableError) {
        this.ledger.lost(receipt, last);
        for (const entry of creates) unavailable.add(keyOf(entry));
        return;
      }
      this.log.warn('a replay transaction was refused; sending its creates one by one', { creates: creates.length, error: String(err) });
      await Promise.all(creates.map(one));
    }
  }

  /**
   * A create already applied is not sent again: absent from the store now, it was revoked on another node since.
   * One that a killed process sent without a receipt and that the store does not hold is not sent again either:
   * it was most likely applied and revoked since (a revocation cannot be told from a create that never arrived,
   * and bringing a revoked token back is the worse mistake; the other one costs a login).
   */
  private async replayEntry(entry: JournalEntry): Promise<boolean> {
    if (entry.op !== 'create' || !this.ledger.knownSent(entry)) return this.send(entry);
    const ref = refOf(entry.record);
    if (await this.store.exists(ref)) return false;
    const known = this.ledger.knownApplied(entry);
    this.log.warn(
      known
        ? 'not replaying a journaled issue that was applied before its answer was lost and is no longer in the store: it was revoked since'
        : 'not replaying a journaled issue sent before a crash and no longer in the store: it may have been revoked since; ' +
            'the token is refused',
      { jti: entry.record.jti, seq: entry.seq },
    );
    this.mirror.removePending(ref);
    return false;
  }

  private async send(op: JournalOp): Promise<boolean> {
    switch (op.op) {
      case 'create':
        return this.store.create(op.record);
      case 'delete':
        return this.store.delete(op.ref);
      case 'marker':
        await this.raise(op);
        return true;
    }
  }

  /** A logout's one store write; the mirror takes the generation written at once (before the store's notification). */
  private async raise(op: JournalOp & { op: 'marker' }): Promise<number> {
    const gen = await this.store.raiseMarker(op.subject, op.floor ?? 0);
    this.mirror.applyMarker(op.subject, { gen });
    return gen;
  }

  /** `layout`: the store's before the write; the mirror holds the expiry only when the record's name carries it. */
  private confirm(op: JournalOp, layout: RecordLayout): void {
    if (op.op === 'create') this.mirror.add(refOf(op.record, layout));
    else if (op.op === 'delete') this.mirror.remove(op.ref);
    // markers: applied by raise()
  }

  private overlay(entry: JournalEntry): void {
    if (entry.op === 'create') this.mirror.addPending(refOf(entry.record));
    else if (entry.op === 'delete') this.mirror.removePending(entry.ref);
    else this.mirror.addPendingMarker(entry.subject, entry.floor ?? this.mirror.gen(entry.subject) + 1);
  }

  /** Registered before the journal append resolves, so that a write for the same record queues at once. */
  private hold(key: string): void {
    this.pendingKeys.set(key, (this.pendingKeys.get(key) ?? 0) + 1);
  }

  private release(key: string): void {
    const left = (this.pendingKeys.get(key) ?? 1) - 1;
    if (left > 0) this.pendingKeys.set(key, left);
    else this.pendingKeys.delete(key);
  }

  /** A journaled write the store now holds: later writes of its record need not queue, and the mirror takes the store's word. */
  private retire(entry: JournalEntry): void {
    this.release(keyOf(entry));
    if (entry.op === 'create') {
      const jti = entry.record.jti;
      this.mirror.settle(jti);
      // The store's notification of the create adds it; one lost with a connection never comes. Listing the shard
      // brings it (or its absence, if it was revoked meanwhile) without guessing; coalesced with other listings.
      if (this.mirror.lookup(jti).presence !== 'present' && hasRelist(this.store)) {
        this.store.relistShard(shardOf(jti, this.store.shards)).catch((err: unknown) => {
          this.log.debug('could not list the shard of a replayed issue; the resync will', { error: String(err) });
        });
      }
    } else if (entry.op === 'delete') this.mirror.settle(entry.ref.jti);
    else this.mirror.settleMarker(entry.subject, entry.floor ?? Number.MAX_SAFE_INTEGER);
  }
}

/** The record a write is about: writes with the same key are applied in journal order. */
function keyOf(op: JournalOp): string {
  switch (op.op) {
    case 'create':
      return `t:${op.record.jti}`;
    case 'delete':
      return `t:${op.ref.jti}`;
    case 'marker':
      return `s:${op.subject}`;
  }
}

/** Of two journal entries for one record, the one whose write leaves the store as both in order would. */
function laterOf(earlier: JournalEntry | undefined, later: JournalEntry): JournalEntry {
  if (earlier?.op === 'marker' && later.op === 'marker' && (earlier.floor ?? 0) > (later.floor ?? 0)) return earlier;
  return later;
}
