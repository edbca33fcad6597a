import { TokensyncError } from './tokensync-error.js';

/** The cluster store cannot be reached (ZooKeeper down, shared folder unwritable). */
export class StoreUnavailableError extends TokensyncError {
  override readonly name = 'StoreUnavailableError';
  readonly code = 'store.unavailable';
  override readonly status = 503;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
