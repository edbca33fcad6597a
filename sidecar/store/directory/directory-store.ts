import { EventEmitter } from 'node:events';
import { existsSync, watch, promises as fs, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../util/logger.js';
import type { Clock } from '../../util/clock.js';
import { systemClock } from '../../util/clock.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import type { ConnectionState } from '../connection-state.js';
import type {
  LayoutProbe,
  LayoutUpgrade,
  BulkCreates,
  BulkReads,
  ListPage,
  ListQuery,
  MemberInfo,
  ShardUpgrade,
  StoreDescription,
  StoreEvents,
  TokenStore,
} from '../token-store.js';
import { LATEST_LAYOUT, type RecordLayout, type RecordRef, type TokenRecord, parseRecordName, shardName } from '../token-record.js';
import type { LogoutMarker } from '../logout-marker.js';
import { UNAVAILABLE_CODES, errno, tempName, writeDurable } from '../fs-util.js';
import { DirectoryLayout } from './directory-layout.js';
import { DirectoryMarkers } from './directory-markers.js';
import { DirectoryRecords } from './directory-records.js';
import { DirectoryMembers } from './directory-members.js';

/** The layout a new store folder gets (see RecordLayout; meta.json records it). */
export const DIRECTORY_LAYOUT_VERSION = LATEST_LAYOUT;

export interface DirectoryStoreOptions {
  root: string;
  /** Shard count used when the folder is first laid out; afterwards meta.json wins. */
  shards: number;
  rescanIntervalMs: number;
  logger: Logger;
  clock?: Clock;
  nodeId: string;
  /**
   * `authentication.token.clock.skew`: a heartbeat's time is the writer's clock, so a member is listed until its
   * last heartbeat looks older than 30 s (three heartbeats missed) plus this. A member whose clock runs behind within the
   * skew stays listed (a logout waits for its acknowledgement); a dead one lingers that much longer, reported as
   * not yet acknowledging (the safe side). @default 30000
   */
  clockSkewMs?: number;
  /** The command a layout-1 store's one warning line names (record-layout.ts `upgradeCommand`). @default 'tokensync store upgrade' */
  upgradeCommand?: string;
}

/**
 * The embedded store: one file per record under `<root>/tokens/<shard>/`,
 * named `<jti>~<base64url subject>~<gen>~<exp>` (layout 2; see RecordLayout),
 * so a shard's listing tells which subject owns which token, and when it
 * expires, without opening a file. The parts: record files
 * ({@link DirectoryRecords}: atomic writes, consuming by rename), logout
 * markers, members and the reaper lease, meta.json and the layout upgrade.
 *
 * Changes made by other processes sharing the folder arrive through
 * inotify on each shard folder, with a periodic rescan as the safety net
 * (inotify misses changes made over NFS and can run out of watches).
 */
export class DirectoryStore extends EventEmitter<StoreEvents> implements TokenStore, BulkReads, BulkCreates, LayoutUpgrade {
  readonly type = 'DIRECTORY' as const;
  private shardCount: number;
  private stateValue: ConnectionState = 'latent';
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly watchers: FSWatcher[] = [];
  private rescanTimer: NodeJS.Timeout | undefined;
  /** Bumped by every local write to a shard: a listing that started before it is stale. */
  private generation: number[] = [];
  private readonly listing = new Map<number, 'running' | 'queued'>();
  private markersScheduled = false;
  private watching = false;
  private closed = false;
  private started = false;
  private readonly records: DirectoryRecords;
  private readonly markers: DirectoryMarkers;
  private readonly members: DirectoryMembers;
  private readonly layoutFile: DirectoryLayout;

  constructor(private readonly options: DirectoryStoreOptions) {
    super();
    this.shardCount = options.shards;
    this.clock = options.clock ?? systemClock;
    this.log = options.logger;
    const ctx = {
      dir: (...parts: string[]) => this.dir(...parts),
      shardDir: (shard: number) => this.shardDir(shard),
      clock: this.clock,
      logger: this.log,
      nodeId: options.nodeId,
      upgradeCommand: options.upgradeCommand,
      ...(options.clockSkewMs !== undefined && { clockSkewMs: options.clockSkewMs }),
      unavailable: (err: unknown, what: string) => this.unavailable(err, what),
      closed: () => this.closed,
    };
    this.records = new DirectoryRecords({
      ...ctx,
      shardCount: () => this.shardCount,
      recordLayout: () => this.layoutFile.recordLayout,
      wrote: (shard) => this.generation[shard]!++,
    });
    this.markers = new DirectoryMarkers(ctx);
    this.members = new DirectoryMembers(ctx);
    this.layoutFile = new DirectoryLayout(ctx);
  }

  get recordLayout(): RecordLayout {
    return this.layoutFile.recordLayout;
  }

  get shards(): number {
    return this.shardCount;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  private get root(): string {
    return this.options.root;
  }

  private dir(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  private shardDir(shard: number): string {
    return this.dir('tokens', shardName(shard, this.shardCount));
  }

  async start(options: { watch?: boolean } = {}): Promise<void> {
    if (this.started) throw new Error('DirectoryStore already started');
    this.started = true;
    try {
      await this.layout();
    } catch (err) {
      throw this.unavailable(err, 'lay out the store');
    }
    this.setState('connected');
    if (!options.watch) return;
    this.watching = true;
    this.watchFolders();
    await this.rebuild();
    this.rescanTimer = setInterval(() => {
      this.rescan().catch((err) => this.fail(err));
    }, this.options.rescanIntervalMs);
    this.rescanTimer.unref();
  }

  async inspectLayout(): Promise<LayoutProbe> {
    const exists = (path: string) =>
      fs.stat(path).then(
        () => true,
        () => false,
      );
    const wouldCreate: string[] = [];
    for (const path of [this.root, ...['tokens', 'subjects', 'members', 'tmp'].map((sub) => this.dir(sub))]) {
      if (!(await exists(path))) wouldCreate.push(path);
    }
    const meta = await this.layoutFile.read();
    if (meta) {
      this.shardCount = meta.shards;
      this.layoutFile.recordLayout = meta.layoutVersion;
    } else wouldCreate.push(`${this.dir('meta.json')} (layout ${DIRECTORY_LAYOUT_VERSION}, ${this.shardCount} shards)`);
    const present = new Set(await fs.readdir(this.dir('tokens')).catch(() => [] as string[]));
    let missingShards = 0;
    for (let s = 0; s < this.shardCount; s++) if (!present.has(shardName(s, this.shardCount))) missingShards++;
    if (missingShards > 0) wouldCreate.push(`${missingShards} shard folders under ${this.dir('tokens')}`);
    return { ...this.describe(), exists: meta !== undefined, wouldCreate, missingShards };
  }

  private async layout(): Promise<void> {
    for (const sub of ['tokens', 'subjects', 'members', 'tmp']) await fs.mkdir(this.dir(sub), { recursive: true });
    this.shardCount = (await this.layoutFile.ensure(this.shardCount)).shards;
    this.generation = new Array(this.shardCount).fill(0);
    for (let s = 0; s < this.shardCount; s++) await fs.mkdir(this.shardDir(s), { recursive: true });
  }

  private watchFolders(): void {
    const add = (dir: string, onChange: (event: string, name: string | null) => void) => {
      try {
        const w = watch(dir, { persistent: false }, onChange);
        w.on('error', (err) => this.fail(err));
        this.watchers.push(w);
      } catch (err) {
        // Out of inotify watches: the periodic rescan still finds every change, only later.
        this.log.warn('cannot watch store folder; relying on the periodic rescan', { dir, error: String(err) });
      }
    };
    for (let s = 0; s < this.shardCount; s++) add(this.shardDir(s), (_event, name) => this.shardChanged(s, name));
    add(this.dir('subjects'), () => this.scheduleMarkers());
  }

  /** The same pass for the first load and every rescan: every shard and the markers, then `rebuilt`. */
  private async rebuild(): Promise<void> {
    const pending: Promise<void>[] = [];
    for (let s = 0; s < this.shardCount; s++) pending.push(this.emitShard(s));
    pending.push(this.emitMarkers());
    await Promise.all(pending);
    this.emit('rebuilt');
  }

  private async rescan(): Promise<void> {
    if (this.closed) return;
    if (this.stateValue === 'suspended' || this.stateValue === 'lost') {
      try {
        await this.probe();
        this.setState('reconnected');
      } catch {
        return;
      }
    }
    await this.rebuild();
    await this.markers.prune();
  }

  /** Can the folder take a write again? */
  private async probe(): Promise<void> {
    const tmp = tempName(this.dir('tmp'), 'probe');
    await writeDurable(tmp, 'probe');
    await fs.rm(tmp, { force: true });
  }

  /**
   * A change in a shard folder. The named record is reported at once, present or not as its file is now (names
   * are never reused, so the file's state now is the truth), before the shard's listing, which takes a thread-pool
   * round trip: a revocation made by another process is refused here within moments, mostly before the next request
   * (the kernel queues the event at once, but the loop may read a request that became ready together with it first).
   */
  private shardChanged(shard: number, name: string | null): void {
    const ref = name !== null && !this.closed ? parseRecordName(name) : undefined;
    if (ref) {
      this.generation[shard]!++; // a listing already under way may predate this: it reads again
      const present = existsSync(join(this.shardDir(shard), name!));
      // A layout-1 name gone may be `store upgrade` renaming it, whose new name's event comes second: the listing
      // below tells a rename from a revocation, an event alone cannot.
      if (present || ref.expiresAt !== undefined) this.emit('record', shard, name!, present);
    }
    this.scheduleShard(shard);
  }

  private scheduleShard(shard: number): void {
    if (this.closed) return;
    const status = this.listing.get(shard);
    if (status === 'queued') return;
    if (status === 'running') {
      this.listing.set(shard, 'queued');
      return;
    }
    this.listing.set(shard, 'running');
    const run = async (): Promise<void> => {
      try {
        await this.emitShard(shard);
      } catch (err) {
        this.fail(err);
      }
      if (this.listing.get(shard) === 'queued' && !this.closed) {
        this.listing.set(shard, 'running');
        return run();
      }
      this.listing.delete(shard);
    };
    void run();
  }

  private async emitShard(shard: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const generation = this.generation[shard];
      const names = await this.listShard(shard);
      // A local write finished while we listed: this listing may predate it. Read again.
      if (generation !== this.generation[shard] && attempt < 5) continue;
      if (!this.closed) this.emit('shard', shard, names);
      return;
    }
  }

  private scheduleMarkers(): void {
    if (this.markersScheduled || this.closed) return;
    this.markersScheduled = true;
    setImmediate(() => {
      this.markersScheduled = false;
      this.emitMarkers().catch((err) => this.fail(err));
    });
  }

  private async emitMarkers(): Promise<void> {
    const markers = await this.markers.list();
    if (!this.closed) this.emit('markers', markers);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    for (const w of this.watchers.splice(0)) w.close();
    if (this.started) {
      await this.members.release();
    }
    this.setState('closed');
    this.removeAllListeners();
  }

  describe(): StoreDescription {
    return { type: 'DIRECTORY', location: this.root, shards: this.shardCount, layoutVersion: this.layoutFile.recordLayout };
  }

  create(record: TokenRecord): Promise<boolean> {
    return this.records.create(record);
  }

  /** For `store migrate`: see {@link DirectoryRecords.createMany}. */
  createMany(records: readonly TokenRecord[]): Promise<Array<boolean | Error>> {
    return this.records.createMany(records);
  }

  delete(ref: RecordRef): Promise<boolean> {
    return this.records.delete(ref);
  }

  consume(ref: RecordRef): Promise<boolean> {
    return this.records.consume(ref);
  }

  exists(ref: RecordRef): Promise<boolean> {
    return this.records.exists(ref);
  }

  read(ref: RecordRef): Promise<TokenRecord | undefined> {
    return this.records.read(ref);
  }

  /** For `store migrate`: see {@link DirectoryRecords.readMany}. */
  readMany(refs: readonly RecordRef[]): Promise<Array<TokenRecord | undefined>> {
    return this.records.readMany(refs);
  }

  listShard(shard: number, options: { fresh?: boolean } = {}): Promise<string[]> {
    return this.records.listShard(shard, options);
  }

  list(query: ListQuery): Promise<ListPage> {
    return this.records.list(query);
  }

  raiseMarker(subject: string, floor = 0): Promise<number> {
    return this.markers.raise(subject, floor);
  }

  copyMarker(subject: string, gen: number): Promise<number> {
    return this.markers.copy(subject, gen);
  }

  listMarkers(): Promise<Map<string, LogoutMarker>> {
    return this.markers.list();
  }

  /** While meta.json says layout 1, reads it again first: a heartbeat is when a running sidecar follows `store upgrade`. */
  async publishMember(info: MemberInfo): Promise<void> {
    if (this.layoutFile.recordLayout === 1)
      await this.layoutFile.refresh().catch((err: unknown) => this.log.debug('reading meta.json', { error: String(err) }));
    await this.members.publish({ ...info, layout: this.layoutFile.recordLayout });
  }

  listMembers(): Promise<MemberInfo[]> {
    return this.members.list();
  }

  isReaper(): Promise<boolean> {
    return this.members.isReaper();
  }

  raiseLayout(): Promise<void> {
    return this.layoutFile.raise();
  }

  async upgradeShard(shard: number): Promise<ShardUpgrade> {
    try {
      const result = await this.layoutFile.upgradeShard(shard);
      if (result.renamed > 0) this.generation[shard]!++;
      return result;
    } catch (err) {
      throw this.unavailable(err, 'rename token records');
    }
  }

  private setState(next: ConnectionState): void {
    const previous = this.stateValue;
    if (previous === next) return;
    this.stateValue = next;
    if (next !== 'latent' && next !== 'closed') this.log.info(`store state ${previous} -> ${next}`, { store: 'DIRECTORY' });
    this.emit('state', next, previous);
  }

  /** An I/O error that means the folder cannot be used now: report the store suspended and let the caller journal. */
  private unavailable(err: unknown, what: string): Error {
    const code = errno(err);
    if (code && UNAVAILABLE_CODES.has(code)) {
      if (this.stateValue === 'connected' || this.stateValue === 'reconnected') this.setState('suspended');
      return new StoreUnavailableError(`cannot ${what} in ${this.root} (${code}); check cluster.store.directory.path`, { cause: err });
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.log.error('directory store error', { error: error.message });
  }
}
