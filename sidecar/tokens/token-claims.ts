import type { TokenKind } from '../store/token-record.js';

/**
 * What a tokensync JWT carries. Everything validation needs is here, signed,
 * so the mirror only has to answer "does this jti still exist?".
 */
export interface TokenClaims {
  sub: string;
  jti: string;
  /** Kind of token. */
  knd: TokenKind;
  /** This issue (or reissue), seconds. */
  iat: number;
  /** Expiry, seconds; absent for api tokens. */
  exp?: number;
  nbf?: number;
  /** First login, milliseconds (absolute lifetime; the legacy logout rule only). */
  ath: number;
  /**
   * The subject's logout generation the issuing node knew: refused once a node knows a higher one. Kept by a
   * reissue. Absent on tokens from before generations and on tokens the application signs itself.
   */
  lgn?: number;
  /** Client address the token is bound to. */
  cip?: string;
  /** 1 when `exp` was set by the idle timeout rather than the lifetime, so a late token is refused as `idle_timeout`. */
  idl?: 1;
  /** Lifetime of this session in seconds when the issuer chose one (`ttl`), else the configured expiration applies. */
  lft?: number;
}

/** Why a token is refused: stable strings the API, the CLI and metrics use. */
export type RefusalReason = 'malformed' | 'bad_signature' | 'expired' | 'revoked' | 'idle_timeout' | 'ip_mismatch' | 'consumed';

export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'malformed',
  'bad_signature',
  'expired',
  'revoked',
  'idle_timeout',
  'ip_mismatch',
  'consumed',
];

export interface Refusal {
  reason: RefusalReason;
  message: string;
}
