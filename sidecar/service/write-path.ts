import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/clock.js';
import type { Mirror } from '../mirror/mirror.js';
import type { TokenStore } from '../store/token-store.js';
import type { Journal, JournalEntry, JournalOp } from '../store/journal.js';
import { isConnected } from '../store/connection-state.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';

/** Journal entries replayed at once (see WritePath.replay). */
const REPLAY_BATCH = 64;

/** Outcome of a write: `replicated` is false when it was journaled for later. */
export interface WriteOutcome {
  replicated: boolean;
  /** For creates and deletes: did the store change (false: already there / already gone). */
  changed: boolean;
}

/**
 * Every write goes through here. While the store answers, a write goes
 * straight to it unless the journal still holds a write for the same token
 * (or, for a logout marker, the same subject). Otherwise it is journaled
 * (fsynced), applied to the mirror's overlay at once, and replayed in order
 * when the store is back: a write may not overtake one journaled before it
 * for the same record, or a revocation could be undone by a late create.
 *
 * Why per record and not the whole journal: under sustained issuing after an
 * outage, a journal that every new write had to queue behind grew as fast as
 * it was replayed and never drained (tokens issued meanwhile stayed invisible
 * to the other nodes). Writes to different records commute: jtis are never
 * reused, and markers only ever move forward.
 */
export class WritePath {
  private replaying: Promise<void> | undefined;
  /** Journaled, not yet replayed writes per record key (see keyOf): a write for such a key must queue behind them. */
  private readonly pendingKeys = new Map<string, number>();
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly store: TokenStore,
    private readonly mirror: Mirror,
    private readonly journal: Journal,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    store.on('state', (next) => {
      if (isConnected(next)) this.kick();
    });
  }

  get pending(): number {
    return this.journal.size;
  }

  /** Puts what the journal holds back into the mirror's overlay (after a restart) and starts replaying. */
  restore(): void {
    for (const entry of this.journal.pending()) {
      this.hold(keyOf(entry));
      this.overlay(entry);
    }
    this.kick();
  }

  async apply(op: JournalOp): Promise<WriteOutcome> {
    if (!this.pendingKeys.has(keyOf(op)) && isConnected(this.store.state)) {
      try {
        const changed = await this.send(op);
        this.confirm(op);
        return { replicated: true, changed };
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        this.log.warn('store unreachable; journaling the write', { op: op.op });
      }
    }
    const key = keyOf(op);
    this.hold(key);
    let entry: JournalEntry;
    try {
      entry = await this.journal.append(op, this.clock.now());
    } catch (err) {
      this.release(key);
      throw err;
    }
    this.overlay(entry);
    this.kick();
    return { replicated: false, changed: true };
  }

  /** Replays the journal in order; stops at the first write the store cannot take and retries later. */
  kick(): void {
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
   * the same tokens interleaved) still replays 64 entries at a time. One entry at a time, replay could not
   * keep up with what a busy node had journaled during an outage (two durable writes and a round trip each).
   * Entries after a failure in the batch are sent again later, which is harmless.
   */
  private async replay(): Promise<void> {
    let replayed = 0;
    for (;;) {
      if (this.closed || !isConnected(this.store.state)) break;
      const batch = this.journal.pending().slice(0, REPLAY_BATCH);
      if (batch.length === 0) break;
      await this.journal.markSending(batch[batch.length - 1]!.seq);
      const finals = new Map<string, JournalEntry>();
      for (const entry of batch) {
        const key = keyOf(entry);
        finals.set(key, laterOf(finals.get(key), entry));
      }
      const unavailable = new Set<string>();
      await Promise.all(
        [...finals].map(async ([key, entry]) => {
          try {
            await this.replayEntry(entry);
          } catch (err) {
            if (err instanceof StoreUnavailableError) unavailable.add(key);
            // A write the store refuses for good (not an outage) must not block everything behind it.
            else this.log.error('journal entry refused by the store; dropping it', { seq: entry.seq, op: entry.op, error: String(err) });
          }
        }),
      );
      const failedAt = batch.findIndex((entry) => unavailable.has(keyOf(entry)));
      const sent = failedAt < 0 ? batch.length : failedAt;
      if (sent === 0) break;
      await this.journal.completeThrough(batch[sent - 1]!.seq);
      for (const entry of batch.slice(0, sent)) this.settle(entry);
      replayed += sent;
      if (sent < batch.length) break;
    }
    if (replayed > 0) this.log.info('journal replayed into the store', { entries: replayed });
  }

  /**
   * A create that a killed process had sent, and that the store does not hold, is not sent again: it was
   * most likely applied and then revoked on another node (a revocation cannot be told from a create that
   * never arrived, and bringing a revoked token back is the worse mistake; the other one costs a login).
   */
  private async replayEntry(entry: JournalEntry): Promise<boolean> {
    if (entry.op !== 'create' || !this.journal.sentBeforeRestart(entry.seq)) return this.send(entry);
    const ref = { jti: entry.record.jti, subject: entry.record.subject };
    if (await this.store.exists(ref)) return false;
    this.log.warn('not replaying a journaled issue sent before a crash and no longer in the store: it may have been revoked since; the token is refused', {
      jti: entry.record.jti,
      seq: entry.seq,
    });
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
        await this.store.setMarker(op.subject, op.revokedBefore);
        return true;
    }
  }

  private confirm(op: JournalOp): void {
    if (op.op === 'create') this.mirror.add({ jti: op.record.jti, subject: op.record.subject });
    else if (op.op === 'delete') this.mirror.remove(op.ref);
    else this.mirror.applyMarker(op.subject, op.revokedBefore);
  }

  private overlay(entry: JournalEntry): void {
    if (entry.op === 'create') this.mirror.addPending({ jti: entry.record.jti, subject: entry.record.subject });
    else if (entry.op === 'delete') this.mirror.removePending(entry.ref);
    else this.mirror.addPendingMarker(entry.subject, entry.revokedBefore);
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

  private settle(entry: JournalEntry): void {
    this.release(keyOf(entry));
    if (entry.op === 'create') this.mirror.settle(entry.record.jti);
    else if (entry.op === 'delete') this.mirror.settle(entry.ref.jti);
    else this.mirror.settleMarker(entry.subject);
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
  if (earlier?.op === 'marker' && later.op === 'marker' && earlier.revokedBefore > later.revokedBefore) return earlier;
  return later;
}
