import type { Clock } from '../util/clock.js';
import type { TokenKind } from '../store/token-record.js';
import type { Refusal, TokenClaims } from './token-claims.js';
import { normalizeIp } from '../util/ip.js';
import type { TokenOptions } from '../config/options.js';

/** The `authentication.token.*` settings the policy applies (documented on {@link TokenOptions}). */
export type TokenPolicyOptions = Pick<
  TokenOptions,
  'expirationMs' | 'sliding' | 'absoluteLifetimeMs' | 'idleTimeoutMs' | 'onetimeExpirationMs' | 'requireConsistentIp' | 'clockSkewMs'
>;

export interface NewToken {
  claims: TokenClaims;
  /** When the record may be reaped: the latest moment any token of this jti can be valid. */
  recordExpiresAt: number | null;
}

const s = (ms: number) => Math.floor(ms / 1000);
/** Expiry rounds up: a token lives at least its lifetime (JWT times are whole seconds). */
const sUp = (ms: number) => Math.ceil(ms / 1000);

/**
 * Lifetimes, sliding reissue, idle timeout and address binding. Pure given the
 * clock: no I/O, so every rule is unit-tested with a manual clock.
 *
 * The idle timeout costs no store write per request: a session token's own
 * `exp` is at most the idle timeout ahead and it is reissued while in use, so
 * a token left unused simply runs out (and is refused as `idle_timeout`).
 */
export class TokenPolicy {
  constructor(
    readonly options: TokenPolicyOptions,
    private readonly clock: Clock,
  ) {}

  /** Claims for a new token. `ttlMs` overrides the configured lifetime of a session or one-time token. */
  issue(kind: TokenKind, subject: string, jti: string, extra: { ttlMs?: number; clientIp?: string } = {}): NewToken {
    const now = this.clock.now();
    const claims: TokenClaims = { sub: subject, jti, knd: kind, iat: s(now), ath: now };
    const ip = extra.clientIp ? normalizeIp(extra.clientIp) : undefined;
    if (ip) claims.cip = ip;
    if (kind === 'api') return { claims, recordExpiresAt: null };
    if (kind === 'onetime') {
      const exp = now + (extra.ttlMs ?? this.options.onetimeExpirationMs);
      claims.exp = sUp(exp);
      return { claims, recordExpiresAt: claims.exp * 1000 };
    }
    if (extra.ttlMs !== undefined) claims.lft = s(extra.ttlMs);
    const { exp, idle } = this.sessionExpiry(claims, now);
    claims.exp = sUp(exp);
    if (idle) claims.idl = 1;
    return { claims, recordExpiresAt: this.hardLimit(claims) };
  }

  /** Expiry, not-before and address binding; `undefined` when none refuses the token. `now`: a clock reading the caller already has. */
  check(claims: TokenClaims, clientIp: string | undefined, now = this.clock.now()): Refusal | undefined {
    const skew = this.options.clockSkewMs;
    if (claims.nbf !== undefined && now < claims.nbf * 1000 - skew) {
      return { reason: 'expired', message: `not valid before ${new Date(claims.nbf * 1000).toISOString()}` };
    }
    if (claims.exp !== undefined && now > claims.exp * 1000 + skew) {
      return claims.idl
        ? { reason: 'idle_timeout', message: `unused for longer than the idle timeout` }
        : { reason: 'expired', message: `expired at ${new Date(claims.exp * 1000).toISOString()}` };
    }
    if (this.options.requireConsistentIp && claims.cip !== undefined) {
      const ip = clientIp ? normalizeIp(clientIp) : undefined;
      if (ip !== claims.cip) {
        const message = ip ? 'presented from another client address than it was issued to' : 'bound to a client address, none given';
        return { reason: 'ip_mismatch', message };
      }
    }
    return undefined;
  }

  /**
   * New claims when a session token is presented past half its lifetime and
   * may still be extended; `undefined` otherwise. Same jti, so revoking the
   * record revokes every reissued copy.
   */
  reissue(claims: TokenClaims, now = this.clock.now()): TokenClaims | undefined {
    if (claims.knd !== 'session' || claims.exp === undefined) return undefined;
    if (!this.options.sliding && this.options.idleTimeoutMs === 0) return undefined;
    const iat = claims.iat * 1000;
    const exp = claims.exp * 1000;
    if (now < iat + (exp - iat) / 2) return undefined;
    const next = this.sessionExpiry(claims, now);
    if (next.exp < exp + 1000) return undefined; // no real extension: keep the cookie as it is
    const out: TokenClaims = { ...claims, iat: s(now), exp: sUp(next.exp) };
    if (next.idle) out.idl = 1;
    else delete out.idl;
    return out;
  }

  private lifetime(claims: TokenClaims): number {
    return claims.lft !== undefined ? claims.lft * 1000 : this.options.expirationMs;
  }

  /** The latest moment a session token of this login can be valid. */
  private hardLimit(claims: TokenClaims): number {
    const lifetime = this.lifetime(claims);
    return claims.ath + (this.options.sliding ? Math.max(this.options.absoluteLifetimeMs, lifetime) : lifetime);
  }

  private sessionExpiry(claims: TokenClaims, now: number): { exp: number; idle: boolean } {
    const byLifetime = Math.min(now + this.lifetime(claims), this.hardLimit(claims));
    const idle = this.options.idleTimeoutMs;
    if (idle > 0 && now + idle < byLifetime) return { exp: now + idle, idle: true };
    return { exp: byLifetime, idle: false };
  }
}
