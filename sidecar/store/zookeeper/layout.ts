import { createHash } from 'node:crypto';
import type { RecordLayout, RecordRef, TokenRecord } from '../token-record.js';
import { LATEST_LAYOUT, decodeSubject, encodeSubject, recordName, refOf, shardName, shardOf } from '../token-record.js';
import { parseLayoutVersion } from '../record-layout.js';

/** The layout a new tree gets; `/meta` records it (1 or 2 are read and written, see RecordLayout). */
export const LAYOUT_VERSION: RecordLayout = LATEST_LAYOUT;

/** What `/meta` holds. */
export interface LayoutMeta {
  layoutVersion: RecordLayout;
  shards: number;
}

/** Upper bound on shards: a child list of `/tokens` stays far below the 1 MB packet limit. */
export const MAX_SHARDS = 65_536;

/** Prefix of the reaper election's ephemeral-sequential nodes under `/reaper`. */
export const LATCH_PREFIX = 'latch-';

/** What a watched path is, for the client-wide watcher. */
export type WatchedPath =
  | { kind: 'shard'; shard: number }
  /** A record node (reported by the persistent recursive watch on the tokens folder). */
  | { kind: 'record'; shard: number; name: string }
  | { kind: 'subjects' }
  | { kind: 'marker'; encoded: string; subject: string };

export function isValidShardCount(shards: unknown): shards is number {
  return typeof shards === 'number' && Number.isInteger(shards) && shards >= 1 && shards <= MAX_SHARDS && (shards & (shards - 1)) === 0;
}

/** `''` or `/a[/b...]`: absolute, no trailing slash, no empty, `.` or `..` segment. */
export function isValidChroot(chroot: string): boolean {
  if (chroot === '') return true;
  if (!chroot.startsWith('/') || chroot.endsWith('/')) return false;
  return chroot
    .slice(1)
    .split('/')
    .every((s) => s !== '' && s !== '.' && s !== '..' && !/[\u0000-\u001f\u007f]/.test(s));
}

/** ZooKeeper's digest identity for `user:password`: `user:base64(sha1("user:password"))`. */
export function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

/** Parses and checks `/meta`; throws with a message naming the node. */
export function parseMeta(data: Buffer, path: string): LayoutMeta {
  let meta: Partial<LayoutMeta>;
  try {
    meta = JSON.parse(data.toString()) as Partial<LayoutMeta>;
  } catch {
    throw new Error(`${path} does not hold JSON; it was not written by tokensync`);
  }
  const layoutVersion = parseLayoutVersion(meta.layoutVersion, path);
  if (!isValidShardCount(meta.shards)) {
    throw new Error(`${path} says shards ${String(meta.shards)}; expected a power of two up to ${MAX_SHARDS}`);
  }
  return { layoutVersion, shards: meta.shards };
}

/**
 * Every path of the store's tree, under the chroot (this store prefixes paths itself rather than putting
 * the chroot in the connect string, so one session can create the chroot and work under it).
 *
 * ```
 * <chroot>/meta                         {layoutVersion, shards}
 * <chroot>/tokens/<shard>/<name>        one record (JSON), named <jti>~<b64>~<gen>~<exp> (layout 2)
 *                                       or <jti>~<b64>[~<gen>] (layout 1, see RecordLayout)
 * <chroot>/subjects/<b64 subject>       {gen, at}: logout generation
 * <chroot>/members/<node.id>            ephemeral
 * <chroot>/reaper/latch-<uuid>-<seq>    ephemeral sequential, the reaper election
 * <chroot>/replays/<receipt>            a journal replay's receipt (see ReplayReceipts in token-store.ts):
 *                                       "applied" when made by a replay's transaction, "fence" by a settle
 * ```
 */
export class ZkLayout {
  readonly root: string;
  readonly meta: string;
  readonly tokens: string;
  readonly subjects: string;
  readonly members: string;
  readonly reaper: string;
  readonly replays: string;
  private shardCount: number;
  private shardWidth: number;
  /** How new records are named: `/meta`'s layoutVersion, read at start and again until it is 2. */
  recordLayout: RecordLayout = LAYOUT_VERSION;

  constructor(chroot: string, shards: number) {
    this.root = chroot;
    this.meta = `${chroot}/meta`;
    this.tokens = `${chroot}/tokens`;
    this.subjects = `${chroot}/subjects`;
    this.members = `${chroot}/members`;
    this.reaper = `${chroot}/reaper`;
    this.replays = `${chroot}/replays`;
    this.shardCount = shards;
    this.shardWidth = shardName(0, shards).length;
  }

  get shards(): number {
    return this.shardCount;
  }

  /** `/meta` wins over the option once the tree exists. */
  setShards(shards: number): void {
    this.shardCount = shards;
    this.shardWidth = shardName(0, shards).length;
  }

  /** The chroot and its ancestors, outermost first (empty without a chroot). */
  chrootPaths(): string[] {
    if (!this.root) return [];
    const parts = this.root.slice(1).split('/');
    return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
  }

  /** The persistent parents under the chroot. */
  parents(): string[] {
    return [this.tokens, this.subjects, this.members, this.reaper, this.replays];
  }

  shardName(shard: number): string {
    return shardName(shard, this.shardCount);
  }

  shardPath(shard: number): string {
    return `${this.tokens}/${shardName(shard, this.shardCount)}`;
  }

  shardOf(jti: string): number {
    return shardOf(jti, this.shardCount);
  }

  /** The path of the record a ref names (the name it implies: layout 2 when its expiry is known). */
  recordPath(ref: RecordRef): string {
    return this.pathIn(ref.jti, recordName(ref));
  }

  /** Where a new record goes: named by {@link recordLayout}. */
  createPath(record: TokenRecord): string {
    return this.pathIn(record.jti, recordName(refOf(record, this.recordLayout), this.recordLayout));
  }

  /** A record name in the shard of its jti. */
  pathIn(jti: string, name: string): string {
    return `${this.shardPath(this.shardOf(jti))}/${name}`;
  }

  /** A replay receipt: a random base64url name chosen by the replay (anything else is refused). */
  receiptPath(receipt: string): string {
    if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]{15,79}$/.test(receipt)) throw new TypeError(`'${receipt}' is not a replay receipt name`);
    return `${this.replays}/${receipt}`;
  }

  markerPath(subject: string): string {
    return `${this.subjects}/${encodeSubject(subject)}`;
  }

  /** node.id as a znode name: percent-encoded, so a `/` in it cannot reach another path. */
  memberPath(nodeId: string): string {
    const name = encodeURIComponent(nodeId);
    return `${this.members}/${name === '.' || name === '..' ? `%2E${name.slice(1)}` : name}`;
  }

  /** Classifies a path reported by the watcher; undefined for paths this store does not watch. */
  classify(path: string): WatchedPath | undefined {
    if (path === this.subjects) return { kind: 'subjects' };
    if (path.startsWith(this.subjects + '/')) {
      const encoded = path.slice(this.subjects.length + 1);
      const subject = decodeSubject(encoded);
      return subject === undefined ? undefined : { kind: 'marker', encoded, subject };
    }
    if (path.startsWith(this.tokens + '/')) {
      const rest = path.slice(this.tokens.length + 1);
      const slash = rest.indexOf('/');
      const name = slash < 0 ? rest : rest.slice(0, slash);
      if (name.length !== this.shardWidth || !/^[0-9a-f]+$/.test(name)) return undefined;
      const shard = parseInt(name, 16);
      if (shard >= this.shardCount) return undefined;
      if (slash < 0) return { kind: 'shard', shard };
      const record = rest.slice(slash + 1);
      return record.length > 0 && !record.includes('/') ? { kind: 'record', shard, name: record } : undefined;
    }
    return undefined;
  }
}

/** Sequence number of an ephemeral-sequential node (its last ten digits); NaN when absent. */
export function sequenceOf(name: string): number {
  const m = /(\d{10})$/.exec(name);
  return m ? Number(m[1]) : NaN;
}
