import type { Logger } from '../util/logger.js';
import type { MemberInfo } from '../store/token-store.js';
import { keyDisagreements } from './key-agreement.js';

/** Fewest milliseconds between two looks at the members (heartbeats come faster during a burst of logouts). */
const MIN_INTERVAL_MS = 4_000;

/**
 * Looks at the members' key ids after a heartbeat and logs an error for each member whose keys differ from the
 * cluster's (once per difference, not per heartbeat), and an info line when it is resolved.
 */
export class KeyAgreementMonitor {
  private reported = new Map<string, string>();
  private lastCheck = -Infinity;

  constructor(
    private readonly listMembers: () => Promise<MemberInfo[]>,
    private readonly logger: Logger,
  ) {}

  async check(): Promise<void> {
    const now = performance.now();
    if (now - this.lastCheck < MIN_INTERVAL_MS) return;
    this.lastCheck = now;
    const found = keyDisagreements(await this.listMembers());
    const current = new Map(found.map((d) => [d.nodeId, d.problem]));
    for (const d of found) {
      if (this.reported.get(d.nodeId) === d.problem) continue;
      this.logger.error('a cluster member signs or accepts other keys than the rest: tokens are refused between them', {
        member: d.nodeId,
        problem: d.problem,
      });
    }
    for (const nodeId of this.reported.keys()) {
      if (!current.has(nodeId)) this.logger.info('cluster members agree on the signing keys again', { member: nodeId });
    }
    this.reported = current;
  }

  /** Look again at the next heartbeat (our own keys changed). */
  reset(): void {
    this.lastCheck = -Infinity;
  }
}
