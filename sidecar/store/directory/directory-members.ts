import { promises as fs } from 'node:fs';
import type { Clock } from '../../util/clock.js';
import type { MemberInfo } from '../token-store.js';
import { errno, replaceFile } from '../fs-util.js';

/** Members not heard from for this many heartbeats are no longer listed. */
const MEMBER_STALE_MS = 30_000;
const REAPER_LEASE_MS = 60_000;

/** What membership needs of the store it belongs to. */
export interface DirectoryMembersContext {
  dir(...parts: string[]): string;
  clock: Clock;
  nodeId: string;
  /** See DirectoryStoreOptions.clockSkewMs. */
  clockSkewMs?: number;
  unavailable(err: unknown, what: string): Error;
}

/** Heartbeat files under `<root>/members/` and the reaper's lease file of the DIRECTORY store. */
export class DirectoryMembers {
  /** Only the instance that published the member file removes it (a CLI run shares the node id). */
  published = false;

  constructor(private readonly ctx: DirectoryMembersContext) {}

  async publish(info: MemberInfo): Promise<void> {
    try {
      await replaceFile(this.ctx.dir('members', `${info.nodeId}.json`), this.ctx.dir('tmp'), JSON.stringify(info));
      this.published = true;
    } catch (err) {
      throw this.ctx.unavailable(err, 'publish this member');
    }
  }

  async list(): Promise<MemberInfo[]> {
    const now = this.ctx.clock.now();
    const names = await fs.readdir(this.ctx.dir('members')).catch(() => [] as string[]);
    const members = await Promise.all(
      names
        .filter((n) => n.endsWith('.json'))
        .map(async (n) => {
          try {
            return JSON.parse(await fs.readFile(this.ctx.dir('members', n), 'utf8')) as MemberInfo;
          } catch {
            return undefined;
          }
        }),
    );
    const stale = MEMBER_STALE_MS + (this.ctx.clockSkewMs ?? 30_000);
    return members.filter((m): m is MemberInfo => m !== undefined && now - m.updatedAt < stale);
  }

  /** A lease file: whoever holds an unexpired lease reaps; everyone else waits. Reaping twice is harmless anyway. */
  async isReaper(): Promise<boolean> {
    const path = this.ctx.dir('reaper.lock');
    const now = this.ctx.clock.now();
    const mine = JSON.stringify({ nodeId: this.ctx.nodeId, pid: process.pid, until: now + REAPER_LEASE_MS });
    try {
      const held = JSON.parse(await fs.readFile(path, 'utf8')) as { nodeId: string; pid: number; until: number };
      const ours = held.nodeId === this.ctx.nodeId && held.pid === process.pid;
      if (!ours && held.until > now) return false;
    } catch (err) {
      if (errno(err) !== 'ENOENT' && !(err instanceof SyntaxError)) return false;
    }
    await replaceFile(path, this.ctx.dir('tmp'), mine);
    const check = JSON.parse(await fs.readFile(path, 'utf8')) as { nodeId: string; pid: number };
    return check.nodeId === this.ctx.nodeId && check.pid === process.pid;
  }

  async releaseReaper(): Promise<void> {
    const path = this.ctx.dir('reaper.lock');
    const held = JSON.parse(await fs.readFile(path, 'utf8')) as { nodeId: string; pid: number };
    if (held.nodeId === this.ctx.nodeId && held.pid === process.pid) await fs.rm(path, { force: true });
  }

  /** Best-effort on close: this member's file and the reaper lease when held. */
  async release(): Promise<void> {
    if (this.published) await fs.rm(this.ctx.dir('members', `${this.ctx.nodeId}.json`), { force: true }).catch(() => {});
    await this.releaseReaper().catch(() => {});
  }
}
