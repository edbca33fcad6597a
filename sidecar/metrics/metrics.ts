import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { REFUSAL_REASONS, type RefusalReason } from '../tokens/token-claims.js';
import { TOKEN_KINDS, type TokenKind } from '../store/token-record.js';
import type { CreateBatchCounts } from '../store/token-store.js';
import { type Clock, systemClock } from '../util/clock.js';
import { PROPAGATION_OPS, type PropagationOp, type PropagationSnapshot, PropagationStats } from './propagation-stats.js';

export interface MetricsSources {
  mirrorSize(): number;
  mirrorLagMs(): number;
  journalPending(): number;
  storeState(): string;
  createBatches?(): CreateBatchCounts;
}

const REFUSAL_INDEX = Object.fromEntries(REFUSAL_REASONS.map((r, i) => [r, i + 1])) as Record<RefusalReason, number>;
const KIND_INDEX = Object.fromEntries(TOKEN_KINDS.map((k, i) => [k, i])) as Record<TokenKind, number>;

/** `GET /v1/stats`: the running totals behind the counters, for a client that works out rates itself (the console). */
export interface MetricsSnapshot {
  validations: { valid: number; refused: Record<RefusalReason, number> };
  issued: Record<TokenKind, number>;
  revocations: { token: number; subject: number };
  /** The latest logout made on this node: ms until every live member acknowledged it (or the wait gave up), and how many had not. */
  lastLogout: { propagationMs: number; pending: number; at: string } | null;
  /** Issue and revoke propagation to each other member, from this node's probes (see PropagationStats). */
  propagation: PropagationSnapshot;
}

const STATES = ['latent', 'connected', 'suspended', 'reconnected', 'lost', 'closed'];

/**
 * Prometheus metrics. The validation and issue counters are plain numbers
 * added to on the hot path and handed to prom-client when `/metrics` is
 * scraped: even a counter bound to its labels hashes them on every `inc()`,
 * which cost more than a cached validation. Request durations go to the
 * histogram child of their route, looked up once per route name.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Validations so far: index 0 valid, then one per refusal reason in {@link REFUSAL_REASONS} order. */
  private readonly validationCounts = new Float64Array(REFUSAL_REASONS.length + 1);
  /** Tokens issued (or mirrored) so far, one per kind in {@link TOKEN_KINDS} order. */
  private readonly issuedCounts = new Float64Array(TOKEN_KINDS.length);
  private readonly revoked: Counter<'scope'>;
  private readonly revokedCounts = { token: 0, subject: 0 };
  private lastLogout: MetricsSnapshot['lastLogout'] = null;
  private readonly consumed: Counter<'result'>;
  private readonly confirmations: Counter<'result'>;
  private readonly reissued: Counter;
  readonly httpDuration: Histogram<'route'>;
  private readonly durationOf = new Map<string, { observe(seconds: number): void }>();
  private readonly propagation: PropagationStats;
  private readonly propagationSeconds: Histogram<'op'>;
  private readonly propagationMissed: Counter<'op'>;

  constructor(sources: MetricsSources, options: { defaultMetrics?: boolean; clock?: Clock; probeIntervalMs?: number } = {}) {
    const registers = [this.registry];
    this.propagation = new PropagationStats(options.clock ?? systemClock, { intervalMs: options.probeIntervalMs ?? 5_000 });
    this.propagationSeconds = new Histogram({
      name: 'tokensync_propagation_seconds',
      help: "Time from this node's probe write (op issue: a create, revoke: a delete) to another member's mirror having it, acknowledgement's return trip included (an upper bound)",
      labelNames: ['op'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.propagationMissed = new Counter({
      name: 'tokensync_propagation_missed_total',
      help: 'Probes of this node a member did not acknowledge within the wait (4 s), by op',
      labelNames: ['op'] as const,
      registers,
    });
    for (const op of PROPAGATION_OPS) this.propagationMissed.labels(op).inc(0);
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'tokensync_process_' });
    const counts = this.validationCounts;
    const reported = new Float64Array(counts.length);
    new Counter({
      name: 'tokensync_validations_total',
      help: 'Token validations by result and refusal reason',
      labelNames: ['result', 'reason'] as const,
      registers,
      collect() {
        for (let i = 0; i < counts.length; i++) {
          const delta = counts[i]! - reported[i]!;
          if (delta <= 0) continue;
          reported[i] = counts[i]!;
          if (i === 0) this.labels('valid', '').inc(delta);
          else this.labels('invalid', REFUSAL_REASONS[i - 1]!).inc(delta);
        }
      },
    });
    const issued = this.issuedCounts;
    const issuedReported = new Float64Array(issued.length);
    new Counter({
      name: 'tokensync_tokens_issued_total',
      help: 'Tokens issued (or mirrored) by kind',
      labelNames: ['kind'] as const,
      registers,
      collect() {
        for (let i = 0; i < issued.length; i++) {
          const delta = issued[i]! - issuedReported[i]!;
          if (delta <= 0) continue;
          issuedReported[i] = issued[i]!;
          this.labels(TOKEN_KINDS[i]!).inc(delta);
        }
      },
    });
    this.revoked = new Counter({
      name: 'tokensync_revocations_total',
      help: 'Revocations: single tokens, and subjects logged out everywhere',
      labelNames: ['scope'] as const,
      registers,
    });
    this.consumed = new Counter({
      name: 'tokensync_onetime_consumptions_total',
      help: 'One-time token consumptions by result: POST /v1/tokens/consume, and one-time tokens presented at GET /v1/auth or to the in-process middleware',
      labelNames: ['result'] as const,
      registers,
    });
    this.confirmations = new Counter({
      name: 'tokensync_store_confirmations_total',
      help: 'Tokens unknown to the mirror checked against the store, by result',
      labelNames: ['result'] as const,
      registers,
    });
    this.reissued = new Counter({ name: 'tokensync_tokens_reissued_total', help: 'Sliding session tokens reissued', registers });
    this.httpDuration = new Histogram({
      name: 'tokensync_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['route'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers,
    });
    new Gauge({
      name: 'tokensync_mirror_size',
      help: 'Live token records in the in-memory mirror',
      registers,
      collect() {
        this.set(sources.mirrorSize());
      },
    });
    new Gauge({
      name: 'tokensync_mirror_lag_milliseconds',
      help: 'How far the mirror may be behind the store',
      registers,
      collect() {
        this.set(sources.mirrorLagMs());
      },
    });
    new Gauge({
      name: 'tokensync_journal_pending',
      help: 'Writes journaled while the store was unreachable, not yet replayed',
      registers,
      collect() {
        this.set(sources.journalPending());
      },
    });
    new Gauge({
      name: 'tokensync_store_state',
      help: 'Connection state of the cluster store (1 for the current state)',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const current = sources.storeState();
        for (const s of STATES) this.labels(s).set(s === current ? 1 : 0);
      },
    });
    const batches = sources.createBatches?.bind(sources);
    if (batches) {
      const fromStore = (name: string, help: string, pick: (b: CreateBatchCounts) => number) =>
        new Counter({
          name,
          help,
          registers,
          collect() {
            // a running total kept by the store: handed over as it is on each scrape
            this.reset();
            this.inc(pick(batches()));
          },
        });
      fromStore(
        'tokensync_store_create_transactions_total',
        'ZooKeeper transactions (multi) that carried token record creates',
        (b) => b.transactions,
      );
      fromStore(
        'tokensync_store_batched_creates_total',
        'Token record creates sent inside those transactions (creates sent alone are not counted)',
        (b) => b.creates,
      );
      fromStore(
        'tokensync_store_create_transactions_refused_total',
        'Of those transactions, the ones ZooKeeper refused (a name taken...): sent again as single creates',
        (b) => b.refused,
      );
    }
  }

  validation(reason: RefusalReason | undefined): void {
    this.validationCounts[reason === undefined ? 0 : REFUSAL_INDEX[reason]]++;
  }

  issue(kind: TokenKind): void {
    this.issuedCounts[KIND_INDEX[kind]]++;
  }

  /** One HTTP request's duration in seconds, by route name. */
  httpRequest(route: string, seconds: number): void {
    let child = this.durationOf.get(route);
    if (child === undefined) {
      child = this.httpDuration.labels(route);
      this.durationOf.set(route, child);
    }
    child.observe(seconds);
  }

  revocation(scope: 'token' | 'subject'): void {
    this.revoked.labels(scope).inc();
    this.revokedCounts[scope]++;
  }

  logoutPropagated(ms: number, pending: number): void {
    this.lastLogout = { propagationMs: ms, pending, at: new Date().toISOString() };
  }

  /** A propagation probe's figure for one member (ms, on this node's clock). */
  propagated(op: PropagationOp, member: string, ms: number): void {
    this.propagation.measured(op, member, ms);
    this.propagationSeconds.labels(op).observe(ms / 1000);
  }

  /** The probe's interval now (it grows with the number of other members). */
  propagationInterval(ms: number): void {
    this.propagation.intervalMs = ms;
  }

  propagationMissedBy(op: PropagationOp, member: string): void {
    this.propagation.missed(op, member);
    this.propagationMissed.labels(op).inc();
  }

  snapshot(): MetricsSnapshot {
    return {
      validations: {
        valid: this.validationCounts[0]!,
        refused: Object.fromEntries(REFUSAL_REASONS.map((r) => [r, this.validationCounts[REFUSAL_INDEX[r]]!])) as Record<
          RefusalReason,
          number
        >,
      },
      issued: Object.fromEntries(TOKEN_KINDS.map((k) => [k, this.issuedCounts[KIND_INDEX[k]]!])) as Record<TokenKind, number>,
      revocations: { ...this.revokedCounts },
      lastLogout: this.lastLogout && { ...this.lastLogout },
      propagation: this.propagation.snapshot(),
    };
  }

  consumption(result: 'won' | 'lost' | 'unavailable'): void {
    this.consumed.labels(result).inc();
  }

  confirmation(result: 'found' | 'missing' | 'error'): void {
    this.confirmations.labels(result).inc();
  }

  reissue(): void {
    this.reissued.inc();
  }
}
