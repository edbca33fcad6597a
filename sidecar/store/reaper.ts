import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/clock.js';
import type { Mirror } from '../mirror/mirror.js';
import type { TokenStore } from './token-store.js';
import { isConnected } from './connection-state.js';
import { isRecordExpired, kindOfJti, parseRecordName } from './token-record.js';
import { loggedOut } from './logout-marker.js';

export interface ReaperOptions {
  intervalMs: number;
  /** Deletes per second at most; reads are allowed four times as many. */
  ratePerSecond: number;
  clockSkewMs: number;
}

export interface SweepStats {
  scanned: number;
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
 */
export class Reaper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepStats | undefined> | undefined;
  private closed = false;
  private tokens = 0;
  private lastRefill = 0;
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
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One sweep if this node is the reaper and none is running. */
  tick(): Promise<SweepStats | undefined> {
    if (this.running || this.closed || !isConnected(this.store.state)) return Promise.resolve(undefined);
    this.running = (async () => {
      try {
        if (!(await this.store.isReaper())) return undefined;
        const stats = await this.sweep();
        this.last = stats;
        if (stats.expired + stats.loggedOut > 0) this.log.info('reaper swept', { ...stats });
        return stats;
      } catch (err) {
        this.log.warn('reaper sweep stopped', { error: String(err) });
        return undefined;
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Visits every shard once. Exposed for tests and `tokensync store reap`. */
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
        const marker = markers.get(ref.subject);
        // api tokens never expire: without a marker there is nothing to learn from their record.
        if (marker === undefined && kindOfJti(ref.jti) === 'api') continue;
        await this.take(0.25);
        const record = await this.store.read(ref);
        stats.read++;
        if (!record) continue;
        const now = this.clock.now();
        const behindMarker = loggedOut(marker, record.gen, 0, record.issuedAt);
        if (isRecordExpired(record, now, this.options.clockSkewMs) || behindMarker) {
          await this.take(1);
          if (await this.store.delete(ref)) {
            this.mirror.remove(ref);
            if (behindMarker) stats.loggedOut++;
            else stats.expired++;
          }
        }
      }
    }
    stats.ms = this.clock.now() - started;
    return stats;
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
