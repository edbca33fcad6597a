import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/clock.js';
import type { Mirror } from '../mirror/mirror.js';
import type { TokenStore } from './token-store.js';
import { isConnected } from './connection-state.js';
import { type RecordRef, isRecordExpired, isRefExpired, kindOfJti, parseRecordName } from './token-record.js';
import { type LogoutMarker, loggedOut } from './logout-marker.js';

export interface ReaperOptions {
  intervalMs: number;
  /** Deletes per second at most; reads are allowed four times as many. */
  ratePerSecond: number;
  clockSkewMs: number;
}

export interface SweepStats {
  scanned: number;
  /** Records read: only those whose name does not say enough (layout 1, or a legacy marker's time rule). */
  read: number;
  expired: number;
  loggedOut: number;
  ms: number;
}

/**
 * Removes expired records and records behind a logout marker (record generation below the subject's). Markers
 * stay: a subject's generation must never fall back to 0, or the next logout would not refuse tokens issued at
 * the old one (a marker is one small node per subject ever logged out). One sidecar at a time (the store's election); validation
 * never depends on it, since expiry and markers are checked on every
 * validation. Paced by a token bucket so a sweep over millions of records is
 * a trickle, not a storm.
 *
 * With layout 2 a record's name says when it expires and its logout generation, so the reaper reads nothing: once
 * elected it makes ONE pass over the shard listings (what expired before), then deletes what the mirror reports
 * (`expired`, and for a raised marker the subject's held records behind it) from the names alone. Layout-1 names
 * still need their record read, and a layout-1 store is swept every interval, as before.
 */
export class Reaper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepStats | undefined> | undefined;
  private closed = false;
  private tokens = 0;
  private lastRefill = 0;
  /** Whether this node swept since it became the reaper: after that, names the mirror reports are enough. */
  private swept = false;
  /** Expired records the mirror dropped, and subjects whose marker rose, waiting for the next tick. */
  private readonly due = new Map<string, RecordRef>();
  private readonly markerSubjects = new Set<string>();
  /** Whether the mirror reports expiries itself; until it does, each tick looks through the names it holds. */
  private readonly unsubscribers: Array<() => void> = [];
  last: SweepStats | undefined;

  constructor(
    private readonly store: TokenStore,
    private readonly mirror: Mirror,
    private readonly options: ReaperOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.timer) throw new Error('Reaper already started');
    const onExpired = (refs: RecordRef | RecordRef[]) => {
      for (const ref of Array.isArray(refs) ? refs : [refs]) this.due.set(ref.jti, ref);
    };
    const onMarker = (subject: string) => this.markerSubjects.add(subject);
    this.mirror.on('expired', onExpired);
    this.mirror.on('marker', onMarker);
    this.unsubscribers.push(() => {
      this.mirror.off('expired', onExpired);
      this.mirror.off('marker', onMarker);
    });
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const off of this.unsubscribers.splice(0)) off();
    await this.running?.catch(() => undefined);
  }

  /** One sweep if this node is the reaper and none is running. */
  tick(): Promise<SweepStats | undefined> {
    if (this.running || this.closed || !isConnected(this.store.state)) return Promise.resolve(undefined);
    this.running = (async () => {
      try {
        if (!(await this.store.isReaper())) {
          // elected later: one pass then, for what expired meanwhile; until then nothing is kept for it
          this.swept = false;
          this.due.clear();
          this.markerSubjects.clear();
          return undefined;
        }
        const stats = this.swept && this.store.recordLayout === 2 ? await this.reapReported() : await this.sweep();
        this.swept = true;
        this.last = stats;
        if (stats.expired + stats.loggedOut > 0) this.log.info('reaper swept', { ...stats });
        return stats;
      } catch (err) {
        this.swept = false; // what it had in hand is caught by a pass next time
        this.log.warn('reaper sweep stopped', { error: String(err) });
        return undefined;
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /**
   * After the pass: what the mirror reported expired, and the held records of subjects whose marker rose, judged
   * from their names (layout-1 names among them are read). No listing, no read of a layout-2 record.
   */
  async reapReported(): Promise<SweepStats> {
    const started = this.clock.now();
    const stats: SweepStats = { scanned: 0, read: 0, expired: 0, loggedOut: 0, ms: 0 };
    for (const subject of this.markerSubjects) for (const ref of this.mirror.entriesOf(subject)) this.due.set(ref.jti, ref);
    this.markerSubjects.clear();
    const due = [...this.due.values()];
    this.due.clear();
    for (const ref of due) {
      if (this.closed) break;
      stats.scanned++;
      await this.judge(ref, this.mirror.marker(ref.subject), stats); // the mirror holds every marker: no listing
    }
    stats.ms = this.clock.now() - started;
    return stats;
  }

  /** Visits every shard once: names alone for layout 2, a read for layout 1. Exposed for tests and `tokensync store reap`. */
  async sweep(): Promise<SweepStats> {
    const started = this.clock.now();
    const stats: SweepStats = { scanned: 0, read: 0, expired: 0, loggedOut: 0, ms: 0 };
    const markers = await this.store.listMarkers();
    for (let shard = 0; shard < this.store.shards && !this.closed; shard++) {
      const names = await this.store.listShard(shard);
      for (const name of names) {
        if (this.closed) break;
        const ref = parseRecordName(name);
        if (!ref) continue;
        stats.scanned++;
        await this.judge(ref, markers.get(ref.subject), stats);
      }
    }
    stats.ms = this.clock.now() - started;
    return stats;
  }

  /** Deletes one record if it expired or is behind its subject's marker: from its name when it says enough. */
  private async judge(ref: RecordRef, marker: LogoutMarker | undefined, stats: SweepStats): Promise<void> {
    // a legacy marker's time rule needs the record's first login, which no name carries
    if (ref.expiresAt !== undefined && (marker?.legacyBefore === undefined || (ref.gen ?? 0) > 0)) {
      const behindMarker = loggedOut(marker, ref.gen ?? 0, 0, 0);
      if (behindMarker || isRefExpired(ref, this.clock.now(), this.options.clockSkewMs)) await this.remove(ref, behindMarker, stats);
      return;
    }
    // api tokens never expire: without a marker there is nothing to learn from their record.
    if (marker === undefined && kindOfJti(ref.jti) === 'api') return;
    await this.take(0.25);
    const record = await this.store.read(ref);
    stats.read++;
    if (!record) return;
    const behindMarker = loggedOut(marker, record.gen, 0, record.issuedAt);
    if (isRecordExpired(record, this.clock.now(), this.options.clockSkewMs) || behindMarker) await this.remove(ref, behindMarker, stats);
  }

  private async remove(ref: RecordRef, behindMarker: boolean, stats: SweepStats): Promise<void> {
    await this.take(1);
    if (await this.store.delete(ref)) {
      this.mirror.remove(ref);
      if (behindMarker) stats.loggedOut++;
      else stats.expired++;
    }
  }

  /** Token bucket: waits until `cost` is available at `ratePerSecond`. */
  private async take(cost: number): Promise<void> {
    const rate = this.options.ratePerSecond;
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(rate, this.tokens + ((now - this.lastRefill) / 1000) * rate);
      this.lastRefill = now;
      if (this.tokens >= cost) {
        this.tokens -= cost;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((cost - this.tokens) / rate) * 1000)));
    }
  }
}
