import { EventEmitter } from 'node:events';
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';
import { BoundedSet } from '../util/bounded-set.js';
import type { TokenStore } from '../store/token-store.js';
import type { RecordRef } from '../store/token-record.js';
import { kindOfJti, parseRecordName, recordName, shardOf } from '../store/token-record.js';
import { laterMarker, type LogoutMarker } from '../store/logout-marker.js';
import { createHash } from 'node:crypto';

/** What the mirror knows of a jti, without asking the store. */
export type Presence = 'present' | 'removed' | 'unknown';

export interface MirrorStats {
  size: number;
  pending: number;
  markers: number;
  initialized: boolean;
  trusted: boolean;
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
}

interface MirrorEvents {
  initialized: [];
  /** A logout marker took effect here (new, or a higher generation than before). */
  marker: [subject: string, gen: number];
}

/** `~` and a base64url subject (and a generation) up to the end of a record name, from the `~` on (what parseRecordName accepts). */
const ENCODED_SUBJECT = /~[A-Za-z0-9_-]+(?:~[1-9][0-9]{0,15})?$/y;

/** How many recently applied markers a member reports, so a logout can wait for every node to have it. */
const RECENT_MARKERS = 256;

/**
 * The in-memory copy of every live record name and logout marker, fed by a
 * store's shard listings (the CuratorCache pattern, with the store doing the
 * reads). Validation asks it, never the store.
 *
 * Each shard keeps jti -> subject. A listing replaces a shard wholesale, so a
 * record deleted while the store was unreachable disappears on the next
 * rebuild. Local writes that the store has not confirmed (journaled during an
 * outage) sit in an overlay that listings cannot undo until they are settled.
 *
 * Caveat (as Curator's): a delete followed by a re-create of the same name
 * between two listings looks like no change at all. Records are immutable and
 * names never reused, so this cannot hide a revocation.
 */
export class Mirror extends EventEmitter<MirrorEvents> {
  private table: Map<string, string>[] | undefined;
  /** jti -> subject (added) or null (removed), for writes not yet in the store. */
  private readonly overlay = new Map<string, { subject: string; present: boolean; gen?: number }>();
  /** Logout generation in the name of a held record, where above 0 (most records have none: their subject was never logged out). */
  private readonly recordGens = new Map<string, number>();
  private readonly markers = new Map<string, LogoutMarker>();
  /** Logout generations journaled during an outage (applied here at once): a marker listing from the store must not drop them. */
  private readonly pendingMarkers = new Map<string, number>();
  private readonly recent = new Map<string, number>();
  private readonly removed: BoundedSet<string>;
  private readonly negative: BoundedSet<string>;
  /** Pending one-time tokens by subject: issuing a new one removes the old. */
  private readonly onetimeBySubject = new Map<string, Set<string>>();
  private readonly clock: Clock;
  private count = 0;
  private initializedFlag = false;
  private lastLagMs = 0;
  private stalledSince: number | null = null;
  /** False from a lost session until the next full rebuild: removals may have been missed meanwhile. */
  private trustedFlag = true;
  private readonly unsubscribers: Array<() => void> = [];

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
  }

  get shardCount(): number {
    return this.shards.length;
  }

  private get shards(): Map<string, string>[] {
    if (!this.table) {
      const n = typeof this.shardCountSource === 'number' ? this.shardCountSource : this.shardCountSource();
      this.table = Array.from({ length: n }, () => new Map<string, string>());
    }
    return this.table;
  }

  /** Follows a store's events until {@link detach}. */
  attach(store: TokenStore): void {
    const onShard = (shard: number, names: string[]) => this.applyShard(shard, names);
    const onRecord = (shard: number, name: string, present: boolean) => this.applyRecord(shard, name, present);
    const onMarker = (subject: string, marker: LogoutMarker | null) => this.applyMarker(subject, marker);
    const onMarkers = (markers: Map<string, LogoutMarker>) => this.replaceMarkers(markers);
    const onRebuilt = () => {
      this.trustedFlag = true;
      this.markInitialized();
    };
    const onState = (next: string) => {
      if (next === 'lost') this.trustedFlag = false;
      if (next === 'suspended' || next === 'lost') this.stalledSince ??= this.clock.now();
      else if (next === 'connected' || next === 'reconnected') this.stalledSince = null;
    };
    store.on('shard', onShard);
    store.on('record', onRecord);
    store.on('marker', onMarker);
    store.on('markers', onMarkers);
    store.on('rebuilt', onRebuilt);
    store.on('state', onState);
    this.unsubscribers.push(() => {
      store.off('shard', onShard);
      store.off('record', onRecord);
      store.off('marker', onMarker);
      store.off('markers', onMarkers);
      store.off('rebuilt', onRebuilt);
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
   * Whether "present" can be believed without asking the store. After a lost
   * session the mirror may still hold records deleted meanwhile, until the
   * resync has re-read every shard (Curator: on LOST, resync before trusting
   * the cache again).
   */
  get trusted(): boolean {
    return this.trustedFlag && this.initializedFlag;
  }

  get size(): number {
    let pendingAdds = 0;
    for (const [jti, o] of this.overlay) {
      const inBase = this.shards[shardOf(jti, this.shardCount)]!.has(jti);
      if (o.present && !inBase) pendingAdds++;
      else if (!o.present && inBase) pendingAdds--;
    }
    return this.count + pendingAdds;
  }

  /** Replaces one shard with a fresh listing from the store. */
  applyShard(shard: number, names: string[], noticedAt?: number): void {
    const current = this.shards[shard];
    if (!current) return;
    const seen = new Set<string>();
    for (const name of names) {
      // Every create anywhere re-lists its shard on every node, so a listing mostly repeats names held already:
      // know those by their jti without decoding the subject again (at 1M tokens, 244 names a shard, decoding
      // them all cost ~0.5 ms per token issued in the cluster). A held jti was valid and in this shard when it
      // was added; the suffix check keeps a malformed name from standing for its record, as parsing would.
      const tilde = name.indexOf('~');
      if (tilde > 0) {
        const jti = name.slice(0, tilde);
        if (current.has(jti)) {
          ENCODED_SUBJECT.lastIndex = tilde;
          if (ENCODED_SUBJECT.test(name)) seen.add(jti);
          continue;
        }
      }
      const ref = parseRecordName(name);
      if (!ref || shardOf(ref.jti, this.shardCount) !== shard) continue;
      seen.add(ref.jti);
      if (!current.has(ref.jti)) this.addBase(current, ref);
    }
    if (seen.size !== current.size) {
      for (const [jti, subject] of current) {
        if (!seen.has(jti)) this.removeBase(current, jti, subject);
      }
    }
    if (noticedAt !== undefined) this.lastLagMs = Math.max(0, this.clock.now() - noticedAt);
  }

  /** One record the store reports created (`present`) or deleted; a name that is not a record of this shard is ignored. */
  applyRecord(shard: number, name: string, present: boolean): void {
    const ref = parseRecordName(name);
    if (!ref || shardOf(ref.jti, this.shardCount) !== shard) return;
    if (present) this.add(ref);
    else this.remove(ref);
  }

  /**
   * A marker from the store. Markers only move forward here: a lower generation or a disappearing marker (a
   * store wiped, a late read) changes nothing, since tokens were refused against the higher one already.
   */
  applyMarker(subject: string, marker: LogoutMarker | null): void {
    if (marker === null) return;
    const current = this.markers.get(subject);
    const next = laterMarker(current, marker)!;
    this.markers.set(subject, next);
    if (next.gen > (current?.gen ?? 0)) this.noteMarker(subject, next.gen);
  }

  /** Every marker the store holds: merged with what is held (see {@link applyMarker}). */
  replaceMarkers(markers: Map<string, LogoutMarker>): void {
    for (const [subject, marker] of markers) this.applyMarker(subject, marker);
  }

  /** Markers applied lately, subject -> generation: what this node reports as seen. */
  recentMarkers(): Record<string, number> {
    return Object.fromEntries(this.recent);
  }

  private noteMarker(subject: string, gen: number): void {
    this.recent.delete(subject);
    this.recent.set(subject, gen);
    if (this.recent.size > RECENT_MARKERS) this.recent.delete(this.recent.keys().next().value as string);
    this.emit('marker', subject, gen);
  }

  /** A logout journaled during an outage, at the generation it was given here (one above what this node knew). */
  addPendingMarker(subject: string, gen: number): void {
    const before = this.gen(subject);
    this.pendingMarkers.set(subject, Math.max(gen, this.pendingMarkers.get(subject) ?? 0));
    if (this.gen(subject) > before) this.noteMarker(subject, this.gen(subject));
  }

  /** A journaled logout taken at generation `floor` reached the store (which the mirror applied as any marker). */
  settleMarker(subject: string, floor: number): void {
    // a later logout of the subject still journaled keeps its own, higher, pending generation
    if ((this.pendingMarkers.get(subject) ?? 0) <= floor) this.pendingMarkers.delete(subject);
  }

  /** A subject's marker as it stands here: the store's, raised by a journaled logout of this node. */
  marker(subject: string): LogoutMarker | undefined {
    const stored = this.markers.get(subject);
    const pending = this.pendingMarkers.get(subject);
    return pending === undefined ? stored : laterMarker(stored, { gen: pending });
  }

  /** A subject's logout generation here (0: never logged out): what a token issued now carries as `lgn`. */
  gen(subject: string): number {
    return Math.max(this.markers.get(subject)?.gen ?? 0, this.pendingMarkers.get(subject) ?? 0);
  }

  markInitialized(): void {
    if (this.initializedFlag) return;
    this.initializedFlag = true;
    this.emit('initialized');
  }

  /** A write the store has confirmed: visible at once, before the store's own notification arrives. */
  add(ref: RecordRef): void {
    const shard = this.shards[shardOf(ref.jti, this.shardCount)]!;
    if (!shard.has(ref.jti)) this.addBase(shard, ref);
  }

  remove(ref: RecordRef): void {
    const shard = this.shards[shardOf(ref.jti, this.shardCount)]!;
    const subject = shard.get(ref.jti);
    if (subject !== undefined) this.removeBase(shard, ref.jti, subject);
    else this.removed.add(ref.jti);
  }

  /** A write journaled while the store is unreachable: listings cannot undo it until {@link settle}. */
  addPending(ref: RecordRef): void {
    this.overlay.set(ref.jti, ref.gen ? { subject: ref.subject, present: true, gen: ref.gen } : { subject: ref.subject, present: true });
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
    else if (!this.shards[shardOf(jti, this.shardCount)]!.has(jti)) this.indexOnetime(jti, o.subject, false);
  }

  get pendingCount(): number {
    return this.overlay.size;
  }

  /**
   * Presence of a jti, and the subject its record is filed under. `pending`: the answer comes from a local
   * write the store has not confirmed yet (journaled), so asking the store cannot confirm it.
   */
  lookup(jti: string): { presence: Presence; subject?: string; gen?: number; pending?: boolean } {
    const o = this.overlay.get(jti);
    if (o) return o.present ? { presence: 'present', subject: o.subject, ...(o.gen ? { gen: o.gen } : {}), pending: true } : { presence: 'removed', pending: true };
    const subject = this.shards[shardOf(jti, this.shardCount)]!.get(jti);
    if (subject !== undefined) {
      const gen = this.recordGens.size > 0 ? this.recordGens.get(jti) : undefined;
      return gen ? { presence: 'present', subject, gen } : { presence: 'present', subject };
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

  /** Pending one-time tokens of a subject (from names: the kind is in our jtis). */
  onetimeOf(subject: string): string[] {
    return [...(this.onetimeBySubject.get(subject) ?? [])];
  }

  /** Every live (jti, subject), overlay included; O(n), for listings and tests. */
  *entries(): IterableIterator<RecordRef> {
    for (const [jti, o] of this.overlay) if (o.present) yield o.gen ? { jti, subject: o.subject, gen: o.gen } : { jti, subject: o.subject };
    for (const shard of this.shards) {
      for (const [jti, subject] of shard) {
        if (this.overlay.has(jti)) continue;
        const gen = this.recordGens.get(jti);
        yield gen ? { jti, subject, gen } : { jti, subject };
      }
    }
  }

  /**
   * Order-independent fingerprint of the live set (count and XOR of name
   * hashes), so a test or an operator can compare a mirror with a fresh read
   * of the store without shipping every name. O(n).
   */
  digest(): { size: number; xor: string } {
    return digestOf([...this.entries()].map(recordName));
  }

  /** subject -> logout generation, journaled ones included. */
  markerEntries(): Map<string, number> {
    const out = new Map<string, number>();
    for (const subject of new Set([...this.markers.keys(), ...this.pendingMarkers.keys()])) out.set(subject, this.gen(subject));
    return out;
  }

  /** Names of one shard as the mirror holds them, for comparing with the store. */
  shardNames(shard: number): string[] {
    return [...this.shards[shard]!.keys()];
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
      markers: this.markers.size,
      initialized: this.initializedFlag,
      trusted: this.trusted,
      lagMs: this.lagMs,
      recentlyRemoved: this.removed.size,
    };
  }

  private addBase(shard: Map<string, string>, ref: RecordRef): void {
    shard.set(ref.jti, ref.subject);
    if (ref.gen) this.recordGens.set(ref.jti, ref.gen);
    this.count++;
    this.negative.delete(ref.jti);
    this.removed.delete(ref.jti);
    this.indexOnetime(ref.jti, ref.subject, true);
  }

  private removeBase(shard: Map<string, string>, jti: string, subject: string): void {
    shard.delete(jti);
    if (this.recordGens.size > 0) this.recordGens.delete(jti);
    this.count--;
    this.removed.add(jti);
    this.indexOnetime(jti, subject, false);
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

/** The fingerprint {@link Mirror.digest} computes, over any list of record names. */
export function digestOf(names: Iterable<string>): { size: number; xor: string } {
  let xor = 0n;
  let size = 0;
  for (const name of names) {
    xor ^= createHash('sha256').update(name).digest().readBigUInt64BE(0);
    size++;
  }
  return { size, xor: xor.toString(16).padStart(16, '0') };
}
