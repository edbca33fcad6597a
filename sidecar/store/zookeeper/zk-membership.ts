import { hostname } from 'node:os';
import type { Logger } from '../../util/logger.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import type { MemberInfo } from '../token-store.js';
import { forEachBounded } from '../../util/for-each-bounded.js';
import type { ZkLayout } from './layout.js';
import { MemberNode } from './member-node.js';
import { ReaperLatch } from './reaper-latch.js';
import type { ZkAcl, ZkClient } from './zk-client.js';
import { ZkCode, ZkError, isZkError } from './zk-error.js';
import type { ZkSession } from './zk-session.js';

export interface ZkMembershipOptions {
  session: ZkSession;
  layout: ZkLayout;
  acl: ZkAcl[] | undefined;
  readConcurrency: number;
  logger: Logger;
  /** Where an error nobody awaits goes (the store's `error` event). */
  report: (error: unknown, context: string) => void;
}

/** `/members` (this sidecar's ephemeral node, everyone's listing) and the reaper election under `/reaper`. */
export class ZkMembership {
  private readonly member: MemberNode;
  private readonly latch: ReaperLatch;
  private reaperCheck: Promise<boolean> | null = null;

  constructor(private readonly options: ZkMembershipOptions) {
    this.member = new MemberNode(options.layout, options.acl, options.logger);
    this.latch = new ReaperLatch(options.layout, options.acl, options.logger);
  }

  async publish(info: MemberInfo): Promise<void> {
    await this.options.session.run((client) => this.member.publish(client, info));
  }

  async list(): Promise<MemberInfo[]> {
    const { layout, readConcurrency, logger } = this.options;
    return this.options.session.run(async (client) => {
      const names = await client.getChildren(layout.members);
      const members: MemberInfo[] = [];
      await forEachBounded(names, readConcurrency, async (name) => {
        try {
          const { data } = await client.get(`${layout.members}/${name}`);
          members.push(JSON.parse(data.toString()) as MemberInfo);
        } catch (error) {
          if (isZkError(error, ZkCode.NONODE)) return; // its session just ended
          if (error instanceof ZkError) throw error;
          logger.warn(`ignoring ${layout.members}/${name}: not a member record`);
        }
      });
      return members.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    });
  }

  /** See {@link ReaperLatch}; concurrent calls share one check. */
  isReaper(): Promise<boolean> {
    this.reaperCheck ??= this.options.session
      .run((client) => this.latch.check(client, JSON.stringify({ nodeId: this.member.nodeId ?? hostname(), pid: process.pid })))
      .finally(() => {
        this.reaperCheck = null;
      });
    return this.reaperCheck;
  }

  /** The session is being replaced: a check in flight belongs to the old one. */
  forgetSession(): void {
    this.reaperCheck = null;
  }

  /** On a new session: re-creates the member node; the latch is re-joined by the next isReaper(). */
  restore(client: ZkClient): void {
    this.member.restore(client).catch((error: unknown) => {
      const mapped = this.options.session.mapError(error);
      if (mapped instanceof StoreUnavailableError) this.options.logger.debug(`re-creating the member node: ${mapped.message}`);
      else this.options.report(mapped, 're-creating the member node');
    });
  }

  /** Best-effort deletes on close, so that a successor sees this member gone at once. */
  release(client: ZkClient): Array<Promise<void> | undefined> {
    return [this.member.release(client), this.latch.release(client)];
  }
}
