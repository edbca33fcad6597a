import type { StoreErrorCode } from '../../errors/error-codes.js';
import { TokensyncError } from '../../errors/tokensync-error.js';

type ZooKeeperStoreErrorCode = Extract<StoreErrorCode, `store.zookeeper.${string}`>;

/**
 * The ensemble answered, but not as the store needs: the tree is protected by another identity
 * (`store.zookeeper.noauth`), `/meta` describes another layout (`store.zookeeper.layout`), or a request
 * failed for a reason other than reachability (`store.zookeeper.failed`). Unreachability is a
 * {@link StoreUnavailableError} instead, which callers journal and retry.
 */
export class ZooKeeperStoreError extends TokensyncError {
  override readonly name = 'ZooKeeperStoreError';
  readonly code: ZooKeeperStoreErrorCode;
  constructor(message: string, code: ZooKeeperStoreErrorCode = 'store.zookeeper.failed', options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
