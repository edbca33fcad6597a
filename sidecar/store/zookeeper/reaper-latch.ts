import { randomUUID } from 'node:crypto';
import type { Logger } from '../../util/logger.js';
import { LATCH_PREFIX, type ZkLayout, sequenceOf } from './layout.js';
import { createProtected } from './protected-create.js';
import { CreateMode, type ZkAcl, type ZkClient } from './zk-client.js';

const noop = (): void => undefined;

/**
 * The reaper election, as Curator's LeaderLatch: one ephemeral-sequential `/reaper/latch-<uuid>-<seq>` per
 * session, and the lowest sequence leads. The uuid (Curator's protection mode) finds our node again when the
 * answer to its create was lost with the connection. The reaper polls {@link check} every interval, so no
 * predecessor watch is needed.
 *
 * Caveat: after a new session, the node of the old one would keep the lead until the server expires it;
 * it is deleted as soon as the new session joins.
 */
export class ReaperLatch {
  private latch: { session: string; prefix: string; name: string | null } | null = null;
  private readonly stale: string[] = [];
  private leader: boolean | null = null;

  constructor(
    private readonly layout: ZkLayout,
    private readonly acl: ZkAcl[] | undefined,
    private readonly logger: Logger,
  ) {}

  /** Joins the election if this session has not, and says whether we lead. */
  async check(client: ZkClient, owner: string): Promise<boolean> {
    const session = client.sessionId;
    if (this.latch?.session !== session) {
      if (this.latch?.name) this.stale.push(`${this.layout.reaper}/${this.latch.name}`);
      this.latch = { session, prefix: `${LATCH_PREFIX}${randomUUID()}-`, name: null };
    }
    const latch = this.latch;
    let children = await client.getChildren(this.layout.reaper);
    let ours = children.find((name) => name.startsWith(latch.prefix));
    if (!ours) {
      const path = `${this.layout.reaper}/${latch.prefix}`;
      const created = await createProtected(client, this.acl, path, owner, CreateMode.EPHEMERAL_SEQUENTIAL);
      ours = created.slice(created.lastIndexOf('/') + 1);
      children = [...children, ours];
      this.logger.info(`joined the reaper election as ${ours}`);
    }
    latch.name = ours;
    for (const path of this.stale.splice(0)) {
      const name = path.slice(path.lastIndexOf('/') + 1);
      children = children.filter((child) => child !== name);
      client.delete(path, -1).catch(noop);
    }
    const contenders = children
      .filter((name) => name.startsWith(LATCH_PREFIX) && !Number.isNaN(sequenceOf(name)))
      .sort((a, b) => sequenceOf(a) - sequenceOf(b));
    const leader = contenders[0] === ours;
    if (leader !== this.leader) {
      this.logger.info(leader ? 'this sidecar is the reaper' : `the reaper is ${contenders[0] ?? 'nobody'}`);
      this.leader = leader;
    }
    return leader;
  }

  /** Leaves the election (the successor sees it at once); best effort, for `close()`. */
  release(client: ZkClient): Promise<void> | undefined {
    const latch = this.latch;
    return latch?.name && latch.session === client.sessionId ? client.delete(`${this.layout.reaper}/${latch.name}`, -1) : undefined;
  }
}
