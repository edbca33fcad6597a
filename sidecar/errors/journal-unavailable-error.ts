import { TokensyncError } from './tokensync-error.js';

/**
 * A write could not be kept: the store is unreachable and the journal that would have kept it cannot be
 * written (disk full, read-only, I/O error). Answered 503, like an unreachable store: nothing was changed.
 */
export class JournalUnavailableError extends TokensyncError {
  override readonly name = 'JournalUnavailableError';
  readonly code = 'journal.unavailable';
  override readonly status = 503;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
