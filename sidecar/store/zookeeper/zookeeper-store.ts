import { EventEmitter } from 'node:events';
import type { Logger } from '../../util/logger.js';
import type { Clock } from '../../util/clock.js';
import { systemClock } from '../../util/clock.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import type { ConnectionState } from '../connection-state.js';
import type {
  BulkReads,
  CreateBatchCounts,
  LayoutProbe,
  LayoutUpgrade,
  ShardUpgrade,
  ListPage,
  ListQuery,
  MemberInfo,
  ReplayReceipts,
  StoreDescription,
  StoreEvents,
  TokenStore,
  WithCreateBatches,
  WithReplayReceipts,
  WithWatchMode,
  WithRelist,
} from '../token-store.js';
import type { RecordLayout, RecordRef, TokenRecord } from '../token-record.js';
import { isValidRef } from '../token-record.js';
import type { LogoutMarker } from '../logout-marker.js';
import { ZkLayout, digestId } from './layout.js';
import { ensureLayout, probeLayout, refreshRecordLayout } from './layout-repair.js';
import { ZkLayoutUpgrade } from './zk-layout-upgrade.js';
import { RecordReads } from './record-reads.js';
import { RecordWrites } from './record-writes.js';
import { type RebuildStats, TreeWatcher, type TreeWatcherHost } from './tree-watcher.js';
import { ZK_PERM_ALL, type ZkAcl, type ZkClient } from './zk-client.js';
import { ZkMarkers } from './zk-markers.js';
import { ZkMembership } from './zk-membership.js';
import { ZkReplayReceipts } from './zk-replay-receipts.js';
import { ZkSession } from './zk-session.js';
import { type ZooKeeperStoreOptions, checkStoreOptions } from './zookeeper-store-options.js';

export type { RebuildStats } from './tree-watcher.js';
export type { ZooKeeperAuth, ZooKeeperStoreOptions } from './zookeeper-store-options.js';
export { DEFAULT_CREATE_BATCH, DEFAULT_CREATES_IN_FLIGHT } from './record-writes.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_READ_CONCURRENCY = 256;
/** How long `close()` waits for its best-effort deletes. */
const CLOSE_GRACE_MS = 1_000;

/**
 * The cluster shared store on Apache ZooKeeper (the `zookeeper` npm binding, C client 3.8).
 *
 * Every mutation is ONE request (`create`, `delete`, a versioned `delete` to consume, one marker write); record
 * creates asked for together share one transaction (`multi`, {@link CreateBatcher}: each record is still created
 * by one create op, all or none of a transaction applied). Records are immutable and sharded under `/tokens`, and
 * never watched one by one: one persistent recursive watch on `/tokens` (or, without it, a child watch per shard
 * parent; the C client re-sends every one-shot watch in one packet on reconnect, which must stay under
 * `jute.maxbuffer`).
 *
 * Connection state follows Curator ({@link ConnectionStateManager}); requests fail fast with
 * {@link StoreUnavailableError} while the connection is not up, so callers journal instead of waiting; a
 * `lost` session is replaced by a new one, which re-creates the member node and re-arms every watch.
 *
 * With `start({ watch: true })` a {@link TreeWatcher} feeds a Mirror (initial rebuild, watches, jittered
 * resyncs, `rebuilt` each time). The initial rebuild starts on the macrotask after `start()` resolves, so
 * that `store.shards` (from `/meta`) is known before the Mirror allocates its table: attach the Mirror before
 * `start()`, or right after `await store.start(...)` without awaiting anything else first.
 */
export class ZooKeeperStore
  extends EventEmitter<StoreEvents>
  implements TokenStore, BulkReads, LayoutUpgrade, WithReplayReceipts, WithCreateBatches, WithWatchMode, WithRelist
{
  readonly type = 'ZOOKEEPER' as const;

  private readonly options: ZooKeeperStoreOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly layout: ZkLayout;
  private readonly location: string;
  private readonly acl: ZkAcl[] | undefined;
  private readonly readConcurrency: number;
  private readonly maxJitterMs: number;
  private readonly session: ZkSession;
  private readonly writes: RecordWrites;
  private readonly reads: RecordReads;
  private readonly markers: ZkMarkers;
  private readonly membership: ZkMembership;
  private readonly upgrade: ZkLayoutUpgrade;
  /** Replay receipts under `/replays`; needs the binding's multi patch ({@link ReplayReceipts.available}). */
  readonly receipts: ReplayReceipts;

  private closing: Promise<void> | null = null;
  /** Set while started with `{ watch: true }`. */
  private watcher: TreeWatcher | null = null;

  constructor(options: ZooKeeperStoreOptions) {
    super();
    checkStoreOptions(options);
    this.options = options;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.layout = new ZkLayout(options.chroot, options.shards);
    const connectString = options.servers.join(',');
    this.location = connectString + options.chroot;
    this.acl = options.auth
      ? [{ perms: ZK_PERM_ALL, scheme: 'digest', auth: digestId(options.auth.user, options.auth.password) }]
      : undefined;
    this.readConcurrency = options.readConcurrency ?? DEFAULT_READ_CONCURRENCY;
    this.maxJitterMs = options.maxResyncJitterMs ?? Math.min(2_000, Math.floor(options.sessionTimeoutMs / 4));
    this.session = new ZkSession(
      {
        connectString,
        location: this.location,
        sessionTimeoutMs: options.sessionTimeoutMs,
        operationTimeoutMs: options.operationTimeoutMs ?? Math.min(10_000, Math.max(1_000, Math.floor(options.sessionTimeoutMs / 2))),
        connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        ...(options.auth && { auth: options.auth }),
        logger: this.logger,
        clock: this.clock,
      },
      {
        stateChanged: (next, previous) => this.emitSafe('state', next, previous),
        replacing: () => this.membership.forgetSession(),
        reconnected: (client, newSession) => this.afterReconnect(client, newSession),
        watch: (type, path) => this.watcher?.onWatch(type, path),
        report: (error, context) => this.reportError(error, context),
      },
    );
    const parts = { session: this.session, layout: this.layout, acl: this.acl, logger: this.logger };
    const watcher = () => this.watcher;
    const receipts = new ZkReplayReceipts({ ...parts, prefix: options.receiptPrefix, watcher });
    this.receipts = receipts;
    this.writes = new RecordWrites({
      ...parts,
      receipts,
      watcher,
      ...(options.createBatch !== undefined && { createBatch: options.createBatch }),
      ...(options.createsInFlight !== undefined && { createsInFlight: options.createsInFlight }),
    });
    this.reads = new RecordReads({ ...parts, readConcurrency: this.readConcurrency });
    this.markers = new ZkMarkers({ ...parts, readConcurrency: this.readConcurrency });
    this.upgrade = new ZkLayoutUpgrade(parts);
    this.membership = new ZkMembership({
      ...parts,
      readConcurrency: this.readConcurrency,
      report: (error, context) => this.reportError(error, context),
    });
  }

  /** Record creates sent in transactions so far, and the transactions that carried them. */
  get createBatches(): CreateBatchCounts {
    return this.writes.counts;
  }

  get shards(): number {
    return this.layout.shards;
  }

  get state(): ConnectionState {
    return this.session.state;
  }

  get recordLayout(): RecordLayout {
    return this.layout.recordLayout;
  }

  /** Current session id (hex), `'0'` when there is none. */
  get sessionId(): string {
    return this.session.current?.sessionId ?? '0';
  }

  get lastRebuild(): RebuildStats | null {
    return this.watcher?.lastRebuild ?? null;
  }

  /** How records are watched once the first rebuild ran (`undefined` without `start({ watch: true })`). */
  get recordWatchMode(): 'persistent' | 'one-shot' | undefined {
    return this.watcher?.watchMode;
  }

  // lifecycle

  async start(options: { watch?: boolean } = {}): Promise<void> {
    this.session.begin();
    try {
      await this.session.connect();
      await ensureLayout(this.session.requireClient(), {
        layout: this.layout,
        acl: this.acl,
        shards: this.options.shards,
        readConcurrency: this.readConcurrency,
        logger: this.logger,
        upgradeCommand: this.options.upgradeCommand,
      });
    } catch (error) {
      await this.close();
      throw this.session.mapError(error);
    }
    if (this.session.lifecycle !== 'started') throw new StoreUnavailableError('the ZooKeeper store was closed while starting');
    if (options.watch) {
      const watcher = new TreeWatcher(this.watcherHost());
      this.watcher = watcher;
      // after start() resolves, so that the caller can build its Mirror with the shard count from /meta
      setImmediate(() => watcher.requestRebuild(0, 'initial'));
    }
  }

  /** Reads the layout and says what a first start would create, creating nothing (`config check --connect`). */
  async inspectLayout(): Promise<LayoutProbe> {
    this.session.begin();
    try {
      await this.session.connect();
      const probe = await probeLayout(this.session.requireClient(), this.layout, this.options.shards);
      return { ...this.describe(), ...probe };
    } catch (error) {
      await this.close();
      throw this.session.mapError(error);
    }
  }

  /** Runs a rebuild now (the same one as after a reconnect) and resolves when `rebuilt` was emitted. */
  async resync(): Promise<void> {
    if (!this.watcher) throw new Error('ZooKeeperStore.resync() needs start({ watch: true })');
    await this.watcher.rebuild('requested');
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const client = this.session.markClosed();
    this.watcher?.stop();
    this.watcher = null;
    if (client?.isConnected) {
      // the session's close would remove them too; deleting first makes a successor see it at once
      const drops = this.writes.receiptsToDrop;
      const receipts = drops.length > 0 ? this.receipts.remove([...drops]) : undefined;
      const deletions = [...this.membership.release(client), receipts].filter((d) => d !== undefined);
      if (deletions.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled(deletions), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
        clearTimeout(timer);
      }
    }
    this.session.shutdown();
  }

  describe(): StoreDescription {
    return { type: 'ZOOKEEPER', location: this.location, shards: this.shards, layoutVersion: this.layout.recordLayout };
  }

  private afterReconnect(client: ZkClient, newSession: boolean): void {
    if (newSession) {
      this.logger.info(`new ZooKeeper session 0x${client.sessionId}: re-arming watches and membership`);
      this.membership.restore(client);
    }
    // one-shot watches survive a reconnect with the same session (the C client sets them again), the persistent
    // one does not: set it again now; then a resync catches up on what changed meanwhile, jittered so that a
    // cluster of sidecars coming back together does not read the ensemble all at once
    // what the persistent watch missed is known only once a shard is listed again: until then the mirror asks
    // (a validation lists its token's shard at once, see WithRelist), instead of trusting it until the resync
    if (this.watcher && (newSession || this.watcher.watchMode === 'persistent')) this.emitSafe('stale');
    this.watcher?.rearm();
    this.watcher?.requestRebuild(this.watcher.jitter(), newSession ? 'new session' : 'reconnected');
  }

  private watcherHost(): TreeWatcherHost {
    return {
      layout: this.layout,
      logger: this.logger,
      clock: this.clock,
      readConcurrency: this.readConcurrency,
      maxJitterMs: this.maxJitterMs,
      persistentWatch: this.options.recordWatch !== 'one-shot',
      client: () => this.session.requireClient(),
      connected: () => this.session.usable,
      emit: (event, ...args) => this.emitSafe(event, ...args),
      report: (error, context) => this.reportError(error, context),
      mapError: (error) => this.session.mapError(error),
    };
  }

  // records

  create(record: TokenRecord): Promise<boolean> {
    return this.writes.create(record);
  }

  async delete(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    return this.writes.delete(ref, -1);
  }

  /** One delete with version 0: records are never modified, and exactly one racer's delete can succeed. */
  async consume(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    return this.writes.delete(ref, 0);
  }

  exists(ref: RecordRef): Promise<boolean> {
    return this.reads.exists(ref);
  }

  read(ref: RecordRef): Promise<TokenRecord | undefined> {
    return this.reads.read(ref);
  }

  /** For `store migrate`: records just listed with `listShard`, see {@link RecordReads.readMany}. */
  readMany(refs: readonly RecordRef[]): Promise<Array<TokenRecord | undefined>> {
    return this.reads.readMany(refs);
  }

  /** Lists a shard now (coalesced with a listing already queued) and reports it to the mirror; see {@link WithRelist}. */
  async relistShard(shard: number): Promise<void> {
    if (!this.watcher) return;
    try {
      await this.watcher.relist(shard);
    } catch (error) {
      throw this.session.mapError(error);
    }
  }

  listShard(shard: number, options: { fresh?: boolean } = {}): Promise<string[]> {
    return this.reads.listShard(shard, options);
  }

  list(query: ListQuery): Promise<ListPage> {
    return this.reads.list(query);
  }

  // layout upgrade

  raiseLayout(): Promise<void> {
    return this.upgrade.raiseLayout();
  }

  upgradeShard(shard: number): Promise<ShardUpgrade> {
    return this.upgrade.upgradeShard(shard);
  }

  // markers

  raiseMarker(subject: string, floor = 0): Promise<number> {
    return this.markers.raise(subject, floor);
  }

  copyMarker(subject: string, gen: number): Promise<number> {
    return this.markers.copy(subject, gen);
  }

  listMarkers(): Promise<Map<string, LogoutMarker>> {
    return this.markers.list();
  }

  // membership and the reaper election

  /** While `/meta` says layout 1, reads it again first: a heartbeat is when a running sidecar follows `store upgrade`. */
  async publishMember(info: MemberInfo): Promise<void> {
    if (this.layout.recordLayout === 1) {
      await this.session.run((client) => refreshRecordLayout(client, this.layout, this.logger));
    }
    return this.membership.publish({ ...info, layout: this.layout.recordLayout });
  }

  listMembers(): Promise<MemberInfo[]> {
    return this.membership.list();
  }

  isReaper(): Promise<boolean> {
    return this.membership.isReaper();
  }

  /** Logs, and emits `error` when someone listens (an unheard `error` would throw). Never throws. */
  private reportError(error: unknown, context: string): void {
    const err = error instanceof Error ? error : new Error(String(error));
    this.logger.error(`ZooKeeper store: ${context}: ${err.message}`);
    if (this.listenerCount('error') === 0) return;
    try {
      this.emit('error', err);
    } catch (listenerError) {
      this.logger.error(`an 'error' listener of the ZooKeeper store threw: ${(listenerError as Error).message}`);
    }
  }

  private emitSafe<K extends keyof StoreEvents>(event: K, ...args: StoreEvents[K]): void {
    try {
      (this.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
    } catch (error) {
      this.reportError(error, `a '${String(event)}' listener threw`);
    }
  }
}
