import { performance } from 'node:perf_hooks';
import type { Logger } from '../../util/logger.js';
import type { Clock } from '../../util/clock.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import type { StoreEvents } from '../token-store.js';
import { CoalescedTask } from './coalesced-task.js';
import { forEachBounded, indices } from '../../util/for-each-bounded.js';
import type { ZkLayout } from './layout.js';
import type { ZkClient, ZkWatchType } from './zk-client.js';
import { ZkError } from './zk-error.js';
import { MarkerWatcher } from './marker-watcher.js';

/** What the last rebuild cost, for logs, metrics and benchmarks. */
export interface RebuildStats {
  reason: string;
  shards: number;
  markers: number;
  durationMs: number;
  finishedAt: number;
}

/** What the watcher needs from its store. */
export interface TreeWatcherHost {
  readonly layout: ZkLayout;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly readConcurrency: number;
  /** Upper bound of the random delay before a resync. */
  readonly maxJitterMs: number;
  /** Try the persistent recursive watch (otherwise one-shot child watches per shard). */
  readonly persistentWatch: boolean;
  /** The client of a connected session, or a {@link StoreUnavailableError}. */
  client(): ZkClient;
  connected(): boolean;
  /** Emits a store event; never throws. */
  emit<K extends keyof StoreEvents>(event: K, ...args: StoreEvents[K]): void;
  /** Logs, and emits `error`; never throws. */
  report(error: unknown, context: string): void;
  mapError(error: unknown): Error;
}

/** Delay before re-reading a shard whose watch-triggered read failed while the session stayed up. */
const READ_RETRY_MS = 1_000;
const MAX_REBUILD_BACKOFF_MS = 30_000;

/**
 * Feeds a Mirror from the tree, as CuratorCache / TreeCache feed their listeners, with ONE {@link rebuild} (full
 * shard listings) for the initial load and every resync (after a reconnect, and with a new session). Resyncs are
 * jittered and bounded (`readConcurrency` reads in flight). Logout markers: see {@link MarkerWatcher}.
 *
 * Records, two ways:
 * - `persistent` (ZooKeeper 3.6+ with a binding carrying tokensync's addwatch patch), as Curator's CuratorCache:
 *   one persistent recursive watch on the tokens folder reports every record created or deleted, by path, and
 *   stays armed; a sidecar reads nothing when a token is issued elsewhere. The server forgets the watch with the
 *   connection, so it is set again at once after a reconnect (before the jittered resync that catches up on what
 *   changed while disconnected) and at the start of every rebuild, before the listings.
 * - `one-shot` (older servers or bindings): a child watch per shard; every change re-lists its shard (to learn
 *   the new name and re-arm the watch): one read per sidecar per token issued anywhere.
 *
 * A burst of child events on a shard costs one read in flight plus one queued. A listing is never reported
 * when it is older than one already reported for its shard (`pzxid`) or than a write of ours that completed
 * after it was sent (request sequence): a late reply must not bring a deleted record back.
 *
 * Caveat (as Curator's): between two listings a record deleted and re-created under the same name looks
 * unchanged; names embed a random jti and are never reused.
 */
export class TreeWatcher {
  private active = true;
  /** Orders every read and write of the store, to recognise a listing older than a write or a later read. */
  private seq = 0;
  private readonly shardTasks: CoalescedTask[];
  /** Per shard: sequence number of the newest listing reported or write completed. */
  private readonly shardFloor: number[];
  /** Per shard: `pzxid` (zxid of the child list's last change) of the newest listing reported. */
  private readonly shardPzxid: number[];
  private readonly shardRetries = new Set<number>();
  private retryTimer: NodeJS.Timeout | null = null;

  private readonly markers: MarkerWatcher;
  private markerRetry = false;

  /** Whether the persistent recursive watch is set on this connection (then listings set no child watch). */
  private persistent = false;
  /** The binding or the server cannot set persistent watches: one-shot child watches for good. */
  private persistentUnsupported = false;

  private rebuilding = false;
  private rebuildAgain = false;
  private rebuildTimer: NodeJS.Timeout | null = null;
  private rebuildFailures = 0;
  private lastStats: RebuildStats | null = null;

  constructor(private readonly host: TreeWatcherHost) {
    this.persistentUnsupported = !host.persistentWatch;
    const shards = host.layout.shards;
    this.shardTasks = Array.from({ length: shards }, (_, shard) => new CoalescedTask(() => this.readShard(shard)));
    this.shardFloor = new Array<number>(shards).fill(0);
    this.shardPzxid = new Array<number>(shards).fill(0);
    this.markers = new MarkerWatcher(
      host,
      () => ++this.seq,
      (error) => this.markerReadFailed(error),
    );
  }

  get lastRebuild(): RebuildStats | null {
    return this.lastStats;
  }

  /** How records are watched (see the class comment). */
  get watchMode(): 'persistent' | 'one-shot' {
    return this.persistentUnsupported ? 'one-shot' : 'persistent';
  }

  /**
   * After a reconnect: sets the persistent watch again at once, so that changes are heard from now on; what
   * changed while disconnected comes with the resync that follows. Never throws.
   */
  rearm(): void {
    if (!this.active) return;
    this.armPersistentWatch().catch((error: unknown) => {
      this.backgroundFailure(error, 'setting the persistent watch'); // the resync sets it again
    });
  }

  /** Stops reporting; removes timers. */
  stop(): void {
    this.active = false;
    this.markers.stop();
    if (this.rebuildTimer) clearTimeout(this.rebuildTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.rebuildTimer = null;
    this.retryTimer = null;
  }

  /** A sequence number for a write about to be sent; pass it to {@link noteWrite} once it succeeded. */
  nextSeq(): number {
    return ++this.seq;
  }

  noteWrite(shard: number, seq: number): void {
    if (seq > this.shardFloor[shard]!) this.shardFloor[shard] = seq;
  }

  /** A random delay in [0, maxJitterMs): sidecars coming back together do not all read at once. */
  jitter(): number {
    return Math.floor(Math.random() * this.host.maxJitterMs);
  }

  /** Schedules a rebuild; a rebuild already scheduled or running absorbs the request. */
  requestRebuild(delayMs: number, reason: string): void {
    if (!this.active || this.rebuildTimer) return;
    this.rebuildTimer = setTimeout(() => {
      this.rebuildTimer = null;
      void this.runRebuild(reason);
    }, delayMs);
    this.rebuildTimer.unref();
  }

  /**
   * Re-reads every shard (re-arming its child watch) and every marker, reporting what it reads, then
   * `rebuilt`. A record deleted while we were away is absent from the new listing, so the Mirror drops it.
   */
  async rebuild(reason: string): Promise<void> {
    const started = performance.now();
    const shards = this.host.layout.shards;
    // before the listings: a record created between its shard's listing and the watch would be missed
    await this.armPersistentWatch();
    // a listing drops what it lacks: from a server behind the one this node heard from before (a new session on a
    // follower that has not applied the latest commits), it would drop live records, so catch that server up first
    await this.host.client().sync(this.host.layout.tokens);
    // listings sent from here on are at least as new as any reported, so their pzxids are the new reference: a
    // tree that went back (restored from a backup) has lower ones, and comparing with the old would drop them all
    this.shardPzxid.fill(0);
    await forEachBounded(indices(shards), this.host.readConcurrency, (shard) => this.shardTasks[shard]!.request());
    await this.markers.readAll();
    if (!this.active) return;
    const stats: RebuildStats = {
      reason,
      shards,
      markers: this.markers.count,
      durationMs: Math.round(performance.now() - started),
      finishedAt: this.host.clock.now(),
    };
    this.lastStats = stats;
    this.host.logger.info(
      `ZooKeeper rebuild (${reason}): ${stats.shards} shards and ${stats.markers} markers read in ${stats.durationMs} ms ` +
        `(records watched: ${this.persistent ? 'persistent recursive watch' : 'a child watch per shard'})`,
    );
    this.host.emit('rebuilt');
  }

  /** The client-wide watcher fired. Never throws (STYLE 6). */
  onWatch(type: ZkWatchType, path: string): void {
    try {
      if (!this.active) return;
      if (type === 'notwatching') {
        this.host.logger.debug(`ZooKeeper stopped watching ${path}`);
        return;
      }
      const target = this.host.layout.classify(path);
      if (!target) return;
      if (target.kind === 'record') {
        if (type === 'created') this.host.emit('record', target.shard, target.name, true);
        else if (type === 'deleted') this.host.emit('record', target.shard, target.name, false);
      } else if (target.kind === 'shard') {
        if (type === 'child' || type === 'deleted') this.refreshShard(target.shard);
      } else if (target.kind === 'subjects') {
        if (type === 'child') this.markers.childrenChanged();
      } else if (type === 'changed') {
        this.markers.markerChanged(target.encoded);
      } else if (type === 'deleted') {
        this.markers.markerDeleted(target.encoded);
      }
    } catch (error) {
      this.host.report(error, `watch event ${type} ${path}`);
    }
  }

  private async runRebuild(reason: string): Promise<void> {
    if (!this.active) return;
    if (this.rebuilding) {
      this.rebuildAgain = true;
      return;
    }
    if (!this.host.connected()) return; // the next `reconnected` asks again
    this.rebuilding = true;
    try {
      await this.rebuild(reason);
      this.rebuildFailures = 0;
    } catch (error) {
      this.rebuildFailures++;
      if (!this.active) return;
      const mapped = this.host.mapError(error);
      if (mapped instanceof StoreUnavailableError) this.host.logger.info(`rebuild (${reason}) interrupted: ${mapped.message}`);
      else this.host.report(mapped, `rebuild (${reason})`);
      if (this.host.connected()) {
        const backoff = Math.min(MAX_REBUILD_BACKOFF_MS, 500 * 2 ** Math.min(10, this.rebuildFailures));
        this.requestRebuild(backoff + this.jitter(), `retry of ${reason}`);
      }
    } finally {
      this.rebuilding = false;
      if (this.rebuildAgain) {
        this.rebuildAgain = false;
        this.requestRebuild(0, 'queued');
      }
    }
  }

  /** Lists a shard now (after a run already in flight) and reports it; a listing dropped as too old reports nothing. */
  relist(shard: number): Promise<void> {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.shardTasks.length) return Promise.resolve();
    return this.shardTasks[shard]!.request();
  }

  private refreshShard(shard: number): void {
    this.shardTasks[shard]!.request().catch((error: unknown) => this.shardReadFailed(shard, error));
  }

  private async readShard(shard: number): Promise<void> {
    const client = this.host.client();
    const seq = ++this.seq;
    // under the persistent watch a listing needs no watch of its own (one would fire, and cost a read, per change)
    const { children, stat } = await client.getChildrenWithStat(this.host.layout.shardPath(shard), !this.persistent);
    if (!this.active) return;
    if (seq < this.shardFloor[shard]!) {
      // answered after a write of ours that it may predate: never report it; a fresh read follows
      this.host.logger.debug(`dropped a listing of shard ${shard} older than a write of ours`);
      this.refreshShard(shard);
      return;
    }
    if (stat.pzxid < this.shardPzxid[shard]!) {
      // from a server behind the one that answered before on an earlier connection: its watch fires as it catches
      // up, and the resync that every reconnect requests re-lists the shard
      this.host.logger.debug(`dropped a listing of shard ${shard} older than the one reported (pzxid)`);
      return;
    }
    this.shardFloor[shard] = seq;
    this.shardPzxid[shard] = stat.pzxid;
    this.host.emit('shard', shard, children);
  }

  /**
   * Sets the persistent recursive watch on the tokens folder, unless the binding or the server cannot; then the
   * listings set one-shot child watches for good. A connection loss is thrown (the caller retries).
   */
  private async armPersistentWatch(): Promise<void> {
    this.persistent = false;
    if (this.persistentUnsupported) return;
    const client = this.host.client();
    if (!client.canAddWatch) {
      this.persistentUnsupported = true;
      this.host.logger.warn(
        "the 'zookeeper' binding lacks tokensync's addwatch patch: every token issued costs every sidecar a re-list " +
          "of its shard; run `node scripts/patch-zookeeper-binding.mjs` in tokensync's package directory",
      );
      return;
    }
    try {
      await client.addWatch(this.host.layout.tokens, true);
      this.persistent = true;
    } catch (error) {
      if (!(error instanceof ZkError) || error.isUnavailable) throw error;
      this.persistentUnsupported = true;
      this.host.logger.warn(
        `ZooKeeper refused a persistent watch (${error.codeName}; it needs ZooKeeper 3.6 or later): ` +
          'watching each shard with a one-shot child watch instead',
      );
    }
  }

  /**
   * A watch-triggered read that failed left its watch un-armed. While the session is up nothing else would
   * re-arm it, so retry; while it is down, the resync after the reconnect does.
   */
  private shardReadFailed(shard: number, error: unknown): void {
    if (this.backgroundFailure(error, `reading shard ${shard}`) && this.host.connected()) {
      this.shardRetries.add(shard);
      this.armRetry();
    }
  }

  private markerReadFailed(error: unknown): void {
    if (this.backgroundFailure(error, 'reading logout markers') && this.host.connected()) {
      this.markerRetry = true;
      this.armRetry();
    }
  }

  /** Unreachability is expected (and worth a retry: returns true); anything else is reported. */
  private backgroundFailure(error: unknown, context: string): boolean {
    if (!this.active) return false;
    const mapped = this.host.mapError(error);
    if (mapped instanceof StoreUnavailableError) {
      this.host.logger.debug(`${context}: ${mapped.message}`);
      return true;
    }
    this.host.report(mapped, context);
    return false;
  }

  private armRetry(): void {
    if (this.retryTimer || !this.active) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.active) return;
      const shards = [...this.shardRetries];
      this.shardRetries.clear();
      for (const shard of shards) this.refreshShard(shard);
      if (this.markerRetry) {
        this.markerRetry = false;
        this.markers.retry();
      }
    }, READ_RETRY_MS);
    this.retryTimer.unref();
  }
}
