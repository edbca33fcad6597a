import type { Logger } from '../../util/logger.js';
import type { MemberInfo } from '../token-store.js';
import type { ZkLayout } from './layout.js';
import { createProtected } from './protected-create.js';
import { CreateMode, type ZkAcl, type ZkClient } from './zk-client.js';
import { ZkCode, isZkError } from './zk-error.js';
import { ZooKeeperStoreError } from './zookeeper-store-error.js';

/**
 * This sidecar's ephemeral `/members/<node.id>`: created once per session, then updated with `set`, and
 * re-created from the last published info after a session loss.
 *
 * Caveat: a node left by a session of ours that the server has not expired yet (a restart, a new session
 * after `lost`) is taken over, since node ids are unique; two sidecars configured with the same node.id
 * would share one node.
 */
export class MemberNode {
  private info: MemberInfo | null = null;
  private path: string | null = null;
  /** Session that owns the node, as far as we know. */
  private session: string | null = null;

  constructor(
    private readonly layout: ZkLayout,
    private readonly acl: ZkAcl[] | undefined,
    private readonly logger: Logger,
  ) {}

  get nodeId(): string | undefined {
    return this.info?.nodeId;
  }

  /** Remembers `info` (even when the write fails: a new session re-creates from it) and writes it. */
  async publish(client: ZkClient, info: MemberInfo): Promise<void> {
    this.info = info;
    await this.write(client, info);
  }

  /** After a new session: the old node goes with the old session; re-create it from the last info. */
  async restore(client: ZkClient): Promise<void> {
    this.session = null;
    if (this.info) await this.write(client, this.info);
  }

  /** Deletes the node if this session owns it; best effort, for `close()`. */
  release(client: ZkClient): Promise<void> | undefined {
    return this.path && this.session === client.sessionId ? client.delete(this.path, -1) : undefined;
  }

  private async write(client: ZkClient, info: MemberInfo): Promise<void> {
    const path = this.layout.memberPath(info.nodeId);
    const data = JSON.stringify(info);
    const session = client.sessionId;
    if (this.session === session && this.path === path) {
      try {
        await client.set(path, data, -1);
        return;
      } catch (error) {
        if (!isZkError(error, ZkCode.NONODE)) throw error;
      }
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await createProtected(client, this.acl, path, data, CreateMode.EPHEMERAL);
        this.owned(path, session);
        return;
      } catch (error) {
        if (!isZkError(error, ZkCode.NODEEXISTS)) throw error;
      }
      const stat = await client.exists(path);
      if (!stat) continue;
      if (stat.ephemeralOwner === session) {
        await client.set(path, data, -1);
        this.owned(path, session);
        return;
      }
      this.logger.warn(`${path} belongs to session 0x${stat.ephemeralOwner}; taking it over (node.id must be unique)`);
      try {
        await client.delete(path, stat.version);
      } catch (error) {
        if (!isZkError(error, ZkCode.NONODE) && !isZkError(error, ZkCode.BADVERSION)) throw error;
      }
    }
    throw new ZooKeeperStoreError(`${path} keeps being re-created by another session; is node.id unique?`);
  }

  private owned(path: string, session: string): void {
    this.path = path;
    this.session = session;
  }
}
