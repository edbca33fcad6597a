import { TokensyncError } from './tokensync-error.js';

/** No record with that jti (or no such route). */
export class NotFoundError extends TokensyncError {
  override readonly name = 'NotFoundError';
  readonly code = 'token.not_found';
  override readonly status = 404;
}
