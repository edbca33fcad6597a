// Over 400 lines: what a lookup answers (held records, the overlay of journaled writes, removed and missing jtis,
// stale shards, probes) is decided in one class, so that the order those are consulted in can be read in one place.
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';
import { BoundedSet } from '../util/bounded-set.js';
import type { TokenStore } from '../store/token-store.js';
import type { RecordRef } from '../store/token-record.js';
import { kindOfJti, parseRecordName, recordName, shardOf } from '../store/token-record.js';
import { RecordSet } from './record-set.js';
import type { LogoutMarker } from '../store/logout-marker.js';
import { digestOf } from './digest.js';
import { MirrorMarkers } from './mirror-markers.js';
import { ProbeNames } from './probe-names.js';

export { digestOf };

/** What the mirror knows of a jti, without asking the store. */
export type Presence = 'present' | 'removed' | 'unknown';

export interface MirrorStats {
  size: number;
  pending: number;
  markers: number;
  initialized: boolean;
  trusted: boolean;
  /** Shards whose records wait for a new listing before they are believed (see {@link Mirror.isStale}). */
  staleShards: number;
  lagMs: number;
  recentlyRemoved: number;
}

export interface MirrorOptions {
  clock?: Clock;
  /** How many removed jtis are remembered, so a replayed revoked token costs no store read. */
  removedCapacity?: number;
  /** Unknown jtis confirmed missing from the store: capacity and time to live. */
  negativeCapacity?: number;
  negativeTtlMs?: number;
  /** How long past the expiry in its name a record is still held (authentication.token.clock.skew). */
  expirySkewMs?: number;
  /** Expired records are looked for every this often, in a slice of the shards each time (all of them every 16 ticks). */
  sweepIntervalMs?: number;
}

/** Ticks of the expiry sweep per pass over every shard. */
const SWEEP_TICKS_PER_PASS = 16;

/**
 * The in-memory copy of every live record name and logout marker, fed by a
 * store's shard listings (the CuratorCache pattern, with the store doing the
 * reads). Validation asks it, never the store.
 *
 * Records are held compactly (see record-set.ts); logout markers in the base class (mirror-markers.ts). A listing replaces a shard wholesale, so a
 * record deleted while the store was unreachable disappears on the next
 * rebuild. Local writes that the store has not confirmed (journaled during an
 * outage) sit in an overlay that listings cannot undo until they are settled.
 *
 * Caveat (as Curator's): a delete followed by a re-create of the same name
 * between two listings looks like no change at all. Records are immutable and
 * names never reused, so this cannot hide a revocation.
 */
export class Mirror extends MirrorMarkers {
  private held: RecordSet | undefined;
  /** jti -> subject (added) or null (removed), for writes not yet in the store. */
  private readonly overlay = new Map<string, { subject: string; present: boolean; gen?: number; expiresAt?: number | null }>();
  private readonly removed: BoundedSet<string>;
  private readonly negative: BoundedSet<string>;
  /** Pending one-time tokens by subject: issuing a new one removes the old. */
  private readonly onetimeBySubject = new Map<string, Set<string>>();
  private readonly clock: Clock;
  private readonly expirySkewMs: number;
  private readonly sweepIntervalMs: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepNext = 0;
  private initializedFlag = false;
  private lastLagMs = 0;
  private stalledSince: number | null = null;
  /** Per shard, 1 from a lost session or a `stale` report until the shard is listed again: removals may have been missed. */
  private stale: Uint8Array | undefined;
  private staleCount = 0;
  private readonly unsubscribers: Array<() => void> = [];
  /** Propagation probes, kept out of the records (never tokens) but reported as they come and go. */
  private readonly probes = new ProbeNames((ref, present) => this.emit('probe', ref, present));

  /**
   * @param shardCount the store's shard count, or a function returning it: a
   * store learns its count from `/meta` only once started, so the table is
   * allocated on first use.
   */
  constructor(
    private readonly shardCountSource: number | (() => number),
    options: MirrorOptions = {},
  ) {
    super();
    this.clock = options.clock ?? systemClock;
    this.removed = new BoundedSet(options.removedCapacity ?? 100_000);
    this.negative = new BoundedSet(options.negativeCapacity ?? 10_000, options.negativeTtlMs ?? 2_000);
    this.expirySkewMs = options.expirySkewMs ?? 0;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1_000;
  }

  get shardCount(): number {
    return this.records.shards;
  }

  private get records(): RecordSet {
    if (!this.held) {
      const n = typeof this.shardCountSource === 'number' ? this.shardCountSource : this.shardCountSource();
      this.held = new RecordSet(n, {
        added: (jti, subject) => {
          if (this.negative.size > 0) this.negative.delete(jti);
          if (this.removed.size > 0) this.removed.delete(jti);
          if (kindOfJti(jti) === 'onetime') this.indexOnetime(jti, subject(), true);
        },
        watching: () => this.negative.size > 0 || this.removed.size > 0,
        removed: (ref) => {
          this.removed.add(ref.jti);
          this.indexOnetime(ref.jti, ref.subject, false);
        },
      });
    }
    return this.held;
  }

  /** Follows a store's events until {@link detach}. */
  attach(store: TokenStore): void {
    const onShard = (shard: number, names: string[]) => this.applyShard(shard, names);
    const onRecord = (shard: number, name: string, present: boolean) => this.applyRecord(shard, name, present);
    const onMarker = (subject: string, marker: LogoutMarker | null) => this.applyMarker(subject, marker);
    const onMarkers = (markers: Map<string, LogoutMarker>) => this.replaceMarkers(markers);
    const onRebuilt = () => {
      this.clearStale();
      this.markInitialized();
    };
    const onStale = () => this.markStale();
    const onState = (next: string) => {
      if (next === 'lost') this.markStale();
      if (next === 'suspended' || next === 'lost') this.stalledSince ??= this.clock.now();
      else if (next === 'connected' || next === 'reconnected') this.stalledSince = null;
    };
    store.on('shard', onShard);
    store.on('record', onRecord);
    store.on('marker', onMarker);
    store.on('markers', onMarkers);
    store.on('rebuilt', onRebuilt);
    store.on('stale', onStale);
    store.on('state', onState);
    this.sweepTimer = setInterval(() => this.sweep(Math.ceil(this.shardCount / SWEEP_TICKS_PER_PASS)), this.sweepIntervalMs);
    this.sweepTimer.unref();
    this.unsubscribers.push(() => {
      clearInterval(this.sweepTimer);
      store.off('shard', onShard);
      store.off('record', onRecord);
      store.off('marker', onMarker);
      store.off('markers', onMarkers);
      store.off('rebuilt', onRebuilt);
      store.off('stale', onStale);
      store.off('state', onState);
    });
  }

  detach(): void {
    for (const off of this.unsubscribers.splice(0)) off();
  }

  get initialized(): boolean {
    return this.initializedFlag;
  }

  /**
   * Whether "present" can be believed without asking the store, for every shard. After a lost session or a
   * reconnect that lost the persistent watch's events the mirror may still hold records deleted meanwhile, until
   * each shard has been listed again (Curator: on LOST, resync before trusting the cache again).
   */
  get trusted(): boolean {
    return this.staleCount === 0 && this.initializedFlag;
  }

  /** Whether the jti's shard waits for a new listing before its records are believed (see {@link trusted}). */
  isStale(jti: string): boolean {
    return this.staleCount > 0 && this.stale![shardOf(jti, this.shardCount)] === 1;
  }

  /** Every shard waits for a new listing (the store's `stale` event, a lost session). */
  markStale(): void {
    this.stale ??= new Uint8Array(this.shardCount);
    this.stale.fill(1);
    this.staleCount = this.stale.length;
  }

  private clearStale(): void {
    this.stale = undefined;
    this.staleCount = 0;
  }

  get size(): number {
    let pendingAdds = 0;
    for (const [jti, o] of this.overlay) {
      const inBase = this.records.has(shardOf(jti, this.shardCount), jti);
      if (o.present && !inBase) pendingAdds++;
      else if (!o.present && inBase) pendingAdds--;
    }
    return this.records.size + pendingAdds;
  }

  /** Replaces one shard with a fresh listing from the store. */
  applyShard(shard: number, names: string[], noticedAt?: number): void {
    if (shard < 0 || shard >= this.shardCount || !Number.isInteger(shard)) return;
    const shards = this.shardCount;
    this.records.applyShard(shard, this.probes.shard(shard, names, shards), (jti) => shardOf(jti, shards));
    if (this.staleCount > 0 && this.stale![shard] === 1) {
      this.stale![shard] = 0;
      this.staleCount--;
    }
    if (noticedAt !== undefined) this.lastLagMs = Math.max(0, this.clock.now() - noticedAt);
  }

  /**
   * Drops the expired records of `count` shards (the next ones in turn) and emits them as `expired`. A record's
   * name gives its expiry; it is held `expirySkewMs` longer, since the issuer's clock may be ahead of ours.
   */
  sweep(count = this.shardCount): void {
    const nowSeconds = Math.floor((this.clock.now() - this.expirySkewMs) / 1000);
    const out: RecordRef[] = [];
    for (let i = 0; i < Math.min(count, this.shardCount); i++) {
      out.push(...this.records.expire(this.sweepNext, nowSeconds));
      this.sweepNext = (this.sweepNext + 1) % this.shardCount;
    }
    out.push(...this.probes.expired(this.clock.now(), this.expirySkewMs));
    if (out.length > 0) this.emit('expired', out);
  }

  /**
   * One record the store reports created (`present`) or deleted; a name that is not a record of this shard is ignored.
   * `store upgrade` renames a record (its layout-1 name deleted together with the creation of its layout-2 name,
   * reported in that order): the delete of a layout-1 name whose jti is held under its layout-2 name is that
   * rename's, not a revocation.
   */
  applyRecord(shard: number, name: string, present: boolean): void {
    if (this.probes.record(shard, name, present, this.shardCount)) return;
    const ref = parseRecordName(name);
    if (!ref || shardOf(ref.jti, this.shardCount) !== shard) return;
    if (present) this.add(ref);
    else if (ref.expiresAt !== undefined || this.records.get(shard, ref.jti)?.expiresAt === undefined) this.remove(ref);
  }

  markInitialized(): void {
    if (this.initializedFlag) return;
    this.initializedFlag = true;
    this.emit('initialized');
  }

  /**
   * A write the store has confirmed: visible at once, before the store's own notification arrives. A held jti
   * takes the expiry of a layout-2 name (its record renamed by `store upgrade`).
   */
  add(ref: RecordRef): void {
    const shard = shardOf(ref.jti, this.shardCount);
    if (!this.records.add(shard, ref) && ref.expiresAt !== undefined) this.records.setExpiry(shard, ref.jti, ref.expiresAt);
  }

  remove(ref: RecordRef): void {
    if (!this.records.remove(shardOf(ref.jti, this.shardCount), ref.jti)) this.removed.add(ref.jti);
  }

  /** A write journaled while the store is unreachable: listings cannot undo it until {@link settle}. */
  addPending(ref: RecordRef): void {
    this.overlay.set(ref.jti, {
      subject: ref.subject,
      present: true,
      ...(ref.gen ? { gen: ref.gen } : {}),
      ...(ref.expiresAt !== undefined ? { expiresAt: ref.expiresAt } : {}),
    });
    this.negative.delete(ref.jti);
    this.removed.delete(ref.jti);
    this.indexOnetime(ref.jti, ref.subject, true);
  }

  removePending(ref: RecordRef): void {
    this.overlay.set(ref.jti, { subject: ref.subject, present: false });
    this.removed.add(ref.jti);
    this.indexOnetime(ref.jti, ref.subject, false);
  }

  /**
   * The store now holds what the overlay said (the journal entry was replayed). A create is not added here: the
   * store's own notification adds it (until then a lookup asks the store). Between the replay's write and this
   * call another node may have deleted the record (revoked, reaped), and adding it would bring a revoked token
   * back where that deletion was already heard, or where a re-listing never showed the record at all.
   */
  settle(jti: string): void {
    const o = this.overlay.get(jti);
    if (!o) return;
    this.overlay.delete(jti);
    if (!o.present) this.remove({ jti, subject: o.subject });
    else if (!this.records.has(shardOf(jti, this.shardCount), jti)) this.indexOnetime(jti, o.subject, false);
  }

  get pendingCount(): number {
    return this.overlay.size;
  }

  /**
   * Presence of a jti, and the subject its record is filed under. `pending`: the answer comes from a local
   * write the store has not confirmed yet (journaled), so asking the store cannot confirm it.
   */
  lookup(jti: string): { presence: Presence; subject?: string; gen?: number; expiresAt?: number | null; pending?: boolean } {
    const o = this.overlay.get(jti);
    if (o)
      return o.present
        ? {
            presence: 'present',
            subject: o.subject,
            ...(o.gen ? { gen: o.gen } : {}),
            ...(o.expiresAt !== undefined ? { expiresAt: o.expiresAt } : {}),
            pending: true,
          }
        : { presence: 'removed', pending: true };
    const shard = shardOf(jti, this.shardCount);
    const ref = this.records.get(shard, jti);
    if (ref !== undefined) {
      if (ref.expiresAt != null && this.clock.now() > ref.expiresAt + this.expirySkewMs) {
        // never reported present once past its expiry, whether or not the sweep has come by
        this.records.remove(shard, jti);
        this.emit('expired', [ref]);
        return { presence: 'removed' };
      }
      const found: ReturnType<Mirror['lookup']> = { presence: 'present', subject: ref.subject };
      if (ref.gen) found.gen = ref.gen;
      if (ref.expiresAt !== undefined) found.expiresAt = ref.expiresAt;
      return found;
    }
    return { presence: this.removed.has(jti) ? 'removed' : 'unknown' };
  }

  /** A jti the store was just asked about and does not hold. */
  rememberMissing(jti: string): void {
    this.negative.add(jti, this.clock.now());
  }

  isKnownMissing(jti: string): boolean {
    return this.negative.has(jti, this.clock.now());
  }

  /** A subject's held records (the overlay left out): for the reaper, without listing every record. */
  entriesOf(subject: string): RecordRef[] {
    return [...this.records.entriesOf(subject)];
  }

  /** Live records of a subject, overlay included (what {@link entries} would yield for it, without listing them all). */
  countOf(subject: string): number {
    let n = this.records.countOf(subject);
    for (const [jti, o] of this.overlay) {
      if (this.records.get(shardOf(jti, this.shardCount), jti)?.subject === subject) n--;
      if (o.present && o.subject === subject) n++;
    }
    return n;
  }

  /** Pending one-time tokens of a subject (from names: the kind is in our jtis). */
  onetimeOf(subject: string): string[] {
    return [...(this.onetimeBySubject.get(subject) ?? [])];
  }

  /** Every live (jti, subject), overlay included; O(n), for listings and tests. */
  *entries(): IterableIterator<RecordRef> {
    for (const [jti, o] of this.overlay) {
      if (!o.present) continue;
      const ref: RecordRef = { jti, subject: o.subject };
      if (o.gen) ref.gen = o.gen;
      if (o.expiresAt !== undefined) ref.expiresAt = o.expiresAt;
      yield ref;
    }
    for (let shard = 0; shard < this.shardCount; shard++) {
      for (const ref of this.records.entries(shard)) if (!this.overlay.has(ref.jti)) yield ref;
    }
  }

  /**
   * Order-independent fingerprint of the live set (count and XOR of name
   * hashes), so a test or an operator can compare a mirror with a fresh read
   * of the store without shipping every name. O(n).
   */
  digest(): { size: number; xor: string } {
    return digestOf([...this.entries()].map((ref) => recordName(ref)));
  }

  /** Names of one shard as the mirror holds them, for comparing with the store. */
  shardNames(shard: number): string[] {
    return [...this.records.entries(shard)].map((ref) => ref.jti);
  }

  /** How far behind the store the mirror may be. */
  get lagMs(): number {
    if (this.stalledSince !== null) return this.clock.now() - this.stalledSince;
    return this.lastLagMs;
  }

  stats(): MirrorStats {
    return {
      size: this.size,
      pending: this.overlay.size,
      markers: this.markerCount,
      initialized: this.initializedFlag,
      trusted: this.trusted,
      staleShards: this.staleCount,
      lagMs: this.lagMs,
      recentlyRemoved: this.removed.size,
    };
  }

  private indexOnetime(jti: string, subject: string, present: boolean): void {
    if (kindOfJti(jti) !== 'onetime') return;
    let set = this.onetimeBySubject.get(subject);
    if (present) {
      if (!set) this.onetimeBySubject.set(subject, (set = new Set()));
      set.add(jti);
    } else if (set) {
      set.delete(jti);
      if (set.size === 0) this.onetimeBySubject.delete(subject);
    }
  }
}
