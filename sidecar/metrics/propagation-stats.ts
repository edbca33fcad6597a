import type { Clock } from '../util/clock.js';

/** What a propagation probe times: a record's arrival (an issue) or its removal (a revoke) in another member's mirror. */
export type PropagationOp = 'issue' | 'revoke';
export const PROPAGATION_OPS: readonly PropagationOp[] = ['issue', 'revoke'];

export interface MemberPropagation {
  /** The latest figure for this member (ms), or null when it has only missed so far. */
  lastMs: number | null;
  /** When that figure was taken (ISO, this node's clock). */
  at: string | null;
  /** Probes in the window this member did not acknowledge within the wait. */
  missed: number;
}

export interface OpPropagation {
  /** Figures in the window, every member together. */
  samples: number;
  p50Ms: number | null;
  maxMs: number | null;
  /** By member node id: only members heard from (or missed) within the window. */
  members: Record<string, MemberPropagation>;
}

/** `GET /v1/stats` `propagation`: end-to-end figures measured by this node's probes, on this node's clock alone. */
export interface PropagationSnapshot {
  /**
   * How often this node probes now (one create or one delete each time, alternately): 5 s per other member, so that
   * each member hears of one probe about every 5 s from all the others together.
   */
  intervalMs: number;
  /** How far back `samples`, `p50Ms`, `maxMs` and `missed` look. */
  windowMs: number;
  issue: OpPropagation;
  revoke: OpPropagation;
}

interface Sample {
  at: number;
  member: string;
  /** null: missed. */
  ms: number | null;
}

/**
 * The recent figures of this node's propagation probes (membership/propagation-probe.ts), per operation and member,
 * over a sliding window: what `/v1/stats` and the console's Live view show. Each figure is an upper bound (it
 * includes the member's acknowledgement write and our read of it).
 */
export class PropagationStats {
  private readonly samples: Record<PropagationOp, Sample[]> = { issue: [], revoke: [] };
  /** How often the probe runs now (it tells us when that changes). */
  intervalMs: number;

  constructor(
    private readonly clock: Clock,
    private readonly options: { intervalMs: number; windowMs?: number; maxSamples?: number },
  ) {
    this.intervalMs = options.intervalMs;
  }

  private get windowMs(): number {
    return this.options.windowMs ?? 300_000;
  }

  measured(op: PropagationOp, member: string, ms: number): void {
    this.push(op, { at: this.clock.now(), member, ms });
  }

  missed(op: PropagationOp, member: string): void {
    this.push(op, { at: this.clock.now(), member, ms: null });
  }

  snapshot(): PropagationSnapshot {
    this.prune();
    return { intervalMs: this.intervalMs, windowMs: this.windowMs, issue: this.summary('issue'), revoke: this.summary('revoke') };
  }

  private push(op: PropagationOp, sample: Sample): void {
    const list = this.samples[op];
    list.push(sample);
    if (list.length > (this.options.maxSamples ?? 2_000)) list.shift();
  }

  private prune(): void {
    const since = this.clock.now() - this.windowMs;
    for (const op of PROPAGATION_OPS) {
      const list = this.samples[op];
      let drop = 0;
      while (drop < list.length && list[drop]!.at < since) drop++;
      if (drop > 0) list.splice(0, drop);
    }
  }

  private summary(op: PropagationOp): OpPropagation {
    const members: Record<string, MemberPropagation> = {};
    const figures: number[] = [];
    for (const s of this.samples[op]) {
      const m = (members[s.member] ??= { lastMs: null, at: null, missed: 0 });
      if (s.ms === null) {
        m.missed++;
        continue;
      }
      figures.push(s.ms);
      m.lastMs = s.ms;
      m.at = new Date(s.at).toISOString();
    }
    figures.sort((a, b) => a - b);
    return {
      samples: figures.length,
      // the lower median: a figure that was measured, never an average of two
      p50Ms: figures.length > 0 ? figures[Math.floor((figures.length - 1) / 2)]! : null,
      maxMs: figures.length > 0 ? figures.at(-1)! : null,
      members,
    };
  }
}
