import type { Mirror } from '../mirror/mirror.js';
import type { Metrics } from '../metrics/metrics.js';
import { type TokenStore, hasFallback, hasRelist } from '../store/token-store.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';
import { type RecordRef, isValidJti, isValidSubject, parseRecordName, shardOf } from '../store/token-record.js';
import type { TokenClaims } from '../tokens/token-claims.js';
import { ReconnectWait } from './reconnect-wait.js';

/**
 * What the store says about a record the mirror cannot answer for: a validly signed token the mirror has
 * never seen (issued a moment ago on another node), or a token id to revoke or inspect. A record found is
 * added to the mirror; one found missing is remembered briefly, so a replayed bogus token costs no store read.
 */
export class RecordLookup {
  /** Store reads caught by a reconnect wait for it, briefly. */
  private readonly reconnect: ReconnectWait;

  constructor(
    private readonly store: TokenStore,
    private readonly mirror: Mirror,
    private readonly metrics?: Metrics,
  ) {
    this.reconnect = new ReconnectWait(store);
  }

  /** The record a token names: its generation from `lgn`, else from the mirror (a token the application signed). */
  refFor(claims: TokenClaims): RecordRef {
    const seen = this.mirror.lookup(claims.jti);
    const gen = claims.lgn ?? seen.gen ?? 0;
    const ref: RecordRef = gen > 0 ? { jti: claims.jti, subject: claims.sub, gen } : { jti: claims.jti, subject: claims.sub };
    if (seen.expiresAt !== undefined) ref.expiresAt = seen.expiresAt; // the record's name, found without a listing
    return ref;
  }

  /**
   * A validly signed token the mirror does not know: ask the store once. Resolves with its record's ref when found,
   * `undefined` when the store says it holds none; throws `StoreUnavailableError` when it could not be asked.
   */
  async confirm(claims: TokenClaims): Promise<RecordRef | undefined> {
    if (this.mirror.isKnownMissing(claims.jti)) return undefined;
    if (!isValidJti(claims.jti) || !isValidSubject(claims.sub)) return undefined;
    let ref = this.refFor(claims);
    try {
      // Without lgn the record's generation is known from its name only: find the name.
      let found: boolean;
      if (claims.lgn !== undefined) found = await this.reconnect.across(() => this.store.exists(ref));
      else {
        const listed = await this.listedRef(claims.jti);
        found = listed !== undefined && listed.subject === claims.sub;
        if (found) ref = listed!;
        // a migration cutover's store looks a record it lacks up in the previous store (and copies it)
        else if (hasFallback(this.store)) found = await this.store.exists(ref);
      }
      if (found) {
        this.metrics?.confirmation('found');
        this.mirror.add(ref);
        return ref;
      }
      this.metrics?.confirmation('missing');
      this.mirror.remove(ref);
      this.mirror.rememberMissing(claims.jti);
      return undefined;
    } catch (err) {
      this.metrics?.confirmation('error');
      throw err;
    }
  }

  /**
   * Lists the jti's shard now when the mirror waits for that (see Mirror.isStale); true when the mirror holds the
   * new listing. A store that cannot, or cannot be reached: false (the caller asks about the record itself).
   */
  async relist(jti: string): Promise<boolean> {
    if (!hasRelist(this.store)) return false;
    try {
      await this.store.relistShard(shardOf(jti, this.store.shards));
    } catch (err) {
      if (err instanceof StoreUnavailableError) return false;
      throw err;
    }
    return !this.mirror.isStale(jti);
  }

  /** The record a jti is filed under (subject, generation): from the mirror, else from its shard's listing (one read). */
  async refByJti(jti: string): Promise<RecordRef | undefined> {
    const seen = this.mirror.lookup(jti);
    if (seen.presence === 'present') {
      const ref: RecordRef = seen.gen ? { jti, subject: seen.subject!, gen: seen.gen } : { jti, subject: seen.subject! };
      if (seen.expiresAt !== undefined) ref.expiresAt = seen.expiresAt;
      return ref;
    }
    return this.listedRef(jti);
  }

  /** A jti's record as its shard's listing names it (one read, two when the first misses it). */
  private async listedRef(jti: string): Promise<RecordRef | undefined> {
    const shard = shardOf(jti, this.store.shards);
    const find = (names: string[]) => names.map(parseRecordName).find((ref) => ref?.jti === jti);
    const ref = find(await this.reconnect.across(() => this.store.listShard(shard)));
    if (ref !== undefined) return ref;
    // a token issued on another node a moment ago: a miss must hold every create acknowledged before it
    return find(await this.reconnect.across(() => this.store.listShard(shard, { fresh: true })));
  }
}
