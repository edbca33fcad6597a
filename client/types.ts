/**
 * What the sidecar's HTTP API answers, as the client returns it. Field names
 * and value shapes are the API's own (README "HTTP API"): times stay ISO 8601
 * strings, `null` where the API says `null`. Kept free of imports from
 * `sidecar/` so that `tokensync/client` loads nothing of the daemon.
 */

export type TokenKind = 'session' | 'api' | 'onetime';

/** Why a token is refused (README "Tokens"); one per refusal. */
export type RefusalReason = 'malformed' | 'bad_signature' | 'expired' | 'revoked' | 'idle_timeout' | 'ip_mismatch' | 'consumed';

/** `POST /v1/tokens {subject, ...}` → 201. */
export interface IssuedToken {
  token: string;
  jti: string;
  kind: TokenKind;
  subject: string;
  /** ISO 8601; `null` for api tokens, which never expire. */
  expiresAt: string | null;
  /** A complete `Set-Cookie` header value for the token (session tokens are meant to be cookies). */
  setCookie: string;
  /** `false` when the store was unreachable: the token is journaled and valid on this node, replicated later. */
  replicated: boolean;
}

export interface IssueOptions {
  /** Default `session`. */
  kind?: TokenKind;
  /** Seconds, or a duration string (`45s`, `30m`, `12h`, `7d`); not allowed for `api` tokens. */
  ttl?: number | string;
  /** Binds the token to this client address (enforced when `authentication.token.require.consistent.ip=true`). */
  clientIp?: string;
  attributes?: Record<string, string | number | boolean | null>;
}

/** A token record as the store holds it (never the token itself). */
export interface TokenRecord {
  jti: string;
  subject: string;
  kind: TokenKind;
  /** First login, ISO 8601 (a reissued session keeps it). */
  issuedAt: string;
  /** When the record may be reaped, ISO 8601; `null` for api tokens. The same as `retainedUntil`. */
  expiresAt: string | null;
  /** The record's retention: the latest any token of it can be valid, ISO 8601; `null` for api tokens. */
  retainedUntil?: string | null;
  /**
   * The token's own expiry as issued, ISO 8601 (`null`: api tokens never expire); a sliding session token in use
   * is reissued with a later one. Absent where unknown (records written by an older tokensync).
   */
  tokenExpiresAt?: string | null;
  /** session tokens in a listing: reissued while in use (authentication.token.sliding or an idle timeout). */
  sliding?: boolean;
  /** In a listing: a logout of the subject revoked it; the reaper deletes the record later. */
  revokedByLogout?: boolean;
  /** node.id of the sidecar that issued or mirrored it. */
  node: string;
  clientIp?: string;
  attributes?: Record<string, string | number | boolean | null>;
}

/** `POST /v1/tokens {token}` → 201 (new) or 200 (already there). */
export interface MirroredToken extends TokenRecord {
  replicated: boolean;
  /** `true` when this call created the record (HTTP 201), `false` when it was already there (200). */
  created: boolean;
}

export interface ReissuedToken {
  token: string;
  setCookie: string;
  expiresAt: string;
}

/** `POST /v1/validate` and `POST /v1/tokens/consume` → 200; `authenticate()`'s grant. */
export interface ValidToken {
  valid: true;
  subject: string;
  jti: string;
  kind: TokenKind;
  expiresAt: string | null;
  /** Present when a session token past half its lifetime was reissued: send `setCookie` to the browser. */
  reissued?: ReissuedToken;
  /**
   * One-time tokens only. `false` from `validate()`: a peek, which grants nothing and leaves the token unused;
   * never let a request through on it. `true` from `consume()` / `authenticate()`: this caller used the token up.
   */
  consumed?: boolean;
}

/** `POST /v1/validate` and `POST /v1/tokens/consume` → 401: a result, not an error. */
export interface RefusedToken {
  valid: false;
  reason: RefusalReason;
  message: string;
}

export type Validation = ValidToken | RefusedToken;

export interface ValidateOptions {
  /** The end user's address, for tokens bound to one. */
  clientIp?: string;
}

/** `DELETE /v1/tokens/{jti}`: 204 → `revoked: true`, 404 → `revoked: false`. */
export interface RevokeResult {
  revoked: boolean;
  /** From `X-Replicated`; `true` when nothing was revoked. */
  replicated: boolean;
}

/** `DELETE /v1/subjects/{subject}/tokens` → 200. */
export interface LogoutResult {
  /** Live tokens of the subject the answering sidecar knew of. */
  revoked: number;
  replicated: boolean;
  /** The subject's logout generation now: every token issued at a lower one (all issued before the call) is refused everywhere. */
  gen: number;
  /** ISO 8601, informational: when the answering sidecar took the logout (never compared with another clock). */
  at: string;
  /** Members that reported the logout applied before the call returned. */
  acknowledgedBy: string[];
  /** Members that had not within the sidecar's wait (3 s). */
  notYetAcknowledgedBy: string[];
}

export interface ListQuery {
  subject?: string;
  kind?: TokenKind;
  /** 1 to 1000; the sidecar's default is 100. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** `GET /v1/tokens` → 200. */
export interface TokenPage {
  items: TokenRecord[];
  nextCursor: string | null;
}

/** `GET /healthz` → 200. */
export interface Health {
  status: 'ok' | 'degraded';
  [key: string]: unknown;
}
