import type { AddressInfo } from 'node:net';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { Mirror } from '../mirror/mirror.js';
import type { TokenCodec } from '../tokens/token-codec.js';
import { type MemberInfo, type TokenStore, hasWatchMode } from '../store/token-store.js';
import { isConnected } from '../store/connection-state.js';
import { KeyAgreementMonitor } from './key-agreement-monitor.js';
import { ProbeSightings, PropagationProbe } from './propagation-probe.js';
import { probeSubject } from '../store/probe-record.js';
import type { PropagationOp } from '../metrics/propagation-stats.js';
import { VERSION } from '../version.js';

const HEARTBEAT_MS = 5_000;
/** How long a logout waits for every member to report the marker applied. */
const MARKER_ACK_TIMEOUT_MS = 3_000;

export interface MembershipDeps {
  nodeId: string;
  store: TokenStore;
  mirror: Mirror;
  codec: TokenCodec;
  clock: Clock;
  logger: Logger;
  /** Writes waiting in this node's journal, for the report. */
  journalPending?: () => number;
  /** Started with `listen: false` (the Express middleware's in-process mode): members list it as `in-process`. */
  inProcess: boolean;
  /** Where this node's propagation probes report their figures; without it this node does not probe (it still acknowledges others' probes). */
  propagation?: {
    measured(op: PropagationOp, member: string, ms: number): void;
    missed(op: PropagationOp, member: string): void;
    interval?(ms: number): void;
    /** Tests probe more often (per other member). @default PROBE_INTERVAL_MS */
    intervalMs?: number;
  };
}

/**
 * This node as a cluster member: its report (heartbeats, at once after a logout marker is applied, since a
 * logout on another node waits for it, and after another member's propagation probe came or went), the wait for
 * the other members' acknowledgements of our logouts, our propagation probes (propagation-probe.ts), and the
 * check that the members agree on the signing keys.
 */
export class Membership {
  /** Where the HTTP API listens, once it does: part of the report. */
  address: AddressInfo | undefined;
  private readonly startedAt: number;
  private readonly keyAgreement: KeyAgreementMonitor;
  private readonly sightings: ProbeSightings;
  private readonly probe: PropagationProbe | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private beat: (() => void) | undefined;
  private closed = false;

  constructor(private readonly d: MembershipDeps) {
    this.startedAt = d.clock.now();
    this.keyAgreement = new KeyAgreementMonitor(() => d.store.listMembers(), d.logger);
    this.sightings = new ProbeSightings(d.clock, probeSubject(d.nodeId));
    if (d.propagation) {
      const { nodeId, store, clock, logger } = d;
      this.probe = new PropagationProbe({ nodeId, store, clock, logger, ...d.propagation });
    }
  }

  report(): MemberInfo {
    const { store, mirror, codec } = this.d;
    const a = this.address;
    return {
      nodeId: this.d.nodeId,
      address: a ? (a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`) : this.d.inProcess ? 'in-process' : '',
      version: VERSION,
      pid: process.pid,
      startedAt: this.startedAt,
      updatedAt: this.d.clock.now(),
      mirrorSize: mirror.size,
      mirrorLagMs: mirror.lagMs,
      ...(this.d.journalPending && { journalPending: this.d.journalPending() }),
      state: store.state,
      storeType: store.type,
      ...(hasWatchMode(store) && store.recordWatchMode && { watch: store.recordWatchMode }),
      markers: mirror.recentMarkers(),
      probes: this.sightings.report(),
      signingKid: codec.kids[0]!,
      acceptedKids: [...codec.kids],
    };
  }

  /** Publishes the report now and every {@link HEARTBEAT_MS}, on reconnecting, and whenever a logout marker is applied. */
  start(): void {
    const { store, logger } = this.d;
    let publishing = false;
    let again = false;
    const beat = () => {
      if (this.closed || !isConnected(store.state)) return;
      // One publish in flight; a burst of markers collapses into one more.
      if (publishing) {
        again = true;
        return;
      }
      publishing = true;
      store
        .publishMember(this.report())
        .then(() => this.keyAgreement.check())
        .catch((err) => logger.debug('heartbeat failed', { error: String(err) }))
        .finally(() => {
          publishing = false;
          if (again) {
            again = false;
            beat();
          }
        });
    };
    this.beat = beat;
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
    store.on('state', (next) => {
      if (isConnected(next)) beat();
    });
    this.d.mirror.on('marker', () => beat());
    // a prober is polling for this: report at once, as for a logout marker (one write per probe of each other member)
    this.d.mirror.on('probe', (ref, present) => {
      if (this.sightings.add(ref, present)) beat();
    });
    this.probe?.start();
  }

  /** Our signing keys changed: the other members compare key ids with ours, so report now and look again. */
  keysChanged(): void {
    this.keyAgreement.reset();
    this.beat?.();
  }

  /** Waits until every other live member reports the subject's logout generation applied (that one or a higher). */
  async awaitMarker(subject: string, gen: number): Promise<{ acknowledged: string[]; pending: string[] }> {
    const deadline = this.d.clock.now() + MARKER_ACK_TIMEOUT_MS;
    let pending: string[] = [];
    const acknowledged = new Set<string>([this.d.nodeId]);
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      let members: MemberInfo[];
      try {
        members = await this.d.store.listMembers();
      } catch {
        break;
      }
      pending = [];
      for (const m of members) {
        if (acknowledged.has(m.nodeId)) continue;
        if ((m.markers?.[subject] ?? -1) >= gen) acknowledged.add(m.nodeId);
        else pending.push(m.nodeId);
      }
      if (pending.length === 0 || this.d.clock.now() >= deadline || this.closed) break;
      await new Promise((r) => setTimeout(r, delay));
    }
    if (pending.length > 0) this.d.logger.warn('logout not yet acknowledged by every member', { pending });
    return { acknowledged: [...acknowledged].sort(), pending };
  }

  /** Stops the heartbeats (the member node goes with the store's session) and the probes (deleting one outstanding). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.probe?.close();
  }
}
