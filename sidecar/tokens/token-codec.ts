import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SigningKey } from './secret-file.js';
import type { Refusal, TokenClaims } from './token-claims.js';
import { TOKEN_KINDS } from '../store/token-record.js';
import { isGen } from '../store/logout-marker.js';

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
 * Signing and verifying are done here with node:crypto, not jsonwebtoken
 * (jsonwebtoken -> jws -> jwa decoded the header twice and cost twice a
 * direct check; signing validated its options, built the header and copied
 * the payload on every call, about twice a direct HMAC). Verifying makes the
 * same checks in the same order, so every input gets the same verdict as
 * `jwt.verify` with the algorithm pinned, which
 * token-codec.equivalence.test.ts compares on valid, tampered, re-signed and
 * malformed tokens. The signature is compared in constant time and must be
 * the canonical base64url of the HMAC. Signing writes, byte for byte, the
 * token `jwt.sign(claims, key, { algorithm, keyid })` wrote
 * (token-codec.sign-equivalence.test.ts).
 */
export class TokenCodec {
  private keys: SigningKey[] = [];
  private byKid = new Map<string, SigningKey>();
  /** The header segments our own signing writes (`{"alg","typ":"JWT","kid"}`), one per key: no need to parse them. */
  private byHeader = new Map<string, SigningKey>();
  /** The first key and the header segment jsonwebtoken wrote for it. */
  private signer!: { key: SigningKey; header: string };
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
    // jws encodes the header text as latin1 ('binary'), the payload as UTF-8; a kid is ASCII (kidOf), but say it as jws does.
    const signer = keys[0]!;
    const header = Buffer.from(JSON.stringify({ alg: this.algorithm, typ: 'JWT', kid: signer.kid }), 'latin1').toString('base64url');
    this.signer = { key: signer, header };
  }

  get kids(): string[] {
    return this.keys.map((k) => k.kid);
  }

  /** Whether tokens naming this key id still verify (false once its secret is retired). */
  accepts(kid: string): boolean {
    return this.byKid.has(kid);
  }

  /**
   * A JWS of the claims with the first key: `base64url(header).base64url(JSON of the claims).base64url(HMAC)`,
   * what `jwt.sign(claims, key, { algorithm, keyid: kid })` wrote (jws: the header `{"alg","typ":"JWT","kid"}`,
   * the payload as JSON.stringify writes the claims, the HMAC of both segments; the claims' own `iat`, or
   * now when it is 0 or absent). Throws where jsonwebtoken threw: claims that are not a plain object, a claim
   * named like an Object.prototype member, an `iat`, `exp` or `nbf` that is not a number.
   */
  sign(claims: TokenClaims): string {
    const signer = this.signer;
    const input = `${signer.header}.${Buffer.from(JSON.stringify(signable(claims)), 'utf8').toString('base64url')}`;
    return `${input}.${createHmac(this.hash, signer.key.key).update(input).digest('base64url')}`;
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

/** jsonwebtoken's checks of the registered time claims (sign.js `registered_claims_schema`, lodash isNumber). */
const TIME_CLAIM_MESSAGES: Record<string, string> = {
  iat: '"iat" should be a number of seconds',
  exp: '"exp" should be a number of seconds',
  nbf: '"nbf" should be a number of seconds',
};

/**
 * The payload jwt.sign wrote for these claims, and the errors it threw. Its `validatePayload`: a plain object,
 * then each claim name in order looked up in a plain object of validators, so that a name like "constructor"
 * found a member of Object.prototype and threw a TypeError, and an iat, exp or nbf not a number threw. Then a
 * copy (`Object.assign({}, claims)`, which JSON.stringify writes as it writes the claims themselves, names
 * like "__proto__" being refused above) whose `iat` is `claims.iat || now`.
 */
function signable(claims: TokenClaims): object {
  if (claims === null || typeof claims !== 'object') throw new Error('Expected "payload" to be a plain object.');
  const proto: unknown = Object.getPrototypeOf(claims);
  if (proto !== Object.prototype && proto !== null) throw new Error('Expected "payload" to be a plain object.');
  const c = claims as unknown as Record<string, unknown>;
  for (const name of Object.keys(c)) {
    if (name in Object.prototype) throw new TypeError(`claim name ${JSON.stringify(name)} cannot be signed (jsonwebtoken refused it)`);
    const message = TIME_CLAIM_MESSAGES[name];
    if (message !== undefined && typeof c[name] !== 'number' && !(c[name] instanceof Number)) throw new Error(message);
  }
  return claims.iat ? claims : { ...claims, iat: Math.floor(Date.now() / 1000) };
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
    if (value < 0 || value > (claim === 'ath' ? MAX_TIME_SECONDS * 1000 : MAX_TIME_SECONDS)) {
      return `${claim} is out of range (a time from 1970 to 9999)`;
    }
  }
  if (p.cip !== undefined && typeof p.cip !== 'string') return 'cip is not a string';
  if (p.lgn !== undefined && !isGen(p.lgn)) return 'lgn is not a logout generation (an integer from 0)';
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
