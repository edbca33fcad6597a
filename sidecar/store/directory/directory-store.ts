import { EventEmitter } from 'node:events';
import fsCallback, { existsSync, readFileSync, watch, promises as fs, type FSWatcher } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { join } from 'node:path';
import type { Logger } from '../../util/logger.js';
import type { Clock } from '../../util/clock.js';
import { systemClock } from '../../util/clock.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import { BadRequestError } from '../../errors/bad-request-error.js';
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
import { checkListLimit, formatListCursor, parseListCursor } from '../list-cursor.js';
import type { RecordLayout, RecordRef, TokenRecord } from '../token-record.js';
import {
  LATEST_LAYOUT,
  isValidJti,
  isValidRef,
  isValidSubject,
  kindOfJti,
  parseRecord,
  parseRecordName,
  recordName,
  refOf,
  shardName,
  shardOf,
} from '../token-record.js';
import type { LogoutMarker } from '../logout-marker.js';
import { UNAVAILABLE_CODES, call, errno, syncDir, tempName, writeDurable, writeDurableCallback } from '../fs-util.js';
import { directName, listedName } from '../record-layout.js';
import { DirectoryLayout } from './directory-layout.js';
import { DirectoryMarkers } from './directory-markers.js';
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
}

/** Files {@link DirectoryStore.readMany} reads before it lets the event loop run. */
const READ_SLICE = 256;

/**
 * The embedded store: one file per record under `<root>/tokens/<shard>/`,
 * named `<jti>~<base64url subject>`, so a shard's listing tells which subject
 * owns which token without opening a file.
 *
 * Writes are atomic: a record is written to a temp file, fsynced, then
 * hard-linked into place (link fails if the name exists, so creating is
 * create-if-absent), and a one-time token is consumed by renaming it away:
 * of several racing processes exactly one rename finds the file.
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
      ...(options.clockSkewMs !== undefined && { clockSkewMs: options.clockSkewMs }),
      unavailable: (err: unknown, what: string) => this.unavailable(err, what),
      closed: () => this.closed,
    };
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

  /** A record name in the folder of its jti's shard. */
  private pathIn(jti: string, name: string): string {
    return join(this.shardDir(shardOf(jti, this.shardCount)), name);
  }

  /** The path of the record a ref names (the name it implies), for refs taken from a listing. */
  private recordPath(ref: RecordRef): string {
    return this.pathIn(ref.jti, recordName(ref));
  }

  /** Where a new record goes: named by the store's layout. */
  private createPath(record: TokenRecord): string {
    const layout = this.layoutFile.recordLayout;
    return this.pathIn(record.jti, recordName(refOf(record, layout), layout));
  }

  /**
   * Applies `op` to the record a ref names: by its own name when it speaks the store's layout, else, or when
   * that is gone, by the name its shard lists for the jti (`store upgrade` may have renamed it meanwhile; a
   * rename is atomic, so one of the names is there). `op` answers ENOENT by throwing; resolves `undefined` then.
   */
  private async onRecord<T>(ref: RecordRef, op: (path: string) => Promise<T>): Promise<T | undefined> {
    const direct = directName(ref, this.layoutFile.recordLayout);
    if (direct !== undefined) {
      try {
        return await op(this.pathIn(ref.jti, direct));
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
      }
    }
    const listed = listedName(await this.listShard(shardOf(ref.jti, this.shardCount)), ref);
    if (listed === undefined || listed === direct) return undefined;
    try {
      return await op(this.pathIn(ref.jti, listed));
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw err;
    }
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
    const exists = (path: string) => fs.stat(path).then(() => true, () => false);
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
   * round trip: a revocation made by another process is then refused here before a request sent after it.
   */
  private shardChanged(shard: number, name: string | null): void {
    if (name !== null && !this.closed && parseRecordName(name)) {
      this.generation[shard]!++; // a listing already under way may predate this: it reads again
      this.emit('record', shard, name, existsSync(join(this.shardDir(shard), name)));
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

  async create(record: TokenRecord): Promise<boolean> {
    checkRecord(record);
    const shard = shardOf(record.jti, this.shardCount);
    const tmp = tempName(this.dir('tmp'), 'record');
    try {
      await writeDurable(tmp, JSON.stringify(record));
      try {
        await fs.link(tmp, this.createPath(record));
      } catch (err) {
        if (errno(err) === 'EEXIST') return false;
        throw err;
      }
      await syncDir(this.shardDir(shard));
      return true;
    } catch (err) {
      throw this.unavailable(err, 'write a token record');
    } finally {
      this.generation[shard]!++;
      await fs.rm(tmp, { force: true }).catch(() => {});
    }
  }

  /**
   * Many records at once, for the store migration: for each, what `create` would answer (`true` created,
   * `false` the name was taken) or the error that record met. Each record is written to a temp file, fsynced
   * and linked into place as by `create`, all of them at once on the thread pool (the file system commits
   * concurrent fsyncs together); then every shard folder linked into is fsynced once, and only then do the
   * records count as created: one fsync a record and one a shard, where `create` costs two a record.
   */
  async createMany(records: readonly TokenRecord[]): Promise<Array<boolean | Error>> {
    const results = new Array<boolean | Error>(records.length).fill(false);
    const linkedInto = new Map<number, number[]>();
    await Promise.all(
      records.map(async (record, i) => {
        try {
          checkRecord(record);
        } catch (err) {
          results[i] = err as Error;
          return;
        }
        const shard = shardOf(record.jti, this.shardCount);
        const tmp = tempName(this.dir('tmp'), 'record');
        try {
          await writeDurableCallback(tmp, JSON.stringify(record));
          try {
            await call<void>((cb) => fsCallback.link(tmp, this.createPath(record), cb));
          } catch (err) {
            if (errno(err) === 'EEXIST') return;
            throw err;
          }
          results[i] = true;
          const linked = linkedInto.get(shard);
          if (linked) linked.push(i);
          else linkedInto.set(shard, [i]);
        } catch (err) {
          results[i] = this.unavailable(err, 'write a token record');
        } finally {
          this.generation[shard]!++;
          fsCallback.unlink(tmp, () => {});
        }
      }),
    );
    await Promise.all(
      [...linkedInto].map(async ([shard, linked]) => {
        try {
          await syncDir(this.shardDir(shard));
        } catch (err) {
          const error = this.unavailable(err, 'write a token record');
          for (const i of linked) results[i] = error;
        }
      }),
    );
    return results;
  }

  async delete(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    const shard = shardOf(ref.jti, this.shardCount);
    try {
      return (await this.onRecord(ref, (path) => fs.unlink(path).then(() => true))) ?? false;
    } catch (err) {
      throw this.unavailable(err, 'delete a token record');
    } finally {
      this.generation[shard]!++;
    }
  }

  async consume(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    const shard = shardOf(ref.jti, this.shardCount);
    const aside = tempName(this.dir('tmp'), 'consumed');
    try {
      // rename is atomic: of several processes racing, one moves the file and the rest find it gone.
      if (!(await this.onRecord(ref, (path) => fs.rename(path, aside).then(() => true)))) return false;
    } catch (err) {
      throw this.unavailable(err, 'consume a one-time token');
    } finally {
      this.generation[shard]!++;
    }
    await fs.rm(aside, { force: true }).catch(() => {});
    return true;
  }

  async exists(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    try {
      return (await this.onRecord(ref, (path) => fs.access(path).then(() => true))) ?? false;
    } catch (err) {
      throw this.unavailable(err, 'read a token record');
    }
  }

  async read(ref: RecordRef): Promise<TokenRecord | undefined> {
    if (!isValidRef(ref)) return undefined;
    try {
      return await this.onRecord(ref, async (path) => (await this.readPath(path, true))!);
    } catch (err) {
      throw this.unavailable(err, 'read a token record');
    }
  }

  /**
   * Many records at once, for the store migration: `undefined` where `read` would answer it (gone, or not a
   * record). The files are read synchronously on the calling thread, {@link READ_SLICE} of them between turns
   * of the event loop. Each asynchronous read is four thread-pool round trips (open, stat, read, close), and
   * each round trip wakes a pool thread that, on a busy machine, preempts the main thread: about 100 µs of
   * CPU a record with `fs.promises.readFile`, against about 5 µs read synchronously (measured here on ext4,
   * 20,000 records). Caveat: on a network share a slice blocks the event loop for as many round trips to the
   * file server; the sidecar never calls this.
   */
  async readMany(refs: readonly RecordRef[]): Promise<Array<TokenRecord | undefined>> {
    const records: Array<TokenRecord | undefined> = new Array<TokenRecord | undefined>(refs.length).fill(undefined);
    for (let i = 0; i < refs.length; i++) {
      if (i > 0 && i % READ_SLICE === 0) await nextTurn();
      if (!isValidRef(refs[i]!)) continue;
      const path = this.recordPath(refs[i]!);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        if (errno(err) === 'ENOENT') continue;
        throw this.unavailable(err, 'read a token record');
      }
      records[i] = this.parseAt(path, text);
    }
    return records;
  }

  /** `rawMissing`: let ENOENT through (to {@link onRecord}) rather than answer undefined. */
  private async readPath(path: string, rawMissing = false): Promise<TokenRecord | undefined> {
    let text: string;
    try {
      // the callback form: fs.promises.readFile costs about three times the CPU for a file this small
      text = await call<string>((cb) => fsCallback.readFile(path, 'utf8', cb));
    } catch (err) {
      if (errno(err) === 'ENOENT' && !rawMissing) return undefined;
      if (errno(err) === 'ENOENT') throw err;
      throw this.unavailable(err, 'read a token record');
    }
    return this.parseAt(path, text);
  }

  private parseAt(path: string, text: string): TokenRecord | undefined {
    try {
      return parseRecord(text);
    } catch {
      this.log.warn('ignoring an unreadable token record', { path });
      return undefined;
    }
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

  /** `fresh` changes nothing here: a listing of the folder holds every file created before it. */
  async listShard(shard: number, _options: { fresh?: boolean } = {}): Promise<string[]> {
    try {
      return await call<string[]>((cb) => fsCallback.readdir(this.shardDir(shard), cb));
    } catch (err) {
      throw this.unavailable(err, 'list a shard');
    }
  }

  async list(query: ListQuery): Promise<ListPage> {
    const limit = checkListLimit(query.limit);
    const start = parseListCursor(query.cursor, this.shardCount);
    let after = start.after;
    const items: TokenRecord[] = [];
    for (let shard = start.shard; shard < this.shardCount; shard++) {
      const names = (await this.listShard(shard)).sort();
      for (const name of names) {
        if (after !== undefined && name <= after) continue;
        const ref = parseRecordName(name);
        if (!ref) continue;
        if (query.subject !== undefined && ref.subject !== query.subject) continue;
        const derivedKind = kindOfJti(ref.jti);
        if (query.kind !== undefined && derivedKind !== undefined && derivedKind !== query.kind) continue;
        const record = await this.readPath(join(this.shardDir(shard), name));
        if (!record || (query.kind !== undefined && record.kind !== query.kind)) continue;
        items.push(record);
        if (items.length >= limit) return { items, nextCursor: formatListCursor(shard, name) };
      }
      after = undefined;
    }
    return { items, nextCursor: null };
  }

  /** While meta.json says layout 1, reads it again first: a heartbeat is when a running sidecar follows `store upgrade`. */
  async publishMember(info: MemberInfo): Promise<void> {
    if (this.layoutFile.recordLayout === 1) await this.layoutFile.refresh().catch((err: unknown) => this.log.debug('reading meta.json', { error: String(err) }));
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

/** What the ZooKeeper store refuses, refused here too: a name that is not a record's could leave the shard folder. */
function checkRecord(record: TokenRecord): void {
  if (!isValidJti(record.jti)) throw new BadRequestError(`jti '${String(record.jti)}' is not a valid token id`);
  if (!isValidSubject(record.subject)) throw new BadRequestError('subject is empty, too long or has control characters');
}
