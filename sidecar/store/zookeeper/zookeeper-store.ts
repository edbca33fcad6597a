import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../util/logger.js';
import type { Clock } from '../../util/clock.js';
import { systemClock } from '../../util/clock.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import { BadRequestError } from '../../errors/bad-request-error.js';
import { TokensyncError } from '../../errors/tokensync-error.js';
import type { ConnectionState } from '../connection-state.js';
import { isConnected } from '../connection-state.js';
import type { CreateBatchCounts, LayoutProbe, ListPage, ListQuery, MemberInfo, ReplayReceipts, StoreDescription, StoreEvents, TokenStore } from '../token-store.js';
import type { RecordRef, TokenRecord } from '../token-record.js';
import { decodeSubject, isValidJti, isValidSubject, kindOfJti, parseRecord, parseRecordName } from '../token-record.js';
import { isGen, markerData, parseMarkerData, type LogoutMarker } from '../logout-marker.js';
import { ConnectionStateManager } from './connection-state-manager.js';
import { forEachBounded } from './for-each-bounded.js';
import { LAYOUT_VERSION, type LayoutMeta, ZkLayout, digestId, isValidChroot, isValidShardCount, parseMeta } from './layout.js';
import { MemberNode } from './member-node.js';
import { createProtected } from './protected-create.js';
import { CreateBatcher, LostTransactionError, MAX_TRANSACTION_WEIGHT, createWeight } from './create-batcher.js';
import { ReaperLatch } from './reaper-latch.js';
import { type RebuildStats, TreeWatcher, type TreeWatcherHost } from './tree-watcher.js';
import { CreateMode, ZK_PERM_ALL, ZkClient, type ZkAcl, type ZkOp } from './zk-client.js';
import { ZkCode, ZkError, isZkError } from './zk-error.js';
import { ZkMultiError } from './zk-multi-error.js';
import { ZooKeeperStoreError } from './zookeeper-store-error.js';

export type { RebuildStats } from './tree-watcher.js';

export interface ZooKeeperAuth {
  scheme: 'digest';
  user: string;
  password: string;
}

export interface ZooKeeperStoreOptions {
  /** `host:port` of every server of the ensemble; loopback or real hosts. */
  servers: string[];
  /** `''` or an absolute path such as `/pano`; created when missing. */
  chroot: string;
  sessionTimeoutMs: number;
  /** When set, the tree is readable and writable by this digest identity alone. */
  auth?: ZooKeeperAuth;
  /** Shard count for a NEW tree; afterwards `/meta` wins. A power of two. */
  shards: number;
  logger: Logger;
  clock?: Clock;
  /**
   * How long `start()` waits for the first connection.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * A request unanswered for this long fails with {@link StoreUnavailableError}.
   * @default sessionTimeoutMs / 2, between 1 s and 10 s
   */
  operationTimeoutMs?: number;
  /**
   * Reads in flight during a rebuild or a listing.
   * @default 256
   */
  readConcurrency?: number;
  /**
   * Upper bound of the random delay before a resync after a reconnect, so that sidecars do not all
   * re-read the ensemble at once.
   * @default min(2000, sessionTimeoutMs / 4)
   */
  maxResyncJitterMs?: number;
  /**
   * How a watching store hears of records (see {@link TreeWatcher}): `persistent` (one persistent recursive
   * watch; ZooKeeper 3.6+ and the patched binding, else it falls back by itself) or `one-shot` (a child watch per
   * shard, re-listed on every change; kept for comparison and for older servers).
   * @default 'persistent'
   */
  recordWatch?: 'persistent' | 'one-shot';
  /**
   * Record creates per ZooKeeper transaction (multi), at most: the creates of one event-loop turn, and those that
   * wait while {@link createsInFlight} transactions are unanswered, leave as one (see {@link CreateBatcher}). 1: one
   * plain create per record. Needs the patched binding (else every create goes alone).
   * @default 128
   */
  createBatch?: number;
  /**
   * Create transactions unanswered at once before new creates wait for the next one.
   * @default 2
   */
  createsInFlight?: number;
  /**
   * Set by a sidecar (its journal's id): every record-create transaction also creates a receipt named
   * `<prefix>.<run>.<random>` under `/replays` and deletes those of earlier answered ones, so that a create whose
   * answer is lost can be settled before its journaled copy is replayed (see ReplayReceipts). Unset (the CLI, a
   * migration): no receipts.
   */
  receiptPrefix?: string;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_READ_CONCURRENCY = 256;
/** Creates in flight while laying out thousands of shard nodes. */
const CREATE_CONCURRENCY = 1_000;
/** Shard listings fetched ahead while paging through `list()`. */
const LIST_PREFETCH = 16;
/** How long `close()` waits for its best-effort deletes. */
const CLOSE_GRACE_MS = 1_000;
const SET_MARKER_ATTEMPTS = 10;
/** `cluster.store.zookeeper.write.batch`'s default (sidecar/config/options.ts). */
export const DEFAULT_CREATE_BATCH = 128;

/** What a replay receipt holds: made by the replay's transaction, or by a settle that found it missing. */
const RECEIPT_APPLIED = 'applied';
const RECEIPT_FENCE = 'fence';
export const DEFAULT_CREATES_IN_FLIGHT = 2;

type Lifecycle = 'latent' | 'started' | 'closed';

const noop = (): void => undefined;

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
export class ZooKeeperStore extends EventEmitter<StoreEvents> implements TokenStore {
  readonly type = 'ZOOKEEPER' as const;

  private readonly options: ZooKeeperStoreOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly layout: ZkLayout;
  private readonly connectString: string;
  private readonly location: string;
  private readonly acl: ZkAcl[] | undefined;
  private readonly operationTimeoutMs: number;
  private readonly readConcurrency: number;
  private readonly maxJitterMs: number;
  private readonly csm: ConnectionStateManager;

  private lifecycle: Lifecycle = 'latent';
  private closing: Promise<void> | null = null;
  private client: ZkClient | null = null;
  private authResult: Promise<void> | null = null;

  /** Set while started with `{ watch: true }`. */
  private watcher: TreeWatcher | null = null;
  private readonly member: MemberNode;
  private readonly latch: ReaperLatch;
  private readonly batcher: CreateBatcher;
  private reaperCheck: Promise<boolean> | null = null;
  /** Part of this store's receipt names (see newReceiptName). */
  private readonly runId = randomBytes(6).toString('base64url');

  constructor(options: ZooKeeperStoreOptions) {
    super();
    if (!Array.isArray(options.servers) || options.servers.length === 0) {
      throw new TypeError('ZooKeeperStore: servers must list at least one host:port');
    }
    for (const server of options.servers) {
      if (!/^[^\s,/@]+:\d{1,5}$/.test(server)) {
        throw new TypeError(`ZooKeeperStore: '${server}' is not host:port (cluster.store.zookeeper.connect)`);
      }
    }
    if (!isValidChroot(options.chroot)) {
      throw new TypeError(`ZooKeeperStore: chroot '${options.chroot}' must be '' or an absolute path like /pano`);
    }
    if (!(options.sessionTimeoutMs > 0)) throw new TypeError('ZooKeeperStore: sessionTimeoutMs must be > 0');
    if (!isValidShardCount(options.shards)) {
      throw new TypeError(`ZooKeeperStore: shards ${options.shards} must be a power of two up to 65536`);
    }
    if (options.auth && (options.auth.scheme !== 'digest' || !options.auth.user || options.auth.password === undefined)) {
      throw new TypeError('ZooKeeperStore: auth must be { scheme: "digest", user, password }');
    }
    this.options = options;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.layout = new ZkLayout(options.chroot, options.shards);
    this.connectString = options.servers.join(',');
    this.location = this.connectString + options.chroot;
    this.acl = options.auth
      ? [{ perms: ZK_PERM_ALL, scheme: 'digest', auth: digestId(options.auth.user, options.auth.password) }]
      : undefined;
    this.operationTimeoutMs =
      options.operationTimeoutMs ?? Math.min(10_000, Math.max(1_000, Math.floor(options.sessionTimeoutMs / 2)));
    this.readConcurrency = options.readConcurrency ?? DEFAULT_READ_CONCURRENCY;
    this.maxJitterMs = options.maxResyncJitterMs ?? Math.min(2_000, Math.floor(options.sessionTimeoutMs / 4));
    this.csm = new ConnectionStateManager({
      logger: this.logger,
      clock: this.clock,
      sessionTimeoutMs: options.sessionTimeoutMs,
    });
    this.csm.on('state', (next, previous) => this.onState(next, previous));
    this.member = new MemberNode(this.layout, this.acl, this.logger);
    this.latch = new ReaperLatch(this.layout, this.acl, this.logger);
    this.batcher = new CreateBatcher({
      maxOps: options.createBatch ?? DEFAULT_CREATE_BATCH,
      maxInFlight: options.createsInFlight ?? DEFAULT_CREATES_IN_FLIGHT,
      // the session current when the transaction leaves (a create asked for in an older one still goes)
      multi: async (ops) => {
        const acl = this.acl;
        return this.requireClient().multi(acl ? ops.map((op) => (op.op === 'create' ? { ...op, acl } : op)) : ops);
      },
      single: async (path, data) => this.createRecordNode(this.requireClient(), path, data),
      unavailable: (error) => (error instanceof ZkError && error.isUnavailable) || error instanceof StoreUnavailableError,
      receipts: options.receiptPrefix
        ? {
            make: () => {
              if (!this.requireClient().canMulti) return undefined;
              const name = this.newReceiptName();
              return { name, op: { op: 'create', path: this.layout.receiptPath(name), data: RECEIPT_APPLIED } };
            },
            drop: (name) => ({ op: 'delete', path: this.layout.receiptPath(name), version: -1 }),
            dropLater: (names) => {
              this.removeReceipts(names).catch((error: unknown) => this.logger.warn(`could not delete ${names.length} receipts: ${(error as Error).message}`));
            },
          }
        : undefined,
    });
    if (options.receiptPrefix !== undefined && !/^[A-Za-z0-9_-]{1,24}$/.test(options.receiptPrefix)) {
      throw new TypeError(`ZooKeeperStore: receiptPrefix '${options.receiptPrefix}' must be 1 to 24 base64url characters`);
    }
  }

  /** Record creates sent in transactions so far, and the transactions that carried them. */
  get createBatches(): CreateBatchCounts {
    return { transactions: this.batcher.transactions, creates: this.batcher.batchedCreates, refused: this.batcher.fallbacks };
  }

  get shards(): number {
    return this.layout.shards;
  }

  /** Replay receipts under `/replays`; needs the binding's multi patch ({@link ReplayReceipts.available}). */
  readonly receipts: ReplayReceipts = ((store: ZooKeeperStore): ReplayReceipts => ({
    get available() {
      return store.client?.canMulti ?? false;
    },
    maxWeight: MAX_TRANSACTION_WEIGHT,
    weight: (record) => createWeight(this.layout.recordPath(record), JSON.stringify(record)),
    newName: () => store.newReceiptName(),
    createWithReceipt: (records, receipt, stale) => this.createWithReceipt(records, receipt, stale),
    cleanup: (keep) => this.cleanupReceipts(keep),
    settle: (receipt) => this.settleReceipt(receipt),
    remove: (receipts) => this.removeReceipts(receipts),
  }))(this);

  get state(): ConnectionState {
    return this.csm.state;
  }

  /** Current session id (hex), `'0'` when there is none. */
  get sessionId(): string {
    return this.client?.sessionId ?? '0';
  }

  get lastRebuild(): RebuildStats | null {
    return this.watcher?.lastRebuild ?? null;
  }

  // ---------------------------------------------------------------- lifecycle

  async start(options: { watch?: boolean } = {}): Promise<void> {
    if (this.lifecycle !== 'latent') {
      throw new Error(`ZooKeeperStore.start() called on a ${this.lifecycle === 'started' ? 'started' : 'closed'} store`);
    }
    this.lifecycle = 'started';
    try {
      await this.openFirstSession();
      await this.ensureLayout();
    } catch (error) {
      await this.close();
      throw this.mapError(error);
    }
    if (this.lifecycle !== 'started') throw new StoreUnavailableError('the ZooKeeper store was closed while starting');
    if (options.watch) {
      const watcher = new TreeWatcher(this.watcherHost());
      this.watcher = watcher;
      // after start() resolves, so that the caller can build its Mirror with the shard count from /meta
      setImmediate(() => watcher.requestRebuild(0, 'initial'));
    }
  }

  async inspectLayout(): Promise<LayoutProbe> {
    if (this.lifecycle !== 'latent') throw new Error('ZooKeeperStore.inspectLayout() is for a store that was not started');
    this.lifecycle = 'started';
    try {
      await this.openFirstSession();
      const client = this.requireClient();
      const wouldCreate: string[] = [];
      for (const path of [...this.layout.chrootPaths(), ...this.layout.parents()]) {
        if (!(await client.exists(path))) wouldCreate.push(path);
      }
      const meta = await this.readMeta(client);
      const shards = meta?.shards ?? this.options.shards;
      if (!meta) wouldCreate.push(`${this.layout.meta} (layout ${LAYOUT_VERSION}, ${shards} shards)`);
      this.layout.setShards(shards);
      const present = wouldCreate.includes(this.layout.tokens) ? new Set<string>() : new Set(await client.getChildren(this.layout.tokens));
      let missingShards = 0;
      for (let shard = 0; shard < shards; shard++) if (!present.has(this.layout.shardName(shard))) missingShards++;
      if (missingShards > 0) wouldCreate.push(`${missingShards} shard nodes under ${this.layout.tokens}`);
      return { ...this.describe(), exists: meta !== undefined, wouldCreate, missingShards };
    } catch (error) {
      await this.close();
      throw this.mapError(error);
    }
  }

  /** How records are watched once the first rebuild ran (`undefined` without `start({ watch: true })`). */
  get recordWatchMode(): 'persistent' | 'one-shot' | undefined {
    return this.watcher?.watchMode;
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
    this.lifecycle = 'closed';
    this.watcher?.stop();
    this.watcher = null;
    const client = this.client;
    if (client?.isConnected) {
      // the session's close would remove them too; deleting first makes a successor see it at once
      const receipts = this.batcher.receiptsToDrop.length > 0 ? this.removeReceipts([...this.batcher.receiptsToDrop]) : undefined;
      const deletions = [this.member.release(client), this.latch.release(client), receipts].filter((d) => d !== undefined);
      if (deletions.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled(deletions),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS))),
        ]);
        clearTimeout(timer);
      }
    }
    if (client) {
      client.removeAllListeners();
      client.close();
    }
    this.client = null;
    this.csm.close();
    this.csm.removeAllListeners();
  }

  describe(): StoreDescription {
    return { type: 'ZOOKEEPER', location: this.location, shards: this.shards, layoutVersion: LAYOUT_VERSION };
  }

  // ---------------------------------------------------------------- sessions

  private newClient(): ZkClient {
    const client = new ZkClient({
      connect: this.connectString,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      operationTimeoutMs: this.operationTimeoutMs,
      logger: this.logger,
    });
    this.client = client;
    client.on('connected', () => {
      if (client !== this.client) return;
      this.csm.setSessionTimeout(client.negotiatedTimeoutMs);
      this.logger.debug(`ZooKeeper session 0x${client.sessionId} connected (timeout ${client.negotiatedTimeoutMs} ms)`);
      this.csm.onConnected();
    });
    client.on('disconnected', () => {
      if (client === this.client) this.csm.onDisconnected();
    });
    client.on('closed', (code) => {
      if (client !== this.client || this.lifecycle !== 'started') return;
      if (code === ZkCode.SESSIONEXPIRED) this.logger.warn(`ZooKeeper session 0x${client.sessionId} expired`);
      else if (code === -113) {
        this.reportError(
          new ZooKeeperStoreError('ZooKeeper rejected the credentials of cluster.store.zookeeper.auth', 'store.zookeeper.auth'),
          'authentication',
        );
      } else this.logger.warn(`ZooKeeper session closed by the client library (code ${code})`);
      this.csm.onSessionLost();
    });
    client.on('watch', (type, path) => {
      if (client === this.client) this.watcher?.onWatch(type, path);
    });
    client.connect();
    // after init (the handle exists), before the connection: the C client sends it ahead of any request
    const auth = this.options.auth;
    this.authResult = auth ? client.addAuth('digest', `${auth.user}:${auth.password}`) : null;
    this.authResult?.catch((error: unknown) => {
      if (client === this.client && !client.isClosed) {
        this.reportError(
          new ZooKeeperStoreError(
            `ZooKeeper did not accept the digest credentials of cluster.store.zookeeper.auth (${(error as Error).message})`,
            'store.zookeeper.auth',
          ),
          'authentication',
        );
      }
    });
    return client;
  }

  private async openFirstSession(): Promise<void> {
    const timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const deadline = performance.now() + timeoutMs;
    const client = this.newClient();
    const cleanups: Array<() => void> = [];
    const failure = () =>
      new StoreUnavailableError(
        `no ZooKeeper server of ${this.connectString} answered within ${timeoutMs} ms (cluster.store.zookeeper.connect)`,
      );
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(failure()), timeoutMs);
        cleanups.push(() => clearTimeout(timer));
        const onState = (next: ConnectionState) => {
          if (isConnected(next)) resolve();
        };
        this.csm.on('state', onState);
        cleanups.push(() => this.csm.off('state', onState));
        const onClosed = (code: number) =>
          reject(
            code === -113
              ? new ZooKeeperStoreError('ZooKeeper rejected the credentials of cluster.store.zookeeper.auth', 'store.zookeeper.auth')
              : this.unavailable(`the session closed while connecting (code ${code})`),
          );
        client.once('closed', onClosed);
        cleanups.push(() => client.off('closed', onClosed));
      });
      if (this.authResult) {
        const remaining = Math.max(1, deadline - performance.now());
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(failure()), remaining);
          cleanups.push(() => clearTimeout(timer));
          this.authResult!.then(resolve, (error: unknown) =>
            reject(
              new ZooKeeperStoreError(
                `ZooKeeper did not accept the digest credentials of cluster.store.zookeeper.auth (${(error as Error).message})`,
                'store.zookeeper.auth',
                { cause: error },
              ),
            ),
          );
        });
      }
      this.logger.info(
        `connected to ZooKeeper ${this.location} (session 0x${client.sessionId}, timeout ${client.negotiatedTimeoutMs} ms${this.acl ? ', digest auth' : ''})`,
      );
    } finally {
      for (const cleanup of cleanups) cleanup();
    }
  }

  private onState(next: ConnectionState, previous: ConnectionState): void {
    this.emitSafe('state', next, previous);
    if (this.lifecycle !== 'started') return;
    try {
      if (next === 'lost') this.replaceSession();
      else if (next === 'reconnected') this.afterReconnect(previous === 'lost');
    } catch (error) {
      this.reportError(error, `handling ${previous} -> ${next}`);
    }
  }

  /** The session is gone: a new handle, a new session; `reconnected` follows once a server answers. */
  private replaceSession(): void {
    const old = this.client;
    if (old) {
      old.removeAllListeners();
      old.close();
    }
    this.reaperCheck = null;
    this.newClient();
    this.logger.info(`opening a new ZooKeeper session to ${this.connectString}`);
  }

  private afterReconnect(newSession: boolean): void {
    const client = this.client;
    if (!client) return;
    if (newSession) {
      this.logger.info(`new ZooKeeper session 0x${client.sessionId}: re-arming watches and membership`);
      this.member.restore(client).catch((error: unknown) => {
        const mapped = this.mapError(error);
        if (mapped instanceof StoreUnavailableError) this.logger.debug(`re-creating the member node: ${mapped.message}`);
        else this.reportError(mapped, 're-creating the member node');
      });
      // the reaper latch is re-joined by the next isReaper(): its session differs now
    }
    // one-shot watches survive a reconnect with the same session (the C client sets them again), the persistent
    // one does not: set it again now; then a resync catches up on what changed meanwhile, jittered so that a
    // cluster of sidecars coming back together does not read the ensemble all at once
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
      client: () => this.requireClient(),
      connected: () => this.lifecycle === 'started' && isConnected(this.csm.state),
      emit: (event, ...args) => this.emitSafe(event, ...args),
      report: (error, context) => this.reportError(error, context),
      mapError: (error) => this.mapError(error),
    };
  }

  // ---------------------------------------------------------------- layout

  private async ensureLayout(): Promise<void> {
    const client = this.requireClient();
    const started = performance.now();
    const chrootPaths = this.layout.chrootPaths();
    for (const [i, path] of chrootPaths.entries()) {
      // ancestors of the chroot are not ours to protect; the chroot itself is
      await this.ensureNode(client, path, i === chrootPaths.length - 1);
    }
    await Promise.all(this.layout.parents().map((path) => this.ensureNode(client, path, true)));

    let meta = await this.readMeta(client);
    if (!meta) {
      const fresh: LayoutMeta = { layoutVersion: LAYOUT_VERSION, shards: this.options.shards };
      try {
        await createProtected(client, this.acl, this.layout.meta, JSON.stringify(fresh), CreateMode.PERSISTENT);
        meta = fresh;
        this.logger.info(`created ${this.layout.meta}: layout ${fresh.layoutVersion}, ${fresh.shards} shards`);
      } catch (error) {
        if (!isZkError(error, ZkCode.NODEEXISTS)) throw error;
        meta = await this.readMeta(client); // a racing sidecar created it first: its count wins
      }
      if (!meta) throw new ZooKeeperStoreError(`${this.layout.meta} vanished while starting`, 'store.zookeeper.layout');
    }
    if (meta.shards !== this.options.shards) {
      this.logger.info(
        `${this.layout.meta} says ${meta.shards} shards; the configured ${this.options.shards} applies to a new tree only`,
      );
    }
    this.layout.setShards(meta.shards);

    const existing = new Set(await client.getChildren(this.layout.tokens));
    const missing: number[] = [];
    const present: string[] = [];
    for (let shard = 0; shard < meta.shards; shard++) {
      if (existing.has(this.layout.shardName(shard))) present.push(this.layout.shardPath(shard));
      else missing.push(shard);
    }
    if (missing.length > 0) {
      await forEachBounded(missing, CREATE_CONCURRENCY, async (shard) => {
        await this.ensureNode(client, this.layout.shardPath(shard), true);
      });
      this.logger.info(`created ${missing.length} shard nodes under ${this.layout.tokens} in ${Math.round(performance.now() - started)} ms`);
    }
    if (this.acl) {
      // nodes created without our ACL (before auth was configured, or by a sidecar that stopped between its
      // create and its set_acl) still have ACL version 0; get_acl cannot be used to tell (it crashes the binding).
      // Layout nodes are therefore always protected by create + set_acl (version 1), never by an ACL in the create
      // itself as records are (which leaves version 0): records are not in this list.
      await this.repairAcls(client, [...chrootPaths.slice(-1), ...this.layout.parents(), this.layout.meta, ...present]);
    }
  }

  private async readMeta(client: ZkClient): Promise<LayoutMeta | undefined> {
    try {
      const { data } = await client.get(this.layout.meta);
      return parseMeta(data, this.layout.meta);
    } catch (error) {
      if (isZkError(error, ZkCode.NONODE)) return undefined;
      if (error instanceof ZkError) throw error;
      throw new ZooKeeperStoreError((error as Error).message, 'store.zookeeper.layout', { cause: error });
    }
  }

  /** Creates a persistent node unless it exists; `true` when this call created it. */
  private async ensureNode(client: ZkClient, path: string, protect: boolean): Promise<boolean> {
    try {
      if (protect) await createProtected(client, this.acl, path, '', CreateMode.PERSISTENT);
      else await client.create(path, '', CreateMode.PERSISTENT);
      return true;
    } catch (error) {
      if (isZkError(error, ZkCode.NODEEXISTS)) return false;
      throw error;
    }
  }

  private async repairAcls(client: ZkClient, paths: string[]): Promise<void> {
    let repaired = 0;
    await forEachBounded(paths, this.readConcurrency, async (path) => {
      const stat = await client.exists(path);
      if (stat && stat.aversion === 0) {
        await client.setAcl(path, -1, this.acl!);
        repaired++;
      }
    });
    if (repaired > 0) this.logger.warn(`set the digest ACL on ${repaired} existing nodes that were open to anyone`);
  }

  // ---------------------------------------------------------------- records

  async create(record: TokenRecord): Promise<boolean> {
    if (!isValidJti(record.jti)) throw new BadRequestError(`jti '${String(record.jti)}' is not a valid token id`);
    if (!isValidSubject(record.subject)) throw new BadRequestError('subject is empty, too long or has control characters');
    return this.run(async (client) => {
      const shard = this.layout.shardOf(record.jti);
      const seq = this.watcher?.nextSeq() ?? 0;
      const path = this.layout.recordPath(record);
      const data = JSON.stringify(record);
      let created: boolean;
      try {
        created = client.canMulti ? await this.batcher.create(path, data) : await this.createRecordNode(client, path, data);
      } catch (error) {
        if (!(error instanceof LostTransactionError)) throw error;
        const mapped = this.mapError(error.error);
        if (mapped instanceof StoreUnavailableError) mapped.receipt = error.receipt;
        throw mapped;
      }
      if (created) this.watcher?.noteWrite(shard, seq);
      return created;
    });
  }

  /**
   * One record create: `true` created, `false` the name is taken. With auth and the multi patch the record carries
   * the digest ACL from its creation; an unpatched binding creates it open (one request still, no `set_acl`).
   */
  private async createRecordNode(client: ZkClient, path: string, data: string): Promise<boolean> {
    try {
      if (this.acl && client.canMulti) await client.multi([{ op: 'create', path, data, acl: this.acl }]);
      else await client.create(path, data, CreateMode.PERSISTENT);
      return true;
    } catch (error) {
      if (isZkError(error, ZkCode.NODEEXISTS)) return false;
      throw error;
    }
  }

  // ------------------------------------------------------- replay receipts (ReplayReceipts in token-store.ts)

  /** A receipt name: `<prefix>.<run>.<random>` (the run tells this process's receipts from a predecessor's). */
  private newReceiptName(): string {
    const random = randomBytes(12).toString('base64url');
    return this.options.receiptPrefix ? `${this.options.receiptPrefix}.${this.runId}.${random}` : random;
  }

  /**
   * Deletes the receipts earlier runs of this prefix left (a crash between a transaction's answer and the
   * delete of its receipt) except those in `keep`; never this run's own (a transaction may be on the wire).
   */
  private async cleanupReceipts(keep: ReadonlySet<string>): Promise<number> {
    const prefix = this.options.receiptPrefix;
    if (!prefix) return 0;
    const names = await this.run((client) => client.getChildren(this.layout.replays));
    const own = `${prefix}.${this.runId}.`;
    const left = names.filter((n) => n.startsWith(`${prefix}.`) && !n.startsWith(own) && !keep.has(n));
    if (left.length > 0) await this.removeReceipts(left);
    return left.length;
  }

  /**
   * One transaction: delete the stale receipts, create the receipt (data `applied`), create the records, all with
   * the ACL when auth is set. A refusal names one op and applies nothing: a stale receipt already gone or a record
   * already there is left out and the rest sent again; any other refusal throws.
   */
  private async createWithReceipt(records: readonly TokenRecord[], receipt: string, stale: readonly string[]): Promise<boolean[]> {
    for (const record of records) {
      if (!isValidJti(record.jti) || !isValidSubject(record.subject)) throw new BadRequestError(`record ${String(record.jti)} is not valid`);
    }
    let recordsLeft = records.map((record, i) => ({ i, path: this.layout.recordPath(record), data: JSON.stringify(record) }));
    const weight = recordsLeft.reduce((sum, r) => sum + createWeight(r.path, r.data), 0);
    // a request over jute.maxbuffer closes the connection: it would look lost, and be sent again, for ever
    if (records.length > 1 && weight > MAX_TRANSACTION_WEIGHT) {
      throw new RangeError(`${records.length} records weigh ${weight}, over the transaction limit ${MAX_TRANSACTION_WEIGHT}`);
    }
    return this.run(async (client) => {
      const acl = this.acl ? { acl: this.acl } : {};
      const created = records.map(() => true);
      let staleLeft = stale.map((r) => this.layout.receiptPath(r));
      const receiptPath = this.layout.receiptPath(receipt);
      const seq = this.watcher?.nextSeq() ?? 0;
      for (;;) {
        const ops: ZkOp[] = [
          ...staleLeft.map((path) => ({ op: 'delete' as const, path, version: -1 })),
          { op: 'create', path: receiptPath, data: RECEIPT_APPLIED, ...acl },
          ...recordsLeft.map(({ path, data }) => ({ op: 'create' as const, path, data, ...acl })),
        ];
        try {
          await client.multi(ops);
          break;
        } catch (error) {
          if (!(error instanceof ZkMultiError)) throw error;
          const at = error.failedIndex;
          if (at < staleLeft.length && error.rc === ZkCode.NONODE) {
            staleLeft = staleLeft.filter((_, j) => j !== at);
          } else if (at > staleLeft.length && error.rc === ZkCode.NODEEXISTS) {
            const taken = recordsLeft[at - staleLeft.length - 1]!;
            created[taken.i] = false;
            recordsLeft = recordsLeft.filter((r) => r !== taken);
          } else {
            throw error;
          }
        }
      }
      for (const { i } of recordsLeft) this.watcher?.noteWrite(this.layout.shardOf(records[i]!.jti), seq);
      return created;
    });
  }

  /**
   * Creates the receipt as a fence (data `fence`) unless it exists. Found holding `applied`: the replay's
   * transaction made it. Found holding `fence`: an earlier settle made it, whose answer was lost.
   */
  private async settleReceipt(receipt: string): Promise<boolean> {
    const path = this.layout.receiptPath(receipt);
    return this.run(async (client) => {
      try {
        if (this.acl && client.canMulti) await client.multi([{ op: 'create', path, data: RECEIPT_FENCE, acl: this.acl }]);
        else await createProtected(client, this.acl, path, RECEIPT_FENCE, CreateMode.PERSISTENT);
        return false;
      } catch (error) {
        if (!isZkError(error, ZkCode.NODEEXISTS)) throw error;
      }
      const { data } = await client.get(path);
      return data.toString() === RECEIPT_APPLIED;
    });
  }

  private async removeReceipts(receipts: readonly string[]): Promise<void> {
    const paths = receipts.map((r) => this.layout.receiptPath(r));
    return this.run(async (client) => {
      await Promise.all(
        paths.map((path) =>
          client.delete(path, -1).catch((error: unknown) => {
            if (!isZkError(error, ZkCode.NONODE)) throw error;
          }),
        ),
      );
    });
  }

  async delete(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    return this.deleteRecord(ref, -1);
  }

  /** One delete with version 0: records are never modified, and exactly one racer's delete can succeed. */
  async consume(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    return this.deleteRecord(ref, 0);
  }

  private deleteRecord(ref: RecordRef, version: number): Promise<boolean> {
    return this.run(async (client) => {
      const shard = this.layout.shardOf(ref.jti);
      const path = this.layout.recordPath(ref);
      const seq = this.watcher?.nextSeq() ?? 0;
      try {
        await client.delete(path, version);
        this.watcher?.noteWrite(shard, seq);
        return true;
      } catch (error) {
        if (isZkError(error, ZkCode.NONODE)) return false;
        if (isZkError(error, ZkCode.BADVERSION)) {
          this.logger.warn(`${path} was modified after it was created (records are immutable); not consuming it`);
          return false;
        }
        throw error;
      }
    });
  }

  /**
   * Asked when a validly signed token is not in the mirror, typically because it was issued on another node
   * a moment ago: a `sync` goes first (pipelined, no extra round trip to wait for) so that a follower that
   * has not applied that create yet cannot answer "no".
   */
  async exists(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    return this.run(async (client) => {
      const shardPath = this.layout.shardPath(this.layout.shardOf(ref.jti));
      const path = this.layout.recordPath(ref);
      const [, stat] = await Promise.all([client.sync(shardPath), client.exists(path)]);
      if (stat !== null) return true;
      // a "no" must hold every create already acknowledged: ask again behind a write
      const [, again] = await Promise.all([this.barrier(client, shardPath), client.exists(path)]);
      return again !== null;
    });
  }

  /**
   * Makes the reads sent right behind it on this session see every write committed before it. A `sync` does that on
   * a follower, but the leader answers a sync at once, and may serve the read behind it before its own commit thread
   * applied a transaction whose answer a follower already sent (one revocation in about 20,000 right after an
   * issue on another node found nothing: concurrency-logout.test.ts). A write cannot be answered before every
   * earlier transaction is applied on the server that answers it, and the session's next read waits for it; so,
   * with the multi patch, the barrier is a transaction of one version check (`-1`: any version) of `path`, which
   * changes nothing but costs a transaction. Only asked after a plain read missed.
   */
  private barrier(client: ZkClient, path: string): Promise<void> {
    return client.canMulti ? client.multi([{ op: 'check', path, version: -1 }]) : client.sync(path);
  }

  async read(ref: RecordRef): Promise<TokenRecord | undefined> {
    if (!isValidRef(ref)) return undefined;
    return this.run(async (client) => {
      const path = this.layout.recordPath(ref);
      try {
        const [, { data }] = await Promise.all([client.sync(this.layout.shardPath(this.layout.shardOf(ref.jti))), client.get(path)]);
        return this.parseRecordAt(path, data);
      } catch (error) {
        if (isZkError(error, ZkCode.NONODE)) return undefined;
        throw error;
      }
    });
  }

  // ------------------------------------------------ bulk read for `store migrate` (sidecar/store/migrate.ts)

  /**
   * Records the caller has just listed with `listShard`, one pipelined `get` each and no `sync`: the
   * listing's sync went first on this session, and a session never reads older state than it has seen, so
   * each get sees at least what the listing saw. As `read` for each: `undefined` once deleted; a node that is
   * not a record fails the whole call (the migration then reads those records one by one).
   */
  async readMany(refs: readonly RecordRef[]): Promise<Array<TokenRecord | undefined>> {
    return this.run((client) =>
      Promise.all(
        refs.map(async (ref) => {
          if (!isValidRef(ref)) return undefined;
          const path = this.layout.recordPath(ref);
          try {
            return this.parseRecordAt(path, (await client.get(path)).data);
          } catch (error) {
            if (isZkError(error, ZkCode.NONODE)) return undefined;
            throw error;
          }
        }),
      ),
    );
  }

  // ------------------------------------------------ end of the bulk read for `store migrate`

  private parseRecordAt(path: string, data: Buffer): TokenRecord {
    try {
      return parseRecord(data);
    } catch (error) {
      throw new ZooKeeperStoreError(`${path} does not hold a token record`, 'store.zookeeper.corrupt', { cause: error });
    }
  }

  // ---------------------------------------------------------------- markers

  async raiseMarker(subject: string, floor = 0): Promise<number> {
    if (!isGen(floor)) throw new BadRequestError(`floor ${floor} is not a logout generation`);
    return this.ensureMarker(subject, (stored) => Math.max(stored + 1, floor));
  }

  async copyMarker(subject: string, gen: number): Promise<number> {
    if (!isGen(gen)) throw new BadRequestError(`${gen} is not a logout generation`);
    return this.ensureMarker(subject, () => gen);
  }

  /**
   * One conditional write: `create` when absent, else a `set` with the version read (CAS). `required` is taken
   * from the first read; a lost race re-reads, and a generation already at `required` is done (it was written
   * after this call began, see TokenStore.raiseMarker).
   */
  private async ensureMarker(subject: string, requiredFrom: (stored: number) => number): Promise<number> {
    if (!isValidSubject(subject)) throw new BadRequestError('subject is empty, too long or has control characters');
    const path = this.layout.markerPath(subject);
    return this.run(async (client) => {
      let required: number | undefined;
      for (let attempt = 0; attempt < SET_MARKER_ATTEMPTS; attempt++) {
        let current: { stat: { version: number }; data: Buffer } | undefined;
        try {
          current = await client.get(path);
        } catch (error) {
          if (!isZkError(error, ZkCode.NONODE)) throw error;
        }
        const stored = current ? (parseMarkerData(current.data)?.gen ?? 0) : 0;
        required ??= requiredFrom(stored);
        if (stored >= required) return stored;
        const data = markerData(subject, required, Date.now());
        try {
          if (current) await client.set(path, data, current.stat.version);
          else await createProtected(client, this.acl, path, data, CreateMode.PERSISTENT);
          return required;
        } catch (error) {
          if (!isZkError(error, ZkCode.BADVERSION) && !isZkError(error, ZkCode.NODEEXISTS) && !isZkError(error, ZkCode.NONODE)) throw error;
        }
      }
      throw new ZooKeeperStoreError(`${path} kept changing; gave up after ${SET_MARKER_ATTEMPTS} attempts`);
    });
  }

  async listMarkers(): Promise<Map<string, LogoutMarker>> {
    return this.run(async (client) => {
      const names = await client.getChildren(this.layout.subjects);
      const markers = new Map<string, LogoutMarker>();
      await forEachBounded(names, this.readConcurrency, async (encoded) => {
        const subject = decodeSubject(encoded);
        if (subject === undefined) return;
        try {
          const { data } = await client.get(`${this.layout.subjects}/${encoded}`);
          const marker = parseMarkerData(data);
          if (marker) markers.set(subject, marker);
        } catch (error) {
          if (!isZkError(error, ZkCode.NONODE)) throw error;
        }
      });
      return markers;
    });
  }

  // ---------------------------------------------------------------- listings

  /**
   * A `sync` goes first (pipelined), as for {@link exists}: revoking a token issued on another node a moment
   * ago looks its subject up here, and a follower that had not applied the create yet answered without it,
   * so the revocation was a 404 that revoked nothing.
   */
  async listShard(shard: number, options: { fresh?: boolean } = {}): Promise<string[]> {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.shards) {
      throw new BadRequestError(`shard ${shard} is not in 0..${this.shards - 1}`);
    }
    return this.run(async (client) => {
      const path = this.layout.shardPath(shard);
      const [, names] = await Promise.all([options.fresh ? this.barrier(client, path) : client.sync(path), client.getChildren(path)]);
      return names;
    });
  }

  /**
   * Shard by shard from the cursor, names sorted within a shard; subject and (for our jtis) kind are
   * filtered from the names, and only records that pass are read, pipelined. At most
   * {@link LIST_PREFETCH} shard listings are held at once.
   */
  async list(query: ListQuery): Promise<ListPage> {
    const limit = query.limit;
    if (!Number.isInteger(limit) || limit < 1) throw new BadRequestError(`limit ${limit} must be a positive integer`);
    const { shard: first, after } = this.parseCursor(query.cursor);
    return this.run(async (client) => {
      const shards = this.shards;
      const items: TokenRecord[] = [];
      const listings = new Map<number, Promise<string[]>>();
      const listing = (shard: number): Promise<string[]> => {
        let names = listings.get(shard);
        if (!names) {
          names = client.getChildren(this.layout.shardPath(shard));
          names.catch(noop); // consumed below, or abandoned when the page is full
          listings.set(shard, names);
        }
        return names;
      };
      for (let shard = first; shard < shards; shard++) {
        for (let ahead = shard; ahead < Math.min(shards, shard + LIST_PREFETCH); ahead++) listing(ahead);
        const names = (await listing(shard)).sort();
        listings.delete(shard);
        const candidates: Array<{ name: string; path: string }> = [];
        for (const name of names) {
          if (shard === first && after !== undefined && name <= after) continue;
          const ref = parseRecordName(name);
          if (!ref) continue;
          if (query.subject !== undefined && ref.subject !== query.subject) continue;
          const kind = kindOfJti(ref.jti);
          if (query.kind !== undefined && kind !== undefined && kind !== query.kind) continue;
          candidates.push({ name, path: `${this.layout.shardPath(shard)}/${name}` });
        }
        for (let next = 0; next < candidates.length; ) {
          const chunk = candidates.slice(next, next + (limit - items.length));
          next += chunk.length;
          const records: Array<TokenRecord | undefined> = new Array(chunk.length);
          await forEachBounded(chunk.keys(), this.readConcurrency, async (i) => {
            records[i] = await this.readListed(client, chunk[i]!.path);
          });
          for (const [i, record] of records.entries()) {
            if (!record || (query.kind !== undefined && record.kind !== query.kind)) continue;
            items.push(record);
            if (items.length === limit) return { items, nextCursor: `${shard}:${chunk[i]!.name}` };
          }
        }
      }
      return { items, nextCursor: null };
    });
  }

  private async readListed(client: ZkClient, path: string): Promise<TokenRecord | undefined> {
    try {
      const { data } = await client.get(path);
      return parseRecord(data);
    } catch (error) {
      if (isZkError(error, ZkCode.NONODE)) return undefined; // deleted since the listing
      if (error instanceof ZkError) throw error;
      this.logger.warn(`skipping ${path}: not a token record`);
      return undefined;
    }
  }

  private parseCursor(cursor: string | undefined): { shard: number; after?: string } {
    if (cursor === undefined || cursor === '') return { shard: 0 };
    const colon = cursor.indexOf(':');
    const shard = colon > 0 ? Number(cursor.slice(0, colon)) : NaN;
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.shards) {
      throw new BadRequestError(`cursor '${cursor.slice(0, 80)}' was not issued by this store`, 'request.invalid');
    }
    return { shard, after: cursor.slice(colon + 1) };
  }

  // ---------------------------------------------------------------- membership and the reaper election

  async publishMember(info: MemberInfo): Promise<void> {
    await this.run((client) => this.member.publish(client, info));
  }

  async listMembers(): Promise<MemberInfo[]> {
    return this.run(async (client) => {
      const names = await client.getChildren(this.layout.members);
      const members: MemberInfo[] = [];
      await forEachBounded(names, this.readConcurrency, async (name) => {
        try {
          const { data } = await client.get(`${this.layout.members}/${name}`);
          members.push(JSON.parse(data.toString()) as MemberInfo);
        } catch (error) {
          if (isZkError(error, ZkCode.NONODE)) return; // its session just ended
          if (error instanceof ZkError) throw error;
          this.logger.warn(`ignoring ${this.layout.members}/${name}: not a member record`);
        }
      });
      return members.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    });
  }

  /** See {@link ReaperLatch}; concurrent calls share one check. */
  isReaper(): Promise<boolean> {
    this.reaperCheck ??= this.run((client) =>
      this.latch.check(client, JSON.stringify({ nodeId: this.member.nodeId ?? hostname(), pid: process.pid })),
    ).finally(() => {
      this.reaperCheck = null;
    });
    return this.reaperCheck;
  }

  // ---------------------------------------------------------------- plumbing

  /** The client of a connected session, or a fast {@link StoreUnavailableError}: callers journal, they do not wait. */
  private requireClient(): ZkClient {
    if (this.lifecycle === 'latent') throw new Error('ZooKeeperStore is not started');
    if (this.lifecycle === 'closed' && !this.client) throw new StoreUnavailableError('the ZooKeeper store is closed');
    const client = this.client;
    if (!client || !client.isConnected || !isConnected(this.csm.state)) {
      throw this.unavailable(`connection ${this.csm.state}`);
    }
    return client;
  }

  private async run<T>(fn: (client: ZkClient) => Promise<T>): Promise<T> {
    try {
      return await fn(this.requireClient());
    } catch (error) {
      throw this.mapError(error);
    }
  }

  private unavailable(detail: string, cause?: unknown): StoreUnavailableError {
    return new StoreUnavailableError(
      `ZooKeeper ${this.location} is unavailable (${detail}); check cluster.store.zookeeper.connect`,
      cause === undefined ? undefined : { cause },
    );
  }

  private mapError(error: unknown): Error {
    if (error instanceof TokensyncError) return error;
    if (error instanceof ZkError) {
      if (error.isUnavailable) return this.unavailable(error.message, error);
      if (error.rc === ZkCode.NOAUTH) {
        return new ZooKeeperStoreError(
          `ZooKeeper refused ${error.op} ${error.path} (NOAUTH): the tree is protected by another identity; check cluster.store.zookeeper.auth`,
          'store.zookeeper.noauth',
          { cause: error },
        );
      }
      return new ZooKeeperStoreError(`ZooKeeper ${error.message}`, 'store.zookeeper.failed', { cause: error });
    }
    return error instanceof Error ? error : new Error(String(error));
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

function isValidRef(ref: RecordRef): boolean {
  return isValidJti(ref.jti) && isValidSubject(ref.subject);
}
