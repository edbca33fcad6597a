import type { IssuedToken, IssueOptions, LogoutResult, RevokeResult, Validation, ValidateOptions } from '../client/types.js';

/**
 * What `tokensyncAuth()`, `login()` and `logout()` need: a `TokensyncClient` (through the sidecar's HTTP API) or
 * an `InProcessTokensync` (the store and mirror inside the application process). Both answer in the API's shapes.
 */
export interface TokensyncBackend {
  validate(token: string, options?: ValidateOptions): Promise<Validation>;
  /** The verdict `tokensyncAuth()` grants a request on: `validate`, but a one-time token is consumed (at most one request through, cluster-wide). */
  authenticate(token: string, options?: ValidateOptions): Promise<Validation>;
  issue(subject: string, options?: IssueOptions): Promise<IssuedToken>;
  revoke(jti: string): Promise<RevokeResult>;
  logout(subject: string): Promise<LogoutResult>;
}
