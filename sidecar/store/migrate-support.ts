import { performance } from 'node:perf_hooks';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';
import { type TokenStore, hasBulkReads } from './token-store.js';
import { isRecordExpired, parseRecordName, type RecordRef, type TokenRecord } from './token-record.js';
import { loggedOut, type LogoutMarker } from './logout-marker.js';
import { isProbeName } from './probe-record.js';

// The parts `store migrate` is made of besides its main loop (migrate.ts): liveness, retries, reads, listings.

/** Shard listings (or groups of them, while verifying) in flight while counting and verifying. */
export const LIST_CONCURRENCY = 64;

export type Liveness = 'live' | 'skippedExpired' | 'skippedLoggedOut' | 'skippedOnetime';

export function liveness(record: TokenRecord, markers: Map<string, LogoutMarker>, now: number, skewMs: number): Liveness {
  if (record.kind === 'onetime') return 'skippedOnetime';
  if (isRecordExpired(record, now, skewMs)) return 'skippedExpired';
  if (loggedOut(markers.get(record.subject), record.gen, 0, record.issuedAt)) return 'skippedLoggedOut';
  return 'live';
}

export type Retrying = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * Runs `fn`, again and again with backoff while the store is unreachable (a ZooKeeper leader election, a
 * remounting share) or the process is out of file descriptors (a DIRECTORY target with many creates in
 * flight and a low `ulimit -n`), for up to `forMs`. Writes are safe to repeat: a create that was applied before the
 * connection dropped answers "already there" the second time.
 */
export async function withRetry<T>(fn: () => Promise<T>, forMs: number, signal?: AbortSignal): Promise<T> {
  const deadline = performance.now() + forMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || performance.now() + delay > deadline || signal?.aborted) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random() / 2)));
  }
}

/** Worth another try: the store is unreachable for now, or this process ran out of file descriptors. */
export function isTransient(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN';
}

/** A source record that could not be read (kept apart from `undefined`: gone, or not a record). */
export class ReadFailure {
  constructor(readonly cause: unknown) {}
}

/**
 * The records of `refs`, in order: all at once from a store that can, else one `read` each, all in flight
 * together. When a bulk read fails, each record is read on its own, so that one unreadable record fails
 * alone.
 */
export async function readChunk(
  source: TokenStore,
  refs: RecordRef[],
  retrying: Retrying,
): Promise<Array<TokenRecord | undefined | ReadFailure>> {
  if (refs.length === 0) return [];
  if (hasBulkReads(source)) {
    try {
      return await retrying(() => source.readMany(refs));
    } catch {
      // one record at a time below
    }
  }
  return Promise.all(refs.map((ref) => retrying(() => source.read(ref)).catch((err: unknown) => new ReadFailure(err))));
}

/**
 * At most `size` records in flight, in tasks of one record or a batch of them (`weight`; a batch larger than
 * the window runs alone). One producer calls {@link start}, which waits for room; tasks count their own
 * failures.
 */
export class Window {
  private inFlight = 0;
  private wake: (() => void) | undefined;

  /** A task that threw after all (a progress callback): rethrown by {@link drain}. */
  private failure: { error: unknown } | undefined;

  constructor(private readonly size: number) {}

  async start(weight: number, task: () => Promise<void>): Promise<void> {
    while (this.inFlight > 0 && this.inFlight + weight > this.size) await new Promise<void>((resolve) => (this.wake = resolve));
    this.inFlight += weight;
    const settled = (): void => {
      this.inFlight -= weight;
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    };
    task().then(settled, (error: unknown) => {
      this.failure ??= { error };
      settled();
    });
  }

  async drain(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure) throw this.failure.error;
  }
}

export async function countRecords(store: TokenStore, retrying: Retrying): Promise<number> {
  let count = 0;
  await forEachIndex(store.shards, LIST_CONCURRENCY, async (shard) => {
    for (const name of await retrying(() => store.listShard(shard))) if (parseRecordName(name) && !isProbeName(name)) count++;
  });
  return count;
}

/** Runs `fn(0..n-1)` with at most `limit` in flight. */
export async function forEachIndex(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/**
 * The shards of `store` that hold the records of group `group` when records are grouped by
 * `hash & (groups - 1)`. Shard counts are powers of two and a record's shard is `hash & (shards - 1)`, so
 * with `groups = min(sourceShards, targetShards)` the source shards `s ≡ group (mod groups)` hold exactly
 * the records that belong in the target shards `t ≡ group (mod groups)`.
 */
export function shardsOf(store: TokenStore, groups: number, group: number): number[] {
  return Array.from({ length: store.shards / groups }, (_, k) => group + k * groups);
}

export async function listGroup(store: TokenStore, groups: number, group: number, retrying: Retrying): Promise<string[]> {
  return (await Promise.all(shardsOf(store, groups, group).map((s) => retrying(() => store.listShard(s))))).flat();
}
