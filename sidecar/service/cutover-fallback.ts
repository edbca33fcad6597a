import type { Logger } from '../util/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { TokenStore } from '../store/token-store.js';
import type { JournalOp } from '../store/journal.js';
import { type RecordRef, type TokenRecord, parseRecordName, shardOf } from '../store/token-record.js';
import type { WritePath } from './write-path.js';

/** What the fallback store of a cutover did on this node: when `confirmed` stops growing, it can go. */
export interface FallbackStats {
  /** Tokens unknown to our store, found in the fallback store. */
  confirmed: number;
  /** Of those, records copied into our store (one-time tokens stay where they are). */
  copied: number;
  /** Writes of this node also made in the fallback store, and those that failed. */
  writes: number;
  failedWrites: number;
}

export interface CutoverFallbackDeps {
  /** The previous store (`cluster.store.fallback.config`), started without watches; none outside a cutover. */
  fallback?: () => TokenStore | undefined;
  writes: WritePath;
  metrics?: Metrics;
  logger: Logger;
}

/**
 * The previous store during a migration cutover, as the service uses it: tokens our store does not know are
 * looked up there, one-time tokens issued there are consumed there, and what this node writes goes there too
 * (best effort). Without a fallback store every method answers "nothing there" at once.
 */
export class CutoverFallback {
  readonly stats: FallbackStats = { confirmed: 0, copied: 0, writes: 0, failedWrites: 0 };

  constructor(private readonly d: CutoverFallbackDeps) {}

  /**
   * Cutover: a token our store does not hold may come from a sidecar still on the previous store. Found
   * there, its record is copied into our store (one write; from then on it validates from the mirror like
   * any other, and the mirror never learns a name our store lacks, which its next listing would undo). A
   * one-time token stays where it is and is consumed there: once-only holds within one store only.
   */
  async confirm(ref: RecordRef): Promise<boolean> {
    const fallback = this.d.fallback?.();
    if (!fallback) return false;
    let record: TokenRecord | undefined;
    try {
      record = await fallback.read(ref);
    } catch (err) {
      this.d.logger.warn('cutover: the fallback store did not answer; refusing a token our store does not know', { error: String(err) });
      return false;
    }
    if (!record || record.subject !== ref.subject) return false;
    this.stats.confirmed++;
    this.d.metrics?.confirmation('found');
    if (record.kind !== 'onetime') {
      try {
        await this.d.writes.apply({ op: 'create', record });
        this.stats.copied++;
      } catch (err) {
        this.d.logger.warn('cutover: could not copy a record from the fallback store', { jti: ref.jti, error: String(err) });
      }
    }
    return true;
  }

  /** Cutover: a one-time token issued on a sidecar still on the previous store is consumed there. */
  async consume(ref: RecordRef): Promise<boolean> {
    const fallback = this.d.fallback?.();
    if (!fallback) return false;
    try {
      return await fallback.consume(ref);
    } catch (err) {
      this.d.logger.warn('cutover: the fallback store did not answer a consume', { error: String(err) });
      return false;
    }
  }

  /** Cutover: a token only the previous store holds is revoked there. */
  async revoke(jti: string): Promise<boolean> {
    const fallback = this.d.fallback?.();
    if (!fallback) return false;
    try {
      const ref = (await fallback.listShard(shardOf(jti, fallback.shards))).map(parseRecordName).find((r) => r?.jti === jti);
      return ref !== undefined && (await fallback.delete(ref));
    } catch (err) {
      this.d.logger.warn('cutover: the fallback store did not answer a revoke', { jti, error: String(err) });
      return false;
    }
  }

  /**
   * Cutover: what this node writes is written to the previous store too, so that sidecars not yet switched
   * validate the tokens issued here and refuse those revoked here. Best effort: a fallback store that is
   * down fails fast and is only logged. One-time tokens are not copied: once-only holds within one store.
   */
  async also(op: JournalOp): Promise<void> {
    const fallback = this.d.fallback?.();
    if (!fallback || (op.op === 'create' && op.record.kind === 'onetime')) return;
    this.stats.writes++;
    try {
      if (op.op === 'create') await fallback.create(op.record);
      else if (op.op === 'delete') await fallback.delete(op.ref);
      // at least our generation (tokens issued here carry ours), and above what the old store held (its tokens)
      else await fallback.raiseMarker(op.subject, op.floor ?? 0);
    } catch (err) {
      this.stats.failedWrites++;
      this.d.logger.warn('cutover: a write did not reach the fallback store', { op: op.op, error: String(err) });
    }
  }
}
