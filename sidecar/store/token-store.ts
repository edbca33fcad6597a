import type { EventEmitter } from 'node:events';
import type { ConnectionState } from './connection-state.js';
import type { RecordLayout, RecordRef, TokenKind, TokenRecord } from './token-record.js';
import type { LogoutMarker } from './logout-marker.js';

export interface ListQuery {
  subject?: string;
  kind?: TokenKind;
  /** Page size; the store may return fewer. */
  limit: number;
  /** Opaque, from a previous page's `nextCursor`. */
  cursor?: string;
}

export interface ListPage {
  items: TokenRecord[];
  nextCursor: string | null;
}

/** What a live sidecar publishes about itself (`/members/<node.id>` or a heartbeat file). */
export interface MemberInfo {
  nodeId: string;
  address: string;
  version: string;
  pid: number;
  startedAt: number;
  updatedAt: number;
  mirrorSize: number;
  mirrorLagMs: number;
  /** Writes this member journaled while the store was unreachable, not yet replayed (absent from older members). */
  journalPending?: number;
  state: ConnectionState;
  storeType: string;
  /** ZOOKEEPER: how this member follows the records (`persistent`: one recursive watch; `one-shot`: a child watch per shard). */
  watch?: 'persistent' | 'one-shot';
  /** Logout markers this node applied lately (subject -> generation): a logout waits until every member lists it. */
  markers?: Record<string, number>;
  /**
   * Propagation probes of other members this node saw lately (membership/propagation-probe.ts): `<jti>+` (its
   * record arrived in our mirror) or `<jti>-` (it went) -> ms since, on this node's clock when the report was
   * made. Durations only: the prober subtracts them from its own, never compares wall clocks.
   */
  probes?: Record<string, number>;
  /** Key id (kid) of the secret this member signs with: ids only, never secrets. */
  signingKid?: string;
  /** Key ids this member accepts; every member of a cluster should report the same ones. */
  acceptedKids?: string[];
  /** How this member names the records it writes (the store's layout as it last read it); absent: a tokensync before layout 2. */
  layout?: RecordLayout;
}

export interface StoreDescription {
  type: 'DIRECTORY' | 'ZOOKEEPER';
  /** Folder or connect string; never credentials. */
  location: string;
  shards: number;
  layoutVersion: number;
  /** ZooKeeper: the server this client is connected to, when known. */
  server?: string;
}

/** What {@link TokenStore.inspectLayout} found, reading only: the layout as it is, and what a first start would create. */
export interface LayoutProbe extends StoreDescription {
  /** Whether the layout exists (`/meta` or meta.json is there). */
  exists: boolean;
  /** Paths a start would create (the shard count from `/meta`, or the configured one for a new tree). */
  wouldCreate: string[];
  /** Shard nodes or folders a start would create. */
  missingShards: number;
}

/**
 * Events a store emits to feed a {@link Mirror}. A store reports full child
 * listings of a shard (never single adds or removes), in the order it read
 * them, and drops a listing that is older than one it already reported or
 * older than a write of its own: a late reply must never bring back a
 * deleted record.
 */
export interface StoreEvents {
  /** Every record name currently in one shard. */
  shard: [shard: number, names: string[]];
  /**
   * One record created (`present`) or deleted, by name, in the order the store made the changes; a store that
   * can report single changes (ZooKeeper's persistent recursive watch) sends these between full listings.
   */
  record: [shard: number, name: string, present: boolean];
  /** A subject's logout marker appeared or was raised, or disappeared (`null`; a mirror keeps what it held). */
  marker: [subject: string, marker: LogoutMarker | null];
  /** The full set of markers (a mirror keeps the later of what it held and these). */
  markers: [markers: Map<string, LogoutMarker>];
  /** A rebuild finished: every shard and the markers have been reported once since it started. */
  rebuilt: [];
  /**
   * Records may have changed without being reported (a new session; a reconnect, which loses the persistent watch's
   * events meanwhile): a shard's held records are to be believed again only once the shard is listed anew.
   */
  stale: [];
  state: [next: ConnectionState, previous: ConnectionState];
  /** Something went wrong in a callback; never thrown (STYLE 6). */
  error: [error: Error];
}

/** ZOOKEEPER: record-create transactions (multi) sent so far, the creates they carried, and those refused. */
export interface CreateBatchCounts {
  transactions: number;
  creates: number;
  refused: number;
}

/**
 * Replay receipts (ZOOKEEPER with the binding's multi patch). A journal replay sends its creates in ONE
 * transaction together with the creation of a receipt node, a name the replay chose at random and wrote to
 * `journal.sending` first. When the answer never comes (the process was killed, the connection was lost), the
 * replay {@link settle}s the receipt before sending anything else: either the receipt is there, so every create
 * of that transaction was applied (one absent now was revoked since and must not come back), or the settle made
 * the receipt itself, so that transaction can never be applied and its creates are sent again. Without receipts
 * a replay after a crash cannot tell a create that never arrived from one revoked since.
 */
export interface ReplayReceipts {
  /** Whether receipts can be written now (the binding has the multi patch). */
  readonly available: boolean;
  /** What one transaction may carry, in the units of {@link weight}. */
  readonly maxWeight: number;
  /** A record's share of a transaction. */
  weight(record: TokenRecord): number;
  /** A fresh receipt name. */
  newName(): string;
  /**
   * Creates `records` and the receipt in one all-or-nothing write, and deletes the `stale` receipts (gone
   * already is fine). Resolves per record: `true` created, `false` the name was taken already (left out of
   * the transaction). A transaction lost with the connection throws {@link StoreUnavailableError}: settle it.
   */
  createWithReceipt(records: readonly TokenRecord[], receipt: string, stale: readonly string[]): Promise<boolean[]>;
  /**
   * `true`: the transaction carrying `receipt` was applied. `false`: it was not, and never will be (the
   * receipt now exists as a fence that such a transaction would collide with). Safe to ask again.
   */
  settle(receipt: string): Promise<boolean>;
  /** Deletes receipts no longer needed; absent ones are fine. */
  remove(receipts: readonly string[]): Promise<void>;
  /** Deletes what earlier runs of this sidecar left behind, except `keep` (receipts its journal still names). */
  cleanup(keep: ReadonlySet<string>): Promise<number>;
}

/**
 * The cluster shared store. Both DIRECTORY and ZOOKEEPER implement it; the
 * HTTP layer and the CLI never know which one runs.
 *
 * Every mutating call is ONE write to the store, so there is nothing two
 * writes could leave half done. Calls that need the store throw
 * {@link StoreUnavailableError} when it cannot be reached.
 */
export interface TokenStore extends EventEmitter<StoreEvents>, StoreMembership {
  readonly type: 'DIRECTORY' | 'ZOOKEEPER';
  readonly shards: number;
  readonly state: ConnectionState;
  /**
   * How this store names the records it creates: its layout version (`/meta`, meta.json), read at start and, while
   * it is 1, again on every {@link StoreMembership.publishMember} (heartbeat), so a running sidecar follows a
   * `store upgrade`. Both layouts are read at all times.
   */
  readonly recordLayout: RecordLayout;

  /**
   * Connects, creates the layout when missing and reads `/meta` (so
   * `shards` is final when it resolves). With `{ watch: true }` it also
   * starts a rebuild, reporting every shard and the markers, and keeps
   * reporting changes; the rebuild may still be running when `start`
   * resolves, and `rebuilt` marks its end, so attach a Mirror before
   * calling `start`. The CLI starts stores without watching.
   */
  start(options?: { watch?: boolean }): Promise<void>;
  /**
   * Instead of {@link start} (`config check --connect`): connects and reads the layout, creating and changing
   * nothing, and reports what a start would create. Close the store afterwards.
   */
  inspectLayout(): Promise<LayoutProbe>;
  /** Idempotent; removes watches, timers and listeners. */
  close(): Promise<void>;
  describe(): StoreDescription;

  /** Creates a record; `false` when one with that name exists already. */
  create(record: TokenRecord): Promise<boolean>;
  /** Deletes a record; `false` when it was not there. */
  delete(ref: RecordRef): Promise<boolean>;
  /** Removes a record such that exactly one caller in the cluster gets `true`. */
  consume(ref: RecordRef): Promise<boolean>;
  /** Whether the record is in the store, counting every create acknowledged to anyone before the call. */
  exists(ref: RecordRef): Promise<boolean>;
  read(ref: RecordRef): Promise<TokenRecord | undefined>;

  /**
   * Logs a subject out everywhere: ONE conditional write raising its logout generation to `stored + 1` (at
   * least `floor`) over the generation stored when called, and resolves with the generation stored after it.
   * A concurrent logout that raised it that far first counts as done: it was written after this call began,
   * so no token answered before this call carries its generation. Never moves a marker backwards.
   */
  raiseMarker(subject: string, floor?: number): Promise<number>;
  /** Migration: raises the subject's generation to at least `gen` (nothing when already there); resolves with the stored one. */
  copyMarker(subject: string, gen: number): Promise<number>;
  /** Markers are never deleted: a generation must never go back to 0, or the next logout would miss newer tokens. */
  listMarkers(): Promise<Map<string, LogoutMarker>>;

  /**
   * Record names in one shard, straight from the store. With `fresh`, the answer holds every record whose create
   * was acknowledged to anyone before the call (ZOOKEEPER: behind a write on this session, which costs a
   * transaction; without it, behind a `sync`, which a server that is the leader may answer before it applied a
   * commit a follower already acknowledged). Ask `fresh` after a plain listing missed a name that should be there.
   */
  listShard(shard: number, options?: { fresh?: boolean }): Promise<string[]>;
  /** Records, shard by shard, filtered by subject and kind from the names where possible. */
  list(query: ListQuery): Promise<ListPage>;
}

/** Who is in the cluster, and who reaps; both stores have it. */
export interface StoreMembership {
  publishMember(info: MemberInfo): Promise<void>;
  /** Live members; an entry that is not a member record is skipped. */
  listMembers(): Promise<MemberInfo[]>;
  /**
   * Leadership for the reaper: resolves `true` while this process is the one
   * reaper of the cluster. Cheap to call often.
   */
  isReaper(): Promise<boolean>;
}

// Capabilities beyond the core: a store has them or not; callers ask with the guards below, never by duck typing.

/** Reads many records in one call (`store migrate`): for each ref what `read` answers. */
export interface BulkReads {
  readMany(refs: readonly RecordRef[]): Promise<Array<TokenRecord | undefined>>;
}

/** Creates many records in one call (`store migrate`): for each what `create` answers, or the error it met. */
export interface BulkCreates {
  createMany(records: readonly TokenRecord[]): Promise<Array<boolean | Error>>;
}

/** What one shard's conversion to layout 2 did (see {@link LayoutUpgrade}). */
export interface ShardUpgrade {
  /** Records re-created under their layout-2 name, the old name deleted with it. */
  renamed: number;
  /** Layout-1 records gone before they could be renamed (revoked, consumed or reaped meanwhile). */
  gone: number;
  /** Names skipped: not records, or records that could not be read. */
  skipped: number;
}

/** `store upgrade` (both stores): converts a live store from layout 1 to 2. */
export interface LayoutUpgrade {
  /** Raises the layout version to 2 (nothing when it is 2 already); running sidecars follow on their next heartbeat. */
  raiseLayout(): Promise<void>;
  /**
   * Re-creates every layout-1 record of one shard under its layout-2 name, atomically with deleting the old name
   * (ZOOKEEPER: create and delete in one transaction, many records a transaction; DIRECTORY: one rename each), so
   * no reader ever finds the jti missing. Idempotent: layout-2 names are left alone.
   */
  upgradeShard(shard: number): Promise<ShardUpgrade>;
}

/** Replay receipts (see {@link ReplayReceipts}); ZOOKEEPER. */
export interface WithReplayReceipts {
  readonly receipts: ReplayReceipts;
}

/** Record-create transactions so far (see {@link CreateBatchCounts}); ZOOKEEPER. */
export interface WithCreateBatches {
  readonly createBatches: CreateBatchCounts;
}

/** How records are followed once watching (see {@link MemberInfo.watch}); ZOOKEEPER. */
export interface WithWatchMode {
  readonly recordWatchMode: 'persistent' | 'one-shot' | undefined;
}

/** Lists one shard now and reports the listing as a `shard` event (see {@link StoreEvents.stale}); ZOOKEEPER. */
export interface WithRelist {
  relistShard(shard: number): Promise<void>;
}

/**
 * A migration cutover's previous store behind this one (see cutover-store.ts): lookups of records it lacks fall
 * back to it, and a token only the previous store holds is found there by its jti.
 */
export interface WithFallback {
  fallbackRef(jti: string): Promise<RecordRef | undefined>;
}

export function hasBulkReads<S extends TokenStore>(store: S): store is S & BulkReads {
  return typeof (store as Partial<BulkReads>).readMany === 'function';
}

export function hasBulkCreates<S extends TokenStore>(store: S): store is S & BulkCreates {
  return typeof (store as Partial<BulkCreates>).createMany === 'function';
}

export function hasLayoutUpgrade<S extends TokenStore>(store: S): store is S & LayoutUpgrade {
  return typeof (store as Partial<LayoutUpgrade>).upgradeShard === 'function';
}

export function hasReplayReceipts<S extends TokenStore>(store: S): store is S & WithReplayReceipts {
  return (store as Partial<WithReplayReceipts>).receipts !== undefined;
}

export function hasCreateBatches<S extends TokenStore>(store: S): store is S & WithCreateBatches {
  return 'createBatches' in store;
}

export function hasWatchMode<S extends TokenStore>(store: S): store is S & WithWatchMode {
  return 'recordWatchMode' in store;
}

export function hasRelist<S extends TokenStore>(store: S): store is S & WithRelist {
  return typeof (store as Partial<WithRelist>).relistShard === 'function';
}

export function hasFallback<S extends TokenStore>(store: S): store is S & WithFallback {
  return typeof (store as Partial<WithFallback>).fallbackRef === 'function';
}
