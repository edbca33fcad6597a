import type { TokenKind } from '../client/types.js';

/** Who made the request, as the sidecar vouched for it: what `tokensyncAuth()` puts on `req.auth`. */
export interface TokensyncAuth {
  subject: string;
  /** The token's id: revoke it with `client.revoke(jti)`. */
  jti: string;
  kind: TokenKind;
  /** ISO 8601 (of the reissued token when it was reissued on this request); `null` for api tokens. */
  expiresAt: string | null;
}

declare global {
  // Express's documented way to type what middleware adds to the request (declaration merging).
  namespace Express {
    interface Request {
      /** Set by `tokensyncAuth()` when the request carries a valid token; `undefined` otherwise. */
      auth?: TokensyncAuth;
    }
  }
}
