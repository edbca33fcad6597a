// Over 400 lines: every verdict (validate, authenticate, consume) and the store lookups behind them stay in one
// class, so that a validation's path from signature to record to logout marker reads top to bottom.
import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/clock.js';
import type { Mirror } from '../mirror/mirror.js';
import { type TokenStore, type ListPage, type ListQuery, hasFallback } from '../store/token-store.js';
import { type RecordRef, type TokenKind, type TokenRecord, isValidJti, isValidSubject, kindOfJti } from '../store/token-record.js';
import type { RecordViewContext } from '../store/record-view.js';
import { loggedOut } from '../store/logout-marker.js';
import { isConnected } from '../store/connection-state.js';
import type { TokenCodec } from '../tokens/token-codec.js';
import type { TokenPolicy } from '../tokens/token-policy.js';
import { JtiPool } from '../tokens/jti-pool.js';
import { VerifiedTokens } from './verified-tokens.js';
import { RecordLookup } from './record-lookup.js';
import { setCookieLine } from './set-cookie.js';
import type { Refusal, RefusalReason, TokenClaims } from '../tokens/token-claims.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WritePath } from './write-path.js';
import { BadRequestError } from '../errors/bad-request-error.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';
import type { OutagePolicy } from '../config/options.js';
import { PROBE_JTI_PREFIX, isProbeJti } from '../store/probe-record.js';

const SUBJECT_RULE = 'subject must be 1 to 128 bytes of text without control characters';

/** What a logout did: tokens the mirror held for the subject, the generation written, which members acknowledged it. */
export interface LogoutOutcome {
  revoked: number;
  replicated: boolean;
  gen: number;
  at: number;
  acknowledged: string[];
  pending: string[];
}

/** A token whose record is gone (or never existed, or is filed under another subject). */
function gone(claims: TokenClaims): Validation {
  return claims.knd === 'onetime'
    ? { valid: false, reason: 'consumed', message: 'this one-time token was already used or replaced' }
    : { valid: false, reason: 'revoked', message: 'no such token record (revoked or never issued)' };
}

export interface IssueRequest {
  subject: string;
  kind: TokenKind;
  ttlMs?: number;
  clientIp?: string;
  attributes?: TokenRecord['attributes'];
}

export interface IssuedToken {
  token: string;
  jti: string;
  kind: TokenKind;
  subject: string;
  expiresAt: number | null;
  setCookie: string;
  replicated: boolean;
}

export type Validation =
  | {
      valid: true;
      claims: TokenClaims;
      expiresAt: number | null;
      reissued?: { token: string; setCookie: string; expiresAt: number };
      /**
       * One-time tokens only: `true` when this call used the token up (consume, authenticate), `false` for a
       * peek (validate), which grants nothing and leaves the token to whoever consumes it.
       */
      consumed?: boolean;
    }
  | ({ valid: false } & Refusal);

export interface TokenServiceDeps {
  nodeId: string;
  cookieName: string;
  outagePolicy: OutagePolicy;
  store: TokenStore;
  mirror: Mirror;
  codec: TokenCodec;
  policy: TokenPolicy;
  writes: WritePath;
  metrics?: Metrics;
  clock: Clock;
  logger: Logger;
  /**
   * Resolves once every live member reports having applied the marker (or
   * the wait runs out): what makes "after logout returns, no older token
   * validates anywhere" hold although validation never asks the store.
   */
  awaitMarker?: (subject: string, gen: number) => Promise<{ acknowledged: string[]; pending: string[] }>;
}

/**
 * Issue, validate, consume, revoke and log out: the product, independent of
 * HTTP and of which store runs.
 *
 * Validation is a local lookup: signature, expiry and binding from the token
 * itself, existence from the mirror. The store is asked only about a validly
 * signed token the mirror has never seen (issued a moment ago on another
 * node), and the answer "missing" is remembered briefly so a replayed bogus
 * token costs no store read.
 */
export class TokenService {
  /** What the store says about a record the mirror cannot answer for. */
  private readonly records: RecordLookup;

  /** Tokens whose signature verified lately (the hot path's largest saving). */
  private readonly verified: VerifiedTokens;
  /** New jtis (newJti's form) from pooled random bytes. */
  private readonly jtis = new JtiPool();

  constructor(private readonly d: TokenServiceDeps) {
    this.verified = new VerifiedTokens(d.codec);
    this.records = new RecordLookup(d.store, d.mirror, d.metrics);
  }

  async issue(req: IssueRequest): Promise<IssuedToken> {
    if (!isValidSubject(req.subject)) throw new BadRequestError(SUBJECT_RULE, 'request.subject');
    if (req.kind === 'api' && req.ttlMs !== undefined) {
      throw new BadRequestError('api tokens never expire: ttl is not allowed with kind "api"', 'request.ttl');
    }
    const jti = this.jtis.next(req.kind);
    const { claims, recordExpiresAt } = this.d.policy.issue(req.kind, req.subject, jti, { ttlMs: req.ttlMs, clientIp: req.clientIp });
    claims.lgn = this.d.mirror.gen(req.subject); // logouts this node knows of; a later one refuses the token
    const record = this.recordOf(claims, recordExpiresAt, req.attributes);
    if (req.kind === 'onetime') await this.dropPendingOnetime(req.subject);
    const outcome = await this.d.writes.apply({ op: 'create', record });
    this.d.metrics?.issue(req.kind);
    const token = this.d.codec.sign(claims);
    const expiresAt = claims.exp !== undefined ? claims.exp * 1000 : null;
    const setCookie = this.cookie(token, expiresAt);
    return { token, jti, kind: req.kind, subject: req.subject, expiresAt, setCookie, replicated: outcome.replicated };
  }

  /** Mirrors a token the application signed itself with the shared secret. */
  async mirrorToken(token: string): Promise<{ record: TokenRecord; replicated: boolean; created: boolean }> {
    const decoded = this.d.codec.verify(token);
    if (!decoded.ok) throw new BadRequestError(`token refused (${decoded.reason}): ${decoded.message}`, `token.${decoded.reason}`);
    const claims = decoded.claims;
    if (!isValidJti(claims.jti)) throw new BadRequestError('jti must be 8 to 64 characters of [A-Za-z0-9_.-]', 'request.jti');
    if (isProbeJti(claims.jti))
      throw new BadRequestError(`jti must not start with ${PROBE_JTI_PREFIX} (propagation probes)`, 'request.jti');
    if (!isValidSubject(claims.sub)) throw new BadRequestError(`sub ${SUBJECT_RULE.slice('subject '.length)}`, 'request.subject');
    const refusal = this.d.policy.check(claims, claims.cip);
    if (refusal) throw new BadRequestError(`token refused (${refusal.reason}): ${refusal.message}`, `token.${refusal.reason}`);
    const expiresAt = claims.exp !== undefined ? claims.exp * 1000 : null;
    const record = this.recordOf(claims, expiresAt);
    const outcome = await this.d.writes.apply({ op: 'create', record });
    this.d.metrics?.issue(claims.knd);
    return { record, replicated: outcome.replicated, created: outcome.changed };
  }

  async validate(token: unknown, clientIp?: string): Promise<Validation> {
    return this.validateNow(token, clientIp);
  }

  /**
   * {@link validate}, answered synchronously whenever the mirror settles it (a known record, a removed
   * one, a refusal by form, signature or policy): a promise only when the store must be asked about a
   * token the mirror does not know. Forward-auth answers in the same tick as the request that way, with
   * no promise hops. May throw {@link StoreUnavailableError} (outage policy `reject`).
   */
  validateNow(token: unknown, clientIp?: string): Validation | Promise<Validation> {
    const now = this.d.clock.now();
    const local = this.checkLocally(token, clientIp, now);
    if (local.valid === undefined) return this.askStore(local.claims).then((result) => this.validated(result, this.d.clock.now()));
    return this.validated(local, now);
  }

  /**
   * The verdict a request is granted on (forward-auth, the Express middleware in-process): {@link validateNow},
   * except that a one-time token is consumed as {@link consume} does, so at most one request in the cluster
   * gets through on it. Synchronous whenever validateNow is, but for one-time tokens. May throw
   * {@link StoreUnavailableError}: a one-time token cannot be consumed without the store.
   */
  authenticate(token: unknown, clientIp?: string): Validation | Promise<Validation> {
    const now = this.d.clock.now();
    const local = this.checkLocally(token, clientIp, now);
    if (local.valid === undefined) {
      const claims = local.claims;
      return this.askStore(claims).then((result) =>
        claims.knd === 'onetime' ? this.admitOnetime(result) : this.validated(result, this.d.clock.now()),
      );
    }
    if (local.valid ? local.claims.knd === 'onetime' : this.refusedOnetime(local.reason, token)) return this.admitOnetime(local);
    return this.validated(local, now);
  }

  /** A one-time token at {@link authenticate}: counted as a validation, and as a consumption like {@link consume}. */
  private async admitOnetime(checked: Validation): Promise<Validation> {
    let result = checked;
    if (checked.valid) result = await this.spend(checked.claims);
    else this.d.metrics?.consumption('lost');
    this.d.metrics?.validation(result.valid ? undefined : result.reason);
    return result;
  }

  /** Whether a token refused for `reason` is a validly signed one-time token (a verified token is remembered: no second HMAC). */
  private refusedOnetime(reason: RefusalReason, token: unknown): boolean {
    if (reason === 'malformed' || reason === 'bad_signature') return false;
    const decoded = this.verified.verify(token);
    return decoded.ok && decoded.claims.knd === 'onetime';
  }

  /** Whether validation looks at the client address at all (address binding); if not, callers need not work it out. */
  get usesClientAddress(): boolean {
    return this.d.policy.options.requireConsistentIp;
  }

  /** Counts a validation and reissues a session token past half its lifetime. */
  private validated(result: Validation, now: number): Validation {
    if (!result.valid) {
      this.d.metrics?.validation(result.reason);
      return result;
    }
    this.d.metrics?.validation(undefined);
    const claims = result.claims;
    if (claims.knd === 'onetime') return { ...result, consumed: false }; // a peek: nothing granted, nothing used up
    const next = this.d.policy.reissue(claims, now);
    if (!next) return result;
    this.d.metrics?.reissue();
    const reissuedToken = this.d.codec.sign(next);
    const nextExpiry = next.exp! * 1000;
    return { ...result, reissued: { token: reissuedToken, setCookie: this.cookie(reissuedToken, nextExpiry), expiresAt: nextExpiry } };
  }

  /** Consumes a one-time token: `valid: true` for exactly one caller in the cluster. */
  async consume(token: unknown, clientIp?: string): Promise<Validation> {
    const result = await this.check(token, clientIp);
    if (!result.valid) {
      this.d.metrics?.consumption('lost');
      return result;
    }
    if (result.claims.knd !== 'onetime') {
      throw new BadRequestError(`only one-time tokens can be consumed; this is a ${result.claims.knd} token`, 'request.kind');
    }
    return this.spend(result.claims);
  }

  /** Uses up a checked one-time token in the store: one versioned delete (or rename) decides between racers on any node. */
  private async spend(claims: TokenClaims): Promise<Validation> {
    if (!isConnected(this.d.store.state)) {
      this.d.metrics?.consumption('unavailable');
      throw new StoreUnavailableError(
        'the store is unreachable: a one-time token cannot be consumed, since once-only cannot be promised without it',
      );
    }
    // issued here during an outage, its record not replayed yet: the store's delete would find nothing and say "consumed"
    if (this.d.mirror.lookup(claims.jti).pending) {
      this.d.metrics?.consumption('unavailable');
      throw new StoreUnavailableError(
        'this one-time token was issued while the store was unreachable and is not in it yet: retry once this node has replayed its journal',
      );
    }
    const ref = this.records.refFor(claims);
    let won: boolean;
    try {
      won = await this.d.store.consume(ref);
    } catch (err) {
      if (err instanceof StoreUnavailableError) this.d.metrics?.consumption('unavailable');
      throw err;
    }
    this.d.mirror.remove(ref);
    this.d.metrics?.consumption(won ? 'won' : 'lost');
    if (!won) return { valid: false, reason: 'consumed', message: 'this one-time token was already used' };
    return { valid: true, claims, expiresAt: claims.exp! * 1000, consumed: true };
  }

  /** Revokes one token. `false` when no such record exists. */
  async revoke(jti: string): Promise<{ revoked: boolean; replicated: boolean }> {
    if (!isValidJti(jti)) throw new BadRequestError(`"${String(jti).slice(0, 80)}" is not a token id (jti)`, 'request.jti');
    if (isProbeJti(jti)) return { revoked: false, replicated: true }; // a propagation probe's record: no token
    // during a migration cutover, a token only the previous store holds is revoked there
    const ref = (await this.records.refByJti(jti)) ?? (hasFallback(this.d.store) ? await this.d.store.fallbackRef(jti) : undefined);
    if (ref === undefined) return { revoked: false, replicated: true };
    const outcome = await this.d.writes.apply({ op: 'delete', ref });
    if (outcome.changed) this.d.metrics?.revocation('token');
    return { revoked: outcome.changed, replicated: outcome.replicated };
  }

  /**
   * Logs a subject out everywhere with one write: its logout generation raised by one over the stored one, so
   * every token carrying a lower generation (every one any node answered before this call) is refused. Its
   * records are deleted lazily by the reaper. Returns how many live tokens the mirror held for it.
   */
  async logout(subject: string): Promise<LogoutOutcome> {
    if (!isValidSubject(subject)) throw new BadRequestError(SUBJECT_RULE, 'request.subject');
    const at = this.d.clock.now(); // informational only
    const count = this.d.mirror.countOf(subject);
    const outcome = await this.d.writes.apply({ op: 'marker', subject });
    const gen = outcome.gen!;
    this.d.metrics?.revocation('subject');
    const acks = outcome.replicated && this.d.awaitMarker ? await this.d.awaitMarker(subject, gen) : { acknowledged: [], pending: [] };
    return { revoked: count, replicated: outcome.replicated, gen, at, ...acks };
  }

  async inspect(jti: string): Promise<TokenRecord | undefined> {
    if (!isValidJti(jti)) throw new BadRequestError(`"${String(jti).slice(0, 80)}" is not a token id (jti)`, 'request.jti');
    const ref = isProbeJti(jti) ? undefined : await this.records.refByJti(jti);
    if (ref === undefined) return undefined;
    return this.d.store.read(ref);
  }

  list(query: ListQuery): Promise<ListPage> {
    return this.d.store.list(query);
  }

  /** What a listing shows beside a record of `subject`: its logout marker (from the mirror) and whether sessions slide. */
  listingContext(subject: string): RecordViewContext {
    const { sliding, idleTimeoutMs } = this.d.policy.options;
    return { marker: this.d.mirror.marker(subject), sliding: sliding || idleTimeoutMs > 0 };
  }

  /** Signature, policy, record and logout marker; no reissue, no counting. */
  private async check(token: unknown, clientIp: string | undefined): Promise<Validation> {
    const local = this.checkLocally(token, clientIp, this.d.clock.now());
    return local.valid === undefined ? this.askStore(local.claims) : local;
  }

  /**
   * {@link check} as far as the mirror answers it: the verdict, or (`valid: undefined`) the claims of a
   * validly signed token whose record only the store can confirm.
   */
  private checkLocally(token: unknown, clientIp: string | undefined, now: number): Validation | { valid: undefined; claims: TokenClaims } {
    const decoded = this.verified.verify(token);
    if (!decoded.ok) return { valid: false, reason: decoded.reason, message: decoded.message };
    const claims = decoded.claims;
    const refusal = this.d.policy.check(claims, clientIp, now);
    if (refusal) return { valid: false, ...refusal };
    if (this.d.outagePolicy === 'reject' && !isConnected(this.d.store.state)) {
      throw new StoreUnavailableError('the store is unreachable and cluster.store.outage.policy is reject');
    }
    // a propagation probe's record is never a token's, even in a token signed with our key for its jti
    if (isProbeJti(claims.jti)) return gone(claims);
    const seen = this.d.mirror.lookup(claims.jti);
    // Its shard not listed since a lost session or a reconnect: a record may have been deleted meanwhile, so ask
    // while the store answers. Not for a journaled write of ours: the store cannot hold it before the replay.
    const held = seen.presence === 'present' && seen.subject === claims.sub;
    if (held && !seen.pending && this.d.mirror.isStale(claims.jti) && isConnected(this.d.store.state)) return { valid: undefined, claims };
    return this.fromMirror(claims, seen) ?? { valid: undefined, claims };
  }

  /** What the mirror's entry says of a token: refused (removed, or filed under another subject), the marker check, or nothing. */
  private fromMirror(claims: TokenClaims, seen: ReturnType<Mirror['lookup']>): Validation | undefined {
    if (seen.presence === 'removed') return gone(claims);
    if (seen.presence !== 'present') return undefined;
    if (seen.subject !== claims.sub) return gone(claims);
    return this.markerCheck(claims, seen.gen ?? 0);
  }

  /**
   * The rest of {@link check} for a token the mirror does not know: the store is asked about its record. A read
   * that failed establishes nothing: a record the mirror holds is judged from the mirror (serve-cached, as while
   * disconnected), any other token gets {@link StoreUnavailableError} (503, retry), never "no such token record".
   */
  private async askStore(claims: TokenClaims): Promise<Validation> {
    // a shard waiting for a new listing is listed now (once for every token of the shard), then the mirror answers
    if (this.d.mirror.isStale(claims.jti) && (await this.records.relist(claims.jti))) {
      const verdict = this.fromMirror(claims, this.d.mirror.lookup(claims.jti));
      if (verdict) return verdict;
    }
    let ref: RecordRef | undefined;
    try {
      ref = await this.records.confirm(claims);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      const seen = this.d.mirror.lookup(claims.jti);
      if (this.d.outagePolicy === 'serve-cached' && seen.presence === 'present' && seen.subject === claims.sub) {
        return this.markerCheck(claims, seen.gen ?? 0);
      }
      throw new StoreUnavailableError(`this token's record cannot be looked up now, retry: ${err.message}`, { cause: err });
    }
    if (!ref) return gone(claims);
    return this.markerCheck(claims, ref.gen ?? 0);
  }

  /**
   * Refused when the subject was logged out everywhere after this token was issued: its logout generation
   * (`lgn`, else the one in its record's name) is below the subject's here. No clock is compared.
   */
  private markerCheck(claims: TokenClaims, recordGen: number): Validation {
    if (loggedOut(this.d.mirror.marker(claims.sub), claims.lgn, recordGen, claims.ath)) {
      return { valid: false, reason: 'revoked', message: 'the subject was logged out everywhere after this token was issued' };
    }
    return { valid: true, claims, expiresAt: claims.exp !== undefined ? claims.exp * 1000 : null };
  }

  private async dropPendingOnetime(subject: string): Promise<void> {
    for (const jti of this.d.mirror.onetimeOf(subject)) {
      const gen = this.d.mirror.lookup(jti).gen ?? 0;
      await this.d.writes.apply({ op: 'delete', ref: gen > 0 ? { jti, subject, gen } : { jti, subject } });
    }
  }

  private recordOf(claims: TokenClaims, expiresAt: number | null, attributes?: TokenRecord['attributes']): TokenRecord {
    const record: TokenRecord = {
      jti: claims.jti,
      subject: claims.sub,
      kind: claims.knd ?? kindOfJti(claims.jti) ?? 'session',
      issuedAt: claims.ath,
      expiresAt,
      node: this.d.nodeId,
      // A token without lgn (the application signed it) is stamped with what this node knows, in the record's name too.
      gen: claims.lgn ?? this.d.mirror.gen(claims.sub),
    };
    // the token's own expiry, shown apart from the record's retention (a 10 s token in a record kept 30 d)
    if (record.kind === 'session' && claims.exp !== undefined) record.tokenExpiresAt = claims.exp * 1000;
    if (claims.cip) record.clientIp = claims.cip;
    if (attributes && Object.keys(attributes).length > 0) record.attributes = attributes;
    return record;
  }

  /** Set-Cookie for a token (see set-cookie.ts). */
  cookie(token: string, expiresAt: number | null): string {
    return setCookieLine(this.d.cookieName, token, expiresAt, this.d.clock.now());
  }
}
