import jwt from 'jsonwebtoken';
import type { SigningKey } from './secret-file.js';
import type { Refusal, TokenClaims } from './token-claims.js';
import { TOKEN_KINDS } from '../store/token-record.js';

export type Algorithm = 'HS256' | 'HS384' | 'HS512';

/** Longest token accepted; anything longer is refused before any parsing. */
export const MAX_TOKEN_LENGTH = 4096;

export type Decoded = { ok: true; claims: TokenClaims; kid: string | undefined } | ({ ok: false } & Refusal);

/**
 * Signs and verifies tokens with the shared secrets. The algorithm is pinned:
 * a header asking for any other (`none`, RS256 for key confusion) is refused
 * before a key is touched. Keys are KeyObjects built once, since jsonwebtoken
 * handed a string secret tries a public-key parse on every call.
 */
export class TokenCodec {
  private keys: SigningKey[] = [];
  private byKid = new Map<string, SigningKey>();

  constructor(
    keys: SigningKey[],
    readonly algorithm: Algorithm = 'HS256',
  ) {
    this.setKeys(keys);
  }

  /** Replaces the keys (secret rotation): the first signs, all verify. */
  setKeys(keys: SigningKey[]): void {
    if (keys.length === 0) throw new Error('at least one signing key is required');
    this.keys = keys;
    this.byKid = new Map(keys.map((k) => [k.kid, k]));
  }

  get kids(): string[] {
    return this.keys.map((k) => k.kid);
  }

  /** Whether tokens naming this key id still verify (false once its secret is retired). */
  accepts(kid: string): boolean {
    return this.byKid.has(kid);
  }

  sign(claims: TokenClaims): string {
    const signer = this.keys[0]!;
    return jwt.sign(claims as object, signer.key, {
      algorithm: this.algorithm,
      keyid: signer.kid, // jsonwebtoken keeps the payload's own iat (noTimestamp would delete it)
    });
  }

  /** Checks form and signature only; expiry and the record are the policy's and the mirror's. */
  verify(token: unknown): Decoded {
    if (typeof token !== 'string' || token.length === 0) return malformed('no token');
    if (token.length > MAX_TOKEN_LENGTH) return malformed(`token longer than ${MAX_TOKEN_LENGTH} characters`);
    const dot = token.indexOf('.');
    if (dot <= 0 || token.indexOf('.', dot + 1) < 0) return malformed('not a JWT (three dot-separated parts)');
    let header: { alg?: unknown; kid?: unknown };
    try {
      header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    } catch {
      return malformed('JWT header is not base64url JSON');
    }
    if (header === null || typeof header !== 'object') return malformed('JWT header is not an object');
    if (header.alg !== this.algorithm) {
      return { ok: false, reason: 'bad_signature', message: `algorithm ${String(header.alg)} is not accepted (only ${this.algorithm})` };
    }
    let candidates: SigningKey[];
    if (header.kid === undefined) {
      candidates = this.keys; // tokens an application signed itself may carry no kid
    } else {
      const key = typeof header.kid === 'string' ? this.byKid.get(header.kid) : undefined;
      if (!key) return { ok: false, reason: 'bad_signature', message: 'unknown key id (kid)' };
      candidates = [key];
    }
    let payload: unknown;
    let lastError: unknown;
    for (const candidate of candidates) {
      try {
        payload = jwt.verify(token, candidate.key, {
          algorithms: [this.algorithm],
          ignoreExpiration: true,
          ignoreNotBefore: true,
        });
        break;
      } catch (err) {
        lastError = err;
      }
    }
    if (payload === undefined) {
      const message = lastError instanceof Error ? lastError.message : 'verification failed';
      return message === 'invalid signature'
        ? { ok: false, reason: 'bad_signature', message: 'signature does not verify with any accepted secret' }
        : malformed(message);
    }
    const claims = normalizeClaims(payload);
    if (typeof claims === 'string') return malformed(claims);
    return { ok: true, claims, kid: typeof header.kid === 'string' ? header.kid : undefined };
  }
}

/** 9999-12-31T23:59:59Z: the latest time a claim may name. */
const MAX_TIME_SECONDS = 253_402_300_799;

function malformed(message: string): Decoded {
  return { ok: false, reason: 'malformed', message };
}

/** Checks claim types; tokens the application signed itself get defaults for our private claims. */
function normalizeClaims(payload: unknown): TokenClaims | string {
  if (payload === null || typeof payload !== 'object') return 'payload is not an object';
  const p = payload as Record<string, unknown>;
  // jsonwebtoken looks claim names up in a plain object when signing: a claim named like an
  // Object.prototype member ("constructor", "__proto__") makes the reissue of such a token throw.
  const inherited = Object.keys(p).find((name) => name in Object.prototype);
  if (inherited !== undefined) return `claim name ${JSON.stringify(inherited)} is not accepted`;
  if (typeof p.sub !== 'string' || p.sub === '') return 'missing sub';
  if (typeof p.jti !== 'string' || p.jti === '') return 'missing jti';
  const kind = p.knd ?? 'session';
  if (!TOKEN_KINDS.includes(kind as never)) return 'unknown token kind';
  for (const claim of ['iat', 'exp', 'nbf', 'ath', 'lft'] as const) {
    const value = p[claim];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) return `${claim} is not a number`;
    // Every time ends up in a Date (records, answers, messages), and toISOString() throws past year 275760.
    if (value < 0 || value > (claim === 'ath' ? MAX_TIME_SECONDS * 1000 : MAX_TIME_SECONDS)) return `${claim} is out of range (a time from 1970 to 9999)`;
  }
  if (p.cip !== undefined && typeof p.cip !== 'string') return 'cip is not a string';
  const iat = (p.iat as number | undefined) ?? 0;
  return {
    ...(p as object),
    sub: p.sub,
    jti: p.jti,
    knd: kind as TokenClaims['knd'],
    iat,
    ath: (p.ath as number | undefined) ?? iat * 1000,
  } as TokenClaims;
}
