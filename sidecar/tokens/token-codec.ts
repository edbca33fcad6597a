import { createHmac, timingSafeEqual } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { SigningKey } from './secret-file.js';
import type { Refusal, TokenClaims } from './token-claims.js';
import { TOKEN_KINDS } from '../store/token-record.js';

export type Algorithm = 'HS256' | 'HS384' | 'HS512';

/** Longest token accepted; anything longer is refused before any parsing. */
export const MAX_TOKEN_LENGTH = 4096;

export type Decoded = { ok: true; claims: TokenClaims; kid: string | undefined } | ({ ok: false } & Refusal);

/** node:crypto's name of each algorithm's hash. */
const HASHES: Record<Algorithm, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** A compact JWS as jws (under jsonwebtoken) accepts it: three base64url parts, the last one possibly empty. */
const JWS_FORM = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Signs and verifies tokens with the shared secrets. The algorithm is pinned:
 * a header asking for any other (`none`, RS256 for key confusion, HS384 when
 * HS256 is configured) is refused before a key is touched.
 *
 * Signing is jsonwebtoken's. Verifying is done here with node:crypto
 * (jsonwebtoken -> jws -> jwa decoded the header twice and cost twice a
 * direct check): the same checks in the same order, so every input gets the
 * same verdict as `jwt.verify` with the algorithm pinned, which
 * token-codec.equivalence.test.ts compares on valid, tampered, re-signed and
 * malformed tokens. The signature is compared in constant time and must be
 * the canonical base64url of the HMAC.
 */
export class TokenCodec {
  private keys: SigningKey[] = [];
  private byKid = new Map<string, SigningKey>();
  /** The header segments our own signing writes (`{"alg","typ":"JWT","kid"}`), one per key: no need to parse them. */
  private byHeader = new Map<string, SigningKey>();
  private readonly hash: string;

  constructor(
    keys: SigningKey[],
    readonly algorithm: Algorithm = 'HS256',
  ) {
    this.hash = HASHES[algorithm];
    if (this.hash === undefined) throw new Error(`unsupported algorithm ${String(algorithm)}`);
    this.setKeys(keys);
  }

  /** Replaces the keys (secret rotation): the first signs, all verify. */
  setKeys(keys: SigningKey[]): void {
    if (keys.length === 0) throw new Error('at least one signing key is required');
    this.keys = keys;
    this.byKid = new Map(keys.map((k) => [k.kid, k]));
    this.byHeader = new Map(
      keys.map((k) => [Buffer.from(JSON.stringify({ alg: this.algorithm, typ: 'JWT', kid: k.kid })).toString('base64url'), k]),
    );
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
    const last = dot <= 0 ? -1 : token.indexOf('.', dot + 1);
    if (last < 0) return malformed('not a JWT (three dot-separated parts)');
    const headerSegment = token.slice(0, dot);
    let candidates: SigningKey[];
    let kid: string | undefined;
    let typJwt: boolean;
    const ours = this.byHeader.get(headerSegment);
    if (ours !== undefined) {
      candidates = [ours];
      kid = ours.kid;
      typJwt = true;
    } else {
      let header: { alg?: unknown; kid?: unknown; typ?: unknown };
      try {
        header = JSON.parse(Buffer.from(headerSegment, 'base64url').toString('utf8'));
      } catch {
        return malformed('JWT header is not base64url JSON');
      }
      if (header === null || typeof header !== 'object') return malformed('JWT header is not an object');
      if (header.alg !== this.algorithm) {
        return { ok: false, reason: 'bad_signature', message: `algorithm ${String(header.alg)} is not accepted (only ${this.algorithm})` };
      }
      if (header.kid === undefined) {
        candidates = this.keys; // tokens an application signed itself may carry no kid
      } else {
        const key = typeof header.kid === 'string' ? this.byKid.get(header.kid) : undefined;
        if (!key) return { ok: false, reason: 'bad_signature', message: 'unknown key id (kid)' };
        candidates = [key];
        kid = key.kid;
      }
      typJwt = header.typ === 'JWT';
    }
    // From here jsonwebtoken's order: the form of the whole token, the payload of a typ JWT, a signature at all, the signature.
    // (jws also parses the header again, as latin1: bytes past ASCII can only stand inside JSON strings, so
    // a header that parsed above parses there too.)
    if (!JWS_FORM.test(token)) return malformed('not a JWT (three parts of base64url characters)');
    const payloadText = Buffer.from(token.slice(dot + 1, last), 'base64url').toString('utf8');
    let payload: unknown;
    if (typJwt) {
      try {
        payload = JSON.parse(payloadText);
      } catch {
        return malformed('JWT payload is not JSON');
      }
    }
    if (last === token.length - 1) return malformed('the token carries no signature');
    const signingInput = token.slice(0, last);
    const signature = token.slice(last + 1);
    if (!candidates.some((candidate) => this.signatureMatches(signingInput, signature, candidate))) {
      return { ok: false, reason: 'bad_signature', message: 'signature does not verify with any accepted secret' };
    }
    if (!typJwt) {
      try {
        payload = JSON.parse(payloadText);
      } catch {
        payload = payloadText; // not an object: normalizeClaims refuses it
      }
    }
    const claims = normalizeClaims(payload);
    if (typeof claims === 'string') return malformed(claims);
    return { ok: true, claims, kid };
  }

  /** Constant-time HMAC check; the signature must also be written canonically (as jwa compares base64url text). */
  private signatureMatches(signingInput: string, signature: string, key: SigningKey): boolean {
    const mac = createHmac(this.hash, key.key).update(signingInput).digest();
    const given = Buffer.from(signature, 'base64url');
    return given.length === mac.length && timingSafeEqual(given, mac) && given.toString('base64url') === signature;
  }
}

/** 9999-12-31T23:59:59Z: the latest time a claim may name. */
const MAX_TIME_SECONDS = 253_402_300_799;

function malformed(message: string): Decoded {
  return { ok: false, reason: 'malformed', message };
}

/** Checks claim types; tokens the application signed itself get defaults for our private claims. Exported for tests. */
export function normalizeClaims(payload: unknown): TokenClaims | string {
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
