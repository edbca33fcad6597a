/**
 * A subject's logout marker: a generation every node shares, raised by one store write per logout. A token
 * carries the generation its issuing node knew (`lgn`); it is refused once a node knows a higher one. No wall
 * clock is compared, so clock skew between nodes cannot move a logout.
 */
export interface LogoutMarker {
  /** 1 after the first logout of the subject, +1 per logout; 0 (no marker) before any. */
  gen: number;
  /**
   * A marker written before generations existed (`{revokedBefore}` only) counts as generation 1 and keeps its
   * time for the tokens of that era alone (no `lgn`, no generation in their record name): the old rule.
   */
  legacyBefore?: number;
}

/** What a marker holds in the store (ZooKeeper data, the DIRECTORY file): `at` is informational, never compared. */
export function markerData(subject: string, gen: number, at: number): string {
  return JSON.stringify({ subject, gen, at });
}

/** Parses a marker's data: `{gen}`, or the legacy `{revokedBefore}` as generation 1; undefined when it is neither. */
export function parseMarkerData(text: string | Buffer): LogoutMarker | undefined {
  let value: { gen?: unknown; revokedBefore?: unknown };
  try {
    value = JSON.parse(text.toString()) as typeof value;
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (isGen(value.gen) && value.gen > 0) return { gen: value.gen };
  if (typeof value.revokedBefore === 'number' && Number.isFinite(value.revokedBefore)) return { gen: 1, legacyBefore: value.revokedBefore };
  return undefined;
}

export function isGen(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The later of two markers of one subject: markers only move forward. */
export function laterMarker(a: LogoutMarker | undefined, b: LogoutMarker | undefined): LogoutMarker | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.gen !== b.gen) return a.gen > b.gen ? a : b;
  // same generation: a legacy time only counts while both say so
  return a.legacyBefore !== undefined && b.legacyBefore !== undefined ? (a.legacyBefore >= b.legacyBefore ? a : b) : { gen: a.gen };
}

/**
 * Whether a marker refuses a token. `lgn`: the token's signed claim (absent on tokens signed before this
 * rule, or by the application itself); `recordGen`: the generation in its record's name (what the mirroring
 * node knew, for tokens without `lgn`); `ath`: first login (ms), used only by the legacy rule.
 */
export function loggedOut(marker: LogoutMarker | undefined, lgn: number | undefined, recordGen: number, ath: number): boolean {
  if (!marker || marker.gen === 0) return false;
  if (lgn === undefined && recordGen === 0 && marker.legacyBefore !== undefined) return ath < marker.legacyBefore;
  return (lgn ?? recordGen) < marker.gen;
}
