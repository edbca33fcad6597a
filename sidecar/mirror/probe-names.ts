import { type RecordRef, parseRecordName, shardOf } from '../store/token-record.js';
import { isProbeName } from '../store/probe-record.js';

/**
 * The propagation probes a mirror has seen (store/probe-record.ts), held apart from the records: they are
 * never tokens, so lookups, counts, listings and digests never see them. The mirror reports each one's arrival
 * and departure (what a member acknowledges to the prober) and, past its expiry, hands it to the reaper as an
 * expired record, so a probe whose writer stopped before deleting it does not stay.
 */
export class ProbeNames {
  /** jti -> ref (with its shard), for the few probes in the store at any time. */
  private readonly held = new Map<string, { shard: number; ref: RecordRef }>();

  constructor(private readonly seen: (ref: RecordRef, present: boolean) => void) {}

  /** A single change: `true` when the name was a probe's (the caller then ignores it). */
  record(shard: number, name: string, present: boolean, shards: number): boolean {
    if (!isProbeName(name)) return false;
    const ref = parseRecordName(name);
    if (!ref || shardOf(ref.jti, shards) !== shard) return true;
    const had = this.held.has(ref.jti);
    if (present && !had) this.held.set(ref.jti, { shard, ref });
    else if (!present && had) this.held.delete(ref.jti);
    else return true;
    this.seen(ref, present);
    return true;
  }

  /** A full listing of one shard: reports probes that came and went, and returns the names that are not probes'. */
  shard(shard: number, names: string[], shards: number): string[] {
    let probes: Set<string> | undefined;
    const rest: string[] = [];
    for (const name of names) {
      if (!isProbeName(name)) rest.push(name);
      else if (this.record(shard, name, true, shards)) (probes ??= new Set()).add(name.split('~', 1)[0]!);
    }
    if (names.length === rest.length && this.held.size === 0) return names;
    for (const [jti, { shard: s, ref }] of this.held) {
      if (s !== shard || probes?.has(jti)) continue;
      this.held.delete(jti);
      this.seen(ref, false);
    }
    return rest;
  }

  /** Probes past their expiry (and the skew allowed): dropped here, for the reaper to delete. */
  expired(now: number, skewMs: number): RecordRef[] {
    const out: RecordRef[] = [];
    for (const [jti, { ref }] of this.held) {
      if (ref.expiresAt == null || now <= ref.expiresAt + skewMs) continue;
      this.held.delete(jti);
      out.push(ref);
    }
    return out;
  }
}
