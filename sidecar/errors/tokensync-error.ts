import type { TokensyncErrorCode } from './error-codes.js';

/**
 * Base of every error tokensync raises on purpose. `code` is stable, namespaced
 * (`store.unavailable`, `request.invalid`) and one of a closed set, so the HTTP
 * layer and the CLI map errors to statuses and exit codes by table.
 */
export abstract class TokensyncError extends Error {
  abstract readonly code: TokensyncErrorCode;
  /** HTTP status the API answers with when this error reaches it. */
  readonly status: number = 500;
}
