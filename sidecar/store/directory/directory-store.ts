import { EventEmitter } from 'node:events';
import fsCallback, { readFileSync, watch, promises as fs, type FSWatcher } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { join } from 'node:path';
import type { Logger } from '../../util/logger.js';
import type { Clock } from '../../util/clock.js';
import { systemClock } from '../../util/clock.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import { BadRequestError } from '../../errors/bad-request-error.js';
import type { ConnectionState } from '../connection-state.js';
import type { LayoutProbe, BulkCreates, BulkReads, ListPage, ListQuery, MemberInfo, StoreDescription, StoreEvents, TokenStore } from '../token-store.js';
import { checkListLimit, formatListCursor, parseListCursor } from '../list-cursor.js';
import type { RecordRef, TokenRecord } from '../token-record.js';
import {
  decodeSubject,
  encodeSubject,
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
import { isGen, markerData, parseMarkerData, type LogoutMarker } from '../logout-marker.js';
import { UNAVAILABLE_CODES, errno, replaceFile, syncDir, tempName, writeDurable } from '../fs-util.js';

export const DIRECTORY_LAYOUT_VERSION = 1;

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
   * last heartbeat looks older than {@link MEMBER_STALE_MS} plus this. A member whose clock runs behind within the
   * skew stays listed (a logout waits for its acknowledgement); a dead one lingers that much longer, reported as
   * not yet acknowledging (the safe side). @default 30000
   */
  clockSkewMs?: number;
}

/** Members not heard from for this many heartbeats are no longer listed. */
const MEMBER_STALE_MS = 30_000;
const REAPER_LEASE_MS = 60_000;
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
export class DirectoryStore extends EventEmitter<StoreEvents> implements TokenStore, BulkReads, BulkCreates {
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
  /** Highest marker generation per encoded subject at the last rescan (see pruneMarkers). */
  private settledMarkers = new Map<string, number>();
  private watching = false;
  private closed = false;
  private started = false;
  /** Only the instance that published the member file removes it (a CLI run shares the node id). */
  private publishedMember = false;

  constructor(private readonly options: DirectoryStoreOptions) {
    super();
    this.shardCount = options.shards;
    this.clock = options.clock ?? systemClock;
    this.log = options.logger;
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

  private recordPath(ref: RecordRef): string {
    return join(this.shardDir(shardOf(ref.jti, this.shardCount)), recordName(ref, 1));
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
    const metaPath = this.dir('meta.json');
    const meta = await fs.readFile(metaPath, 'utf8').then((text) => JSON.parse(text) as { layoutVersion: number; shards: number }, () => undefined);
    if (meta && meta.layoutVersion !== DIRECTORY_LAYOUT_VERSION) {
      throw new Error(`${metaPath}: layout version ${meta.layoutVersion} is not supported by this tokensync`);
    }
    if (meta) this.shardCount = meta.shards;
    else wouldCreate.push(`${metaPath} (layout ${DIRECTORY_LAYOUT_VERSION}, ${this.shardCount} shards)`);
    const present = new Set(await fs.readdir(this.dir('tokens')).catch(() => [] as string[]));
    let missingShards = 0;
    for (let s = 0; s < this.shardCount; s++) if (!present.has(shardName(s, this.shardCount))) missingShards++;
    if (missingShards > 0) wouldCreate.push(`${missingShards} shard folders under ${this.dir('tokens')}`);
    return { ...this.describe(), exists: meta !== undefined, wouldCreate, missingShards };
  }

  private async layout(): Promise<void> {
    for (const sub of ['tokens', 'subjects', 'members', 'tmp']) await fs.mkdir(this.dir(sub), { recursive: true });
    const metaPath = this.dir('meta.json');
    const proposed = JSON.stringify({ layoutVersion: DIRECTORY_LAYOUT_VERSION, shards: this.shardCount });
    const tmp = tempName(this.dir('tmp'), 'meta');
    await writeDurable(tmp, proposed);
    try {
      await fs.link(tmp, metaPath); // first sidecar wins; the others adopt its shard count
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
    } finally {
      await fs.rm(tmp, { force: true });
    }
    const meta = JSON.parse(await fs.readFile(metaPath, 'utf8')) as { layoutVersion: number; shards: number };
    if (meta.layoutVersion !== DIRECTORY_LAYOUT_VERSION) {
      throw new Error(`${metaPath}: layout version ${meta.layoutVersion} is not supported by this tokensync`);
    }
    this.shardCount = meta.shards;
    this.generation = new Array(this.shardCount).fill(0);
    for (let s = 0; s < this.shardCount; s++) await fs.mkdir(this.shardDir(s), { recursive: true });
  }

  private watchFolders(): void {
    const add = (dir: string, onChange: () => void) => {
      try {
        const w = watch(dir, { persistent: false }, onChange);
        w.on('error', (err) => this.fail(err));
        this.watchers.push(w);
      } catch (err) {
        // Out of inotify watches: the periodic rescan still finds every change, only later.
        this.log.warn('cannot watch store folder; relying on the periodic rescan', { dir, error: String(err) });
      }
    };
    for (let s = 0; s < this.shardCount; s++) add(this.shardDir(s), () => this.scheduleShard(s));
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
    await this.pruneMarkers();
  }

  /** Can the folder take a write again? */
  private async probe(): Promise<void> {
    const tmp = tempName(this.dir('tmp'), 'probe');
    await writeDurable(tmp, 'probe');
    await fs.rm(tmp, { force: true });
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
    const markers = await this.listMarkers();
    if (!this.closed) this.emit('markers', markers);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    for (const w of this.watchers.splice(0)) w.close();
    if (this.started) {
      if (this.publishedMember) await fs.rm(this.dir('members', `${this.options.nodeId}.json`), { force: true }).catch(() => {});
      await this.releaseReaper().catch(() => {});
    }
    this.setState('closed');
    this.removeAllListeners();
  }

  describe(): StoreDescription {
    return { type: 'DIRECTORY', location: this.root, shards: this.shardCount, layoutVersion: DIRECTORY_LAYOUT_VERSION };
  }

  async create(record: TokenRecord): Promise<boolean> {
    checkRecord(record);
    const ref = refOf(record);
    const shard = shardOf(record.jti, this.shardCount);
    const tmp = tempName(this.dir('tmp'), 'record');
    try {
      await writeDurable(tmp, JSON.stringify(record));
      try {
        await fs.link(tmp, this.recordPath(ref));
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
            await call<void>((cb) => fsCallback.link(tmp, this.recordPath(record), cb));
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
      await fs.unlink(this.recordPath(ref));
      return true;
    } catch (err) {
      if (errno(err) === 'ENOENT') return false;
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
      await fs.rename(this.recordPath(ref), aside);
    } catch (err) {
      if (errno(err) === 'ENOENT') return false;
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
      await fs.access(this.recordPath(ref));
      return true;
    } catch (err) {
      if (errno(err) === 'ENOENT') return false;
      throw this.unavailable(err, 'read a token record');
    }
  }

  async read(ref: RecordRef): Promise<TokenRecord | undefined> {
    if (!isValidRef(ref)) return undefined;
    return this.readPath(this.recordPath(ref));
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

  private async readPath(path: string): Promise<TokenRecord | undefined> {
    let text: string;
    try {
      // the callback form: fs.promises.readFile costs about three times the CPU for a file this small
      text = await call<string>((cb) => fsCallback.readFile(path, 'utf8', cb));
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
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

  async raiseMarker(subject: string, floor = 0): Promise<number> {
    if (!isGen(floor)) throw new BadRequestError(`floor ${floor} is not a logout generation`);
    return this.ensureMarker(subject, (stored) => Math.max(stored + 1, floor));
  }

  async copyMarker(subject: string, gen: number): Promise<number> {
    if (!isGen(gen)) throw new BadRequestError(`${gen} is not a logout generation`);
    return this.ensureMarker(subject, () => gen);
  }

  /**
   * A marker generation is a file `subjects/<b64 subject>~<gen>`, created exclusively (a temp file hard-linked
   * into place): the file system orders racing writers, not mtimes or clocks, so this works for several machines
   * sharing the folder. The current generation is the highest present. EEXIST means a concurrent logout created
   * that generation after we read the lower one, i.e. after this call began: it refuses every token we had to
   * refuse, so it counts as ours (going one higher would only end logins made since). Lower generation files are
   * pruned later (see pruneMarkers), never here: a listing racing with a link and an unlink may show neither.
   */
  private async ensureMarker(subject: string, requiredFrom: (stored: number) => number): Promise<number> {
    if (!isValidSubject(subject)) throw new BadRequestError('subject is empty, too long or has control characters');
    const encoded = encodeSubject(subject);
    const tmp = tempName(this.dir('tmp'), 'marker');
    try {
      const stored = (await this.readMarkers(encoded)).gen;
      const required = requiredFrom(stored);
      if (stored >= required) return stored;
      await writeDurable(tmp, markerData(subject, required, this.clock.now()));
      try {
        await fs.link(tmp, this.dir('subjects', `${encoded}~${required}`));
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw err;
      }
      await syncDir(this.dir('subjects'));
      return required;
    } catch (err) {
      throw this.unavailable(err, 'write a logout marker');
    } finally {
      await fs.rm(tmp, { force: true }).catch(() => {});
    }
  }

  /** The marker of one encoded subject: the highest generation file (a legacy file counts as generation 1). */
  private async readMarkers(encoded: string): Promise<LogoutMarker> {
    const names = await fs.readdir(this.dir('subjects'));
    let marker: LogoutMarker = { gen: 0 };
    for (const name of names) {
      const parsed = parseMarkerName(name);
      if (parsed?.encoded !== encoded) continue;
      const next = parsed.gen !== undefined ? { gen: parsed.gen } : await this.readLegacyMarker(name);
      if (next && next.gen > marker.gen) marker = next;
    }
    return marker;
  }

  /**
   * Removes the generation files below a subject's highest once two listings a rescan apart agree on that highest:
   * a listing that runs while a file is linked and another unlinked may show neither (readdir promises nothing
   * about entries changed meanwhile), so the highest must have been there a whole interval before anything below
   * it goes. Several sidecars pruning at once is harmless.
   */
  private async pruneMarkers(): Promise<void> {
    const names = await fs.readdir(this.dir('subjects')).catch(() => [] as string[]);
    const highest = new Map<string, number>();
    for (const name of names) {
      const parsed = parseMarkerName(name);
      if (parsed) highest.set(parsed.encoded, Math.max(highest.get(parsed.encoded) ?? 0, parsed.gen ?? 1));
    }
    for (const name of names) {
      const parsed = parseMarkerName(name);
      if (!parsed || this.closed) continue;
      const high = highest.get(parsed.encoded)!;
      if ((parsed.gen ?? 1) < high && this.settledMarkers.get(parsed.encoded) === high) {
        await fs.rm(this.dir('subjects', name), { force: true }).catch(() => {});
      }
    }
    this.settledMarkers = highest;
  }

  /** A marker file written before generations (`{subject, revokedBefore}`); unreadable ones are skipped. */
  private async readLegacyMarker(name: string): Promise<LogoutMarker | undefined> {
    try {
      return parseMarkerData(await fs.readFile(this.dir('subjects', name), 'utf8'));
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async listMarkers(): Promise<Map<string, LogoutMarker>> {
    const markers = new Map<string, LogoutMarker>();
    let names: string[];
    try {
      names = await fs.readdir(this.dir('subjects'));
    } catch (err) {
      throw this.unavailable(err, 'list logout markers');
    }
    const legacy: Array<{ subject: string; name: string }> = [];
    for (const name of names) {
      const parsed = parseMarkerName(name);
      const subject = parsed && decodeSubject(parsed.encoded);
      if (!parsed || subject === undefined) continue;
      if (parsed.gen === undefined) legacy.push({ subject, name });
      else if (parsed.gen > (markers.get(subject)?.gen ?? 0)) markers.set(subject, { gen: parsed.gen });
    }
    await Promise.all(
      legacy.map(async ({ subject, name }) => {
        const marker = await this.readLegacyMarker(name).catch(() => undefined);
        if (marker && !markers.has(subject)) markers.set(subject, marker);
      }),
    );
    return markers;
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

  async publishMember(info: MemberInfo): Promise<void> {
    try {
      await replaceFile(this.dir('members', `${info.nodeId}.json`), this.dir('tmp'), JSON.stringify(info));
      this.publishedMember = true;
    } catch (err) {
      throw this.unavailable(err, 'publish this member');
    }
  }

  async listMembers(): Promise<MemberInfo[]> {
    const now = this.clock.now();
    const names = await fs.readdir(this.dir('members')).catch(() => [] as string[]);
    const members = await Promise.all(
      names
        .filter((n) => n.endsWith('.json'))
        .map(async (n) => {
          try {
            return JSON.parse(await fs.readFile(this.dir('members', n), 'utf8')) as MemberInfo;
          } catch {
            return undefined;
          }
        }),
    );
    const stale = MEMBER_STALE_MS + (this.options.clockSkewMs ?? 30_000);
    return members.filter((m): m is MemberInfo => m !== undefined && now - m.updatedAt < stale);
  }

  /** A lease file: whoever holds an unexpired lease reaps; everyone else waits. Reaping twice is harmless anyway. */
  async isReaper(): Promise<boolean> {
    const path = this.dir('reaper.lock');
    const now = this.clock.now();
    const mine = JSON.stringify({ nodeId: this.options.nodeId, pid: process.pid, until: now + REAPER_LEASE_MS });
    try {
      const held = JSON.parse(await fs.readFile(path, 'utf8')) as { nodeId: string; pid: number; until: number };
      const ours = held.nodeId === this.options.nodeId && held.pid === process.pid;
      if (!ours && held.until > now) return false;
    } catch (err) {
      if (errno(err) !== 'ENOENT' && !(err instanceof SyntaxError)) return false;
    }
    await replaceFile(path, this.dir('tmp'), mine);
    const check = JSON.parse(await fs.readFile(path, 'utf8')) as { nodeId: string; pid: number };
    return check.nodeId === this.options.nodeId && check.pid === process.pid;
  }

  private async releaseReaper(): Promise<void> {
    const path = this.dir('reaper.lock');
    const held = JSON.parse(await fs.readFile(path, 'utf8')) as { nodeId: string; pid: number };
    if (held.nodeId === this.options.nodeId && held.pid === process.pid) await fs.rm(path, { force: true });
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

/** A callback-style `fs` call as a promise: a third of the CPU of `fs.promises` for small files. */
function call<T>(invoke: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => invoke((err, value) => (err ? reject(err) : resolve(value))));
}

/** `writeDurable` with the callback API: open (create-only), write, fsync, close. */
async function writeDurableCallback(path: string, data: string): Promise<void> {
  const fd = await call<number>((cb) => fsCallback.open(path, 'wx', 0o600, cb));
  try {
    await call<void>((cb) => fsCallback.writeFile(fd, data, cb));
    await call<void>((cb) => fsCallback.fsync(fd, cb));
  } finally {
    await call<void>((cb) => fsCallback.close(fd, cb));
  }
}

/** What the ZooKeeper store refuses, refused here too: a name that is not a record's could leave the shard folder. */
function checkRecord(record: TokenRecord): void {
  if (!isValidJti(record.jti)) throw new BadRequestError(`jti '${String(record.jti)}' is not a valid token id`);
  if (!isValidSubject(record.subject)) throw new BadRequestError('subject is empty, too long or has control characters');
}

/** `<b64 subject>~<gen>`, or a legacy `<b64 subject>` (gen undefined); undefined for anything else (temp files). */
function parseMarkerName(name: string): { encoded: string; gen?: number } | undefined {
  const m = /^([A-Za-z0-9_-]+)(?:~([1-9][0-9]{0,15}))?$/.exec(name);
  if (!m || (m[2] !== undefined && !Number.isSafeInteger(Number(m[2])))) return undefined;
  return m[2] === undefined ? { encoded: m[1]! } : { encoded: m[1]!, gen: Number(m[2]) };
}
