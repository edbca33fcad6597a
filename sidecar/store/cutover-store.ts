import { EventEmitter } from 'node:events';
import type { Logger } from '../util/logger.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';
import type { ConnectionState } from './connection-state.js';
import type { LogoutMarker } from './logout-marker.js';
import { type RecordLayout, type RecordRef, type TokenRecord, kindOfJti, parseRecordName, shardOf } from './token-record.js';
import {
  type LayoutProbe,
  type ListPage,
  type ListQuery,
  type MemberInfo,
  type ReplayReceipts,
  type StoreDescription,
  type StoreEvents,
  type TokenStore,
  type WithFallback,
  type WithRelist,
  hasRelist,
  type WithReplayReceipts,
  hasReplayReceipts,
} from './token-store.js';

/** What the fallback store of a cutover did on this node: when `confirmed` stops growing, it can go. */
export interface FallbackStats {
  /** Tokens unknown to our store, found in the fallback store. */
  confirmed: number;
  /** Of those, records copied into our store (one-time tokens stay where they are). */
  copied: number;
  /** Writes of this node also made in the fallback store, and those that failed. */
  writes: number;
  failedWrites: number;
}

/**
 * Our store during a migration cutover, backed by the previous one (`cluster.store.fallback.config`, started
 * without watches). A record our store lacks is looked up in the previous store; found there, it is copied into
 * ours (one write; from then on it validates from the mirror like any other), except a one-time record, which
 * stays where it was issued and is consumed there: once-only holds within one store only. Every write our store
 * takes (a journal replay's too) is made in the previous store as well, best effort, so that sidecars not yet
 * switched see it; a previous store that fails is logged and counted, never an error.
 *
 * Listings, markers, members and events are our store's: the mirror follows our store alone.
 */
export class CutoverStore extends EventEmitter<StoreEvents> implements TokenStore, WithFallback, WithRelist, Partial<WithReplayReceipts> {
  readonly stats: FallbackStats = { confirmed: 0, copied: 0, writes: 0, failedWrites: 0 };
  /** Our store's replay receipts, whose creates reach the previous store too. */
  readonly receipts?: ReplayReceipts;
  /** Listeners this decorator put on our store to pass its events on, by event name. */
  private readonly forwarded = new Map<keyof StoreEvents, (...args: unknown[]) => void>();

  constructor(
    readonly primary: TokenStore,
    readonly fallback: TokenStore,
    private readonly logger: Logger,
  ) {
    super();
    if (hasReplayReceipts(primary)) this.receipts = this.withFallbackCreates(primary.receipts);
    // Pass on only the events someone listens to here: an 'error' nobody listens to would throw.
    (this as EventEmitter).on('newListener', (event: string | symbol) => this.forward(event as keyof StoreEvents));
  }

  get type(): TokenStore['type'] {
    return this.primary.type;
  }

  get shards(): number {
    return this.primary.shards;
  }

  get recordLayout(): RecordLayout {
    return this.primary.recordLayout;
  }

  get state(): ConnectionState {
    return this.primary.state;
  }

  /** The previous store first (reads only, no watches), so that a node never serves without it. */
  async start(options?: { watch?: boolean }): Promise<void> {
    await this.fallback.start({ watch: false }).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      throw new StoreUnavailableError(`fallback store (cluster.store.fallback.config): ${message}`, { cause: err });
    });
    this.logger.info('cutover: tokens unknown to our store are looked up in the fallback store, and our writes go there too', {
      fallback: this.fallback.describe(),
    });
    await this.primary.start(options);
  }

  inspectLayout(): Promise<LayoutProbe> {
    return this.primary.inspectLayout();
  }

  async close(): Promise<void> {
    for (const [event, listener] of this.forwarded) this.primary.off(event, listener);
    this.forwarded.clear();
    try {
      await this.primary.close();
    } finally {
      await this.fallback.close().catch((err: unknown) => this.logger.warn('fallback store close failed', { error: String(err) }));
    }
  }

  describe(): StoreDescription {
    return this.primary.describe();
  }

  async create(record: TokenRecord): Promise<boolean> {
    const created = await this.primary.create(record);
    if (record.kind !== 'onetime') await this.also('create', () => this.fallback.create(record));
    return created;
  }

  /** `true` when either store held the record. */
  async delete(ref: RecordRef): Promise<boolean> {
    const deleted = await this.primary.delete(ref);
    // a one-time record is in one store only, the one it was issued in
    if (deleted && kindOfJti(ref.jti) === 'onetime') return true;
    let there = false;
    await this.also('delete', async () => void (there = await this.fallback.delete(ref)));
    return deleted || there;
  }

  /** A one-time token issued on a sidecar still on the previous store is consumed there. */
  async consume(ref: RecordRef): Promise<boolean> {
    if (await this.primary.consume(ref)) return true;
    try {
      return await this.fallback.consume(ref);
    } catch (err) {
      this.logger.warn('cutover: the fallback store did not answer a consume', { error: String(err) });
      return false;
    }
  }

  async exists(ref: RecordRef): Promise<boolean> {
    return (await this.primary.exists(ref)) || (await this.fromFallback(ref)) !== undefined;
  }

  async read(ref: RecordRef): Promise<TokenRecord | undefined> {
    return (await this.primary.read(ref)) ?? this.fromFallback(ref);
  }

  /**
   * At least our generation (tokens issued here carry ours), and above what the previous store held (its
   * tokens): the previous store's marker is raised to at least the one written in ours.
   */
  async raiseMarker(subject: string, floor?: number): Promise<number> {
    const gen = await this.primary.raiseMarker(subject, floor);
    await this.also('marker', () => this.fallback.raiseMarker(subject, gen));
    return gen;
  }

  copyMarker(subject: string, gen: number): Promise<number> {
    return this.primary.copyMarker(subject, gen);
  }

  listMarkers(): Promise<Map<string, LogoutMarker>> {
    return this.primary.listMarkers();
  }

  /** Our store's (the mirror follows it alone); nothing to do for a store that reports no stale shards. */
  async relistShard(shard: number): Promise<void> {
    if (hasRelist(this.primary)) await this.primary.relistShard(shard);
  }

  listShard(shard: number, options?: { fresh?: boolean }): Promise<string[]> {
    return this.primary.listShard(shard, options);
  }

  list(query: ListQuery): Promise<ListPage> {
    return this.primary.list(query);
  }

  publishMember(info: MemberInfo): Promise<void> {
    return this.primary.publishMember(info);
  }

  listMembers(): Promise<MemberInfo[]> {
    return this.primary.listMembers();
  }

  isReaper(): Promise<boolean> {
    return this.primary.isReaper();
  }

  /** A token only the previous store holds (a revocation by jti finds it there): its record, from that shard's listing. */
  async fallbackRef(jti: string): Promise<RecordRef | undefined> {
    try {
      const names = await this.fallback.listShard(shardOf(jti, this.fallback.shards));
      return names.map(parseRecordName).find((ref) => ref?.jti === jti);
    } catch (err) {
      this.logger.warn('cutover: the fallback store did not answer a lookup by token id', { jti, error: String(err) });
      return undefined;
    }
  }

  /**
   * A record our store lacks, from the previous store, copied into ours unless it is a one-time record. The
   * copy keeps the mirror honest: it never learns a name our store lacks, which its next listing would undo.
   * Our store unreachable for the copy: {@link StoreUnavailableError}, as if it had been a moment earlier.
   */
  private async fromFallback(ref: RecordRef): Promise<TokenRecord | undefined> {
    let record: TokenRecord | undefined;
    try {
      record = await this.fallback.read(ref);
    } catch (err) {
      this.logger.warn('cutover: the fallback store did not answer; refusing a token our store does not know', { error: String(err) });
      return undefined;
    }
    if (!record || record.subject !== ref.subject) return undefined;
    this.stats.confirmed++;
    if (record.kind === 'onetime') return record;
    try {
      await this.primary.create(record);
      this.stats.copied++;
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      this.logger.warn('cutover: could not copy a record from the fallback store', { jti: ref.jti, error: String(err) });
    }
    return record;
  }

  /** One best-effort write to the previous store: counted, and logged when it fails. */
  private async also(op: string, write: () => Promise<unknown>): Promise<void> {
    this.stats.writes++;
    try {
      await write();
    } catch (err) {
      this.stats.failedWrites++;
      this.logger.warn('cutover: a write did not reach the fallback store', { op, error: String(err) });
    }
  }

  /** Our store's receipts, whose transaction's creates (a journal replay's) are made in the previous store too. */
  private withFallbackCreates(receipts: ReplayReceipts): ReplayReceipts {
    return {
      get available() {
        return receipts.available;
      },
      maxWeight: receipts.maxWeight,
      weight: (record) => receipts.weight(record),
      newName: () => receipts.newName(),
      createWithReceipt: async (records, receipt, stale) => {
        const created = await receipts.createWithReceipt(records, receipt, stale);
        const copies = records.filter((record) => record.kind !== 'onetime');
        await Promise.all(copies.map((record) => this.also('create', () => this.fallback.create(record))));
        return created;
      },
      settle: (receipt) => receipts.settle(receipt),
      remove: (names) => receipts.remove(names),
      cleanup: (keep) => receipts.cleanup(keep),
    };
  }

  private forward(event: keyof StoreEvents): void {
    if (event === ('newListener' as string) || this.forwarded.has(event)) return;
    const listener = (...args: unknown[]) => (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    this.forwarded.set(event, listener);
    this.primary.on(event, listener as never);
  }
}
