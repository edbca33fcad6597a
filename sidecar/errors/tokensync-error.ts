/**
 * Base of every error tokensync raises on purpose. `code` is stable and
 * namespaced (`store.unavailable`, `request.invalid`), so the HTTP layer and
 * the CLI can map errors to statuses and exit codes without string matching.
 */
export abstract class TokensyncError extends Error {
  abstract readonly code: string;
  /** HTTP status the API answers with when this error reaches it. */
  readonly status: number = 500;
}
