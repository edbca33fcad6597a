import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { MemberInfo, TokenStore } from '../store/token-store.js';
import { type RecordRef, refOf } from '../store/token-record.js';
import { isConnected } from '../store/connection-state.js';
import { newProbeRecord } from '../store/probe-record.js';
import type { PropagationOp } from '../metrics/propagation-stats.js';

/**
 * One probe write (a create or, the next time, its delete) this often per other member, while there are any: each
 * member then hears about one probe per interval from all the others together, and so writes its report about once
 * more per interval, however large the cluster.
 */
export const PROBE_INTERVAL_MS = 5_000;
/** How long a probe waits for the members' acknowledgements before counting the rest as missed. */
const ACK_TIMEOUT_MS = 4_000;
/** Polls of the member reports while waiting: from this, doubling up to {@link MAX_POLL_MS}. */
const FIRST_POLL_MS = 5;
const MAX_POLL_MS = 100;

export interface PropagationProbeDeps {
  nodeId: string;
  store: TokenStore;
  clock: Clock;
  logger: Logger;
  /** A member acknowledged: `ms` from our write's answer to its mirror having it, an upper bound (see {@link PropagationProbe}). */
  measured(op: PropagationOp, member: string, ms: number): void;
  /** A member did not acknowledge within the wait. */
  missed(op: PropagationOp, member: string): void;
  /** The interval changed (it grows with the number of other members). */
  interval?(ms: number): void;
  /** Waiting between polls (tests move a fake clock here). @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  /** Per other member. @default PROBE_INTERVAL_MS */
  intervalMs?: number;
  /** @default ACK_TIMEOUT_MS */
  ackTimeoutMs?: number;
}

/**
 * Times how long an issue and a revoke take to reach every other member, end to end and on this node's clock
 * alone (no two nodes' clocks are ever compared). Every {@link PROBE_INTERVAL_MS} per other member, while there
 * are any, it writes through the store exactly as an issue does (one create of a probe record,
 * store/probe-record.ts) or, the next time, as a revoke does (its delete). Each member's mirror reports the
 * probe's arrival or departure, and the member lists it in its report (published at once, as for a logout
 * marker) with how long ago, on its own clock, it saw it. The figure for a member is the time from our write's
 * answer to our read of its report, less that age: an upper bound on the true lag, since it still includes
 * the member's report write and our read (the acknowledgement's return trip).
 *
 * Cost: per probe one record write here and one member report write on each other member, and a few member
 * listings while the acknowledgements come in (polled from {@link FIRST_POLL_MS} ms, doubling to {@link MAX_POLL_MS}).
 */
export class PropagationProbe {
  /** The probe record created and not yet deleted: the next tick deletes it. */
  private outstanding: RecordRef | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  /** Other members at the last probe: the next one comes this many intervals later. */
  private others = 1;

  constructor(private readonly d: PropagationProbeDeps) {}

  /** How long from one probe to the next now: the interval times the number of other members (at least one). */
  get intervalMs(): number {
    return (this.d.intervalMs ?? PROBE_INTERVAL_MS) * Math.max(1, this.others);
  }

  start(): void {
    if (this.timer) throw new Error('PropagationProbe already started');
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((err: unknown) => {
          this.d.logger.debug('propagation probe failed', { error: String(err) });
        })
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One probe: a create when none is outstanding, else its delete; then the wait for the acknowledgements. */
  async tick(): Promise<void> {
    const { store, clock, nodeId } = this.d;
    if (this.closed || !isConnected(store.state)) return;
    // members that report probes at all (an older tokensync lists none: it is left out, not counted as missed)
    const others = (await store.listMembers()).filter((m) => m.nodeId !== nodeId && m.probes !== undefined).map((m) => m.nodeId);
    if (Math.max(1, others.length) !== Math.max(1, this.others)) {
      this.others = others.length;
      this.d.interval?.(this.intervalMs);
    }
    let op: PropagationOp;
    let key: string;
    if (this.outstanding === undefined) {
      if (others.length === 0) return;
      const record = newProbeRecord(nodeId, clock.now());
      const ref = refOf(record, store.recordLayout);
      // set before the write: a create whose answer is lost may still have been made, and is deleted next time
      this.outstanding = ref;
      if (!(await store.create(record))) return;
      op = 'issue';
      key = `${ref.jti}+`;
    } else {
      const ref = this.outstanding;
      const deleted = await store.delete(ref);
      this.outstanding = undefined;
      if (!deleted) return; // gone already (reaped, or never created): the members saw some other write
      op = 'revoke';
      key = `${ref.jti}-`;
    }
    await this.collect(op, key, clock.now(), others);
  }

  /** Reads the member reports until each of `members` lists `key`, has left, or the wait is over. */
  private async collect(op: PropagationOp, key: string, wroteAt: number, members: string[]): Promise<void> {
    const { store, clock } = this.d;
    const sleep = this.d.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const pending = new Set(members);
    const deadline = wroteAt + (this.d.ackTimeoutMs ?? ACK_TIMEOUT_MS);
    for (let delay = FIRST_POLL_MS; pending.size > 0 && !this.closed; delay = Math.min(delay * 2, MAX_POLL_MS)) {
      await sleep(delay);
      let reports: MemberInfo[];
      try {
        reports = await store.listMembers();
      } catch {
        return; // the store went away: no figure, and no member to blame
      }
      // taken after the answer: the member's report was written before this moment
      const readAt = clock.now();
      const live = new Set<string>();
      for (const m of reports) {
        live.add(m.nodeId);
        const age = m.probes?.[key];
        if (!pending.has(m.nodeId) || age === undefined) continue;
        pending.delete(m.nodeId);
        this.d.measured(op, m.nodeId, Math.max(0, readAt - wroteAt - age));
      }
      for (const id of pending) if (!live.has(id)) pending.delete(id); // left the cluster meanwhile
      if (readAt >= deadline) break;
    }
    if (!this.closed) for (const id of pending) this.d.missed(op, id);
  }

  /** Stops probing and deletes an outstanding probe record, best effort (its expiry gets it reaped otherwise). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    const ref = this.outstanding;
    this.outstanding = undefined;
    if (ref && isConnected(this.d.store.state)) await this.d.store.delete(ref).catch(() => undefined);
  }
}

/** How long, and how many, sightings of other members' probes a report lists: enough for every prober's wait. */
const SIGHTING_TTL_MS = 30_000;
const MAX_SIGHTINGS = 128;

/**
 * The member side of the probes: the other members' probe records this node's mirror saw arrive or go, and when
 * (this node's clock), reported in {@link MemberInfo.probes} as ages so that a prober can take them off its own
 * figure without comparing clocks.
 */
export class ProbeSightings {
  /** `<jti>+` or `<jti>-` -> when our mirror saw it, in the order seen. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    /** Our own probes' subject: those are not reported (the prober does not wait for itself). */
    private readonly ownSubject: string,
  ) {}

  /** `true` when the sighting is news to report. */
  add(ref: RecordRef, present: boolean): boolean {
    if (ref.subject === this.ownSubject) return false;
    const key = `${ref.jti}${present ? '+' : '-'}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, this.clock.now());
    if (this.seen.size > MAX_SIGHTINGS) this.seen.delete(this.seen.keys().next().value!);
    return true;
  }

  /** Ages in ms, now; always an object, so that a prober can tell us from a member too old to report probes. */
  report(): Record<string, number> {
    const now = this.clock.now();
    const out: Record<string, number> = {};
    for (const [key, at] of this.seen) {
      if (now - at > SIGHTING_TTL_MS) this.seen.delete(key);
      else out[key] = Math.max(0, now - at);
    }
    return out;
  }
}
