import { EventEmitter } from 'node:events';
import { laterMarker, type LogoutMarker } from '../store/logout-marker.js';
import type { RecordRef } from '../store/token-record.js';

export interface MirrorEvents {
  initialized: [];
  /** A logout marker took effect here (new, or a higher generation than before). */
  marker: [subject: string, gen: number];
  /** Records dropped because the expiry in their names has passed (plus the clock skew): what the elected reaper deletes. */
  expired: [refs: RecordRef[]];
  /** A propagation probe's record arrived (`present`) or went (store/probe-record.ts): never held as a record. */
  probe: [ref: RecordRef, present: boolean];
}

/** How many recently applied markers a member reports, so a logout can wait for every node to have it. */
const RECENT_MARKERS = 256;

/** The mirror's logout markers: the store's, and those journaled here during an outage (the Mirror adds the records). */
export class MirrorMarkers extends EventEmitter<MirrorEvents> {
  private readonly markers = new Map<string, LogoutMarker>();
  /** Logout generations journaled during an outage (applied here at once): a marker listing from the store must not drop them. */
  private readonly pendingMarkers = new Map<string, number>();
  private readonly recent = new Map<string, number>();

  protected get markerCount(): number {
    return this.markers.size;
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

  /** subject -> logout generation, journaled ones included. */
  markerEntries(): Map<string, number> {
    const out = new Map<string, number>();
    for (const subject of new Set([...this.markers.keys(), ...this.pendingMarkers.keys()])) out.set(subject, this.gen(subject));
    return out;
  }
}
