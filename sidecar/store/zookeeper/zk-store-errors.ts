import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import { TokensyncError } from '../../errors/tokensync-error.js';
import { ZkCode, ZkError } from './zk-error.js';
import { ZooKeeperStoreError } from './zookeeper-store-error.js';

// How the ZooKeeper store turns what the client library throws into the errors callers act on.

/** The ensemble could not be asked: callers journal and retry. `location` is the connect string and chroot. */
export function unavailableError(location: string, detail: string, cause?: unknown): StoreUnavailableError {
  return new StoreUnavailableError(
    `ZooKeeper ${location} is unavailable (${detail}); check cluster.store.zookeeper.connect`,
    cause === undefined ? undefined : { cause },
  );
}

/** The session's handle closed with `ZkClosedState.AUTH_FAILED`. */
export function credentialsRejectedError(): ZooKeeperStoreError {
  return new ZooKeeperStoreError('ZooKeeper rejected the credentials of cluster.store.zookeeper.auth', 'store.zookeeper.auth');
}

/** `add_auth` itself failed. */
export function credentialsNotAcceptedError(error: unknown, withCause: boolean): ZooKeeperStoreError {
  return new ZooKeeperStoreError(
    `ZooKeeper did not accept the digest credentials of cluster.store.zookeeper.auth (${(error as Error).message})`,
    'store.zookeeper.auth',
    withCause ? { cause: error } : undefined,
  );
}

/**
 * Our own errors pass; a {@link ZkError} becomes {@link StoreUnavailableError} when the request may not have reached
 * the ensemble, a `store.zookeeper.noauth` for NOAUTH, else `store.zookeeper.failed`; anything else is an Error.
 */
export function mapZkError(error: unknown, location: string): Error {
  if (error instanceof TokensyncError) return error;
  if (error instanceof ZkError) {
    if (error.isUnavailable) return unavailableError(location, error.message, error);
    if (error.rc === ZkCode.NOAUTH) {
      return new ZooKeeperStoreError(
        `ZooKeeper refused ${error.op} ${error.path} (NOAUTH): the tree is protected by another identity; ` +
          'check cluster.store.zookeeper.auth',
        'store.zookeeper.noauth',
        { cause: error },
      );
    }
    return new ZooKeeperStoreError(`ZooKeeper ${error.message}`, 'store.zookeeper.failed', { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
