import type { Decoded, TokenCodec } from '../tokens/token-codec.js';

/** Verified tokens remembered, in two generations of half this each: ~5 MB at most. */
const VERIFIED_CAPACITY = 10_000;
/** Characters of a token's end that key it among the verified ones: 132 bits of its signature, a hit still needing the whole text. */
const VERIFIED_KEY_CHARS = 22;

/** A token whose signature verified, remembered under the end of its signature. */
interface Verified {
  tail: string;
  token: string;
  decoded: Extract<Decoded, { ok: true }>;
}

/**
 * Tokens whose signature verified lately: a session cookie is presented on every request of its user, and
 * the signature check is the largest cost of a validation. Expiry, binding, the record and logout markers
 * stay the caller's, checked every time. Keyed by the token's last {@link VERIFIED_KEY_CHARS} characters
 * (its signature), a hit counting only when the whole text is the same: hashing a cookie's few hundred
 * characters (a fresh string every request) costs more than the rest of a cached validation.
 */
export class VerifiedTokens {
  private current = new Map<string, Verified>();
  private before = new Map<string, Verified>();

  constructor(
    private readonly codec: TokenCodec,
    private readonly capacity = VERIFIED_CAPACITY,
  ) {}

  /**
   * The codec's verdict on a token's form and signature, remembered when these very bytes passed
   * before. Only tokens naming their key (`kid`) are kept, and a hit counts only while that key is still
   * accepted, so a retired secret stops verifying at once. The claims are frozen: callers share them.
   */
  verify(token: unknown): Decoded {
    if (typeof token !== 'string') return this.codec.verify(token);
    const tail = token.slice(-VERIFIED_KEY_CHARS);
    let hit = this.current.get(tail);
    if (hit === undefined) {
      hit = this.before.get(tail);
      if (hit !== undefined && hit.token === token && this.codec.accepts(hit.decoded.kid!)) this.remember(hit);
    }
    if (hit !== undefined && hit.token === token && this.codec.accepts(hit.decoded.kid!)) return hit.decoded;
    const decoded = this.codec.verify(token);
    if (decoded.ok && decoded.kid !== undefined) {
      Object.freeze(decoded.claims);
      // Copies: a slice of the request's Cookie header would keep the whole header alive as long as the entry.
      const own = Buffer.from(token, 'latin1').toString('latin1'); // a verified token is base64url text (ASCII)
      this.remember({ tail: own.slice(-VERIFIED_KEY_CHARS), token: own, decoded });
    }
    return decoded;
  }

  /** Tokens remembered in both generations (for tests and sizing). */
  get size(): number {
    return this.current.size + this.before.size;
  }

  /**
   * Two generations instead of evicting the oldest entry one by one: a Map iterated from its start skips every
   * entry deleted since its last rehash, which made each eviction cost as much as the verify it saved.
   */
  private remember(entry: Verified): void {
    if (this.current.size >= this.capacity / 2) {
      this.before = this.current;
      this.current = new Map();
    }
    this.current.set(entry.tail, entry);
  }
}
