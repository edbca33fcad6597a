import { TokensyncError } from './tokensync-error.js';

/** The cluster store cannot be reached (ZooKeeper down, shared folder unwritable). */
export class StoreUnavailableError extends TokensyncError {
  override readonly name = 'StoreUnavailableError';
  readonly code = 'store.unavailable';
  override readonly status = 503;
  /**
   * A create whose answer was lost: the receipt its transaction carried, which tells whether it was applied
   * (ReplayReceipts in store/token-store.ts). Unset: the write was not sent, or carried no receipt.
   */
  receipt?: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
