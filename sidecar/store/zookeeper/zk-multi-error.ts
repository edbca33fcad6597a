import { ZkError } from './zk-error.js';

/**
 * A transaction that ZooKeeper refused: nothing of it was applied. `rc` (as {@link ZkError}) is the first failed
 * op's code, `failedIndex` that op, and `results` each op's code (RUNTIMEINCONSISTENCY for ops never tried).
 */
export class ZkMultiError extends ZkError {
  constructor(
    rc: number,
    path: string,
    readonly failedIndex: number,
    readonly results: readonly number[],
  ) {
    super(rc, 'multi', path, `op ${failedIndex} of ${results.length}; nothing applied`);
  }
}
