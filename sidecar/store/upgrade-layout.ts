import type { LayoutUpgrade, MemberInfo, ShardUpgrade, TokenStore } from './token-store.js';
import type { RecordLayout } from './token-record.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';

/** How long the store may stay unreachable before a run gives up: a ZooKeeper leader election takes seconds. */
export const UNAVAILABLE_RETRY_MS = 60_000;

export interface UpgradeProgress {
  /** `unavailable`: the store cannot be reached; the step is tried again (see {@link UpgradeOptions.unavailableRetryMs}). */
  phase: 'members' | 'renaming' | 'unavailable';
  shardsDone: number;
  shards: number;
  renamed: number;
  /** Members not yet writing layout 2 (phase `members`). */
  waitingFor?: string[];
  /** Why the store cannot be reached (phase `unavailable`). */
  error?: string;
}

export interface UpgradeOptions {
  /** Shards converted at once. */
  concurrency: number;
  /** How long to wait for every live member to report layout 2 (they read `/meta` on each heartbeat, every 5 s). */
  membersTimeoutMs: number;
  /** Convert even though a live member runs a tokensync that cannot read layout-2 names. */
  force?: boolean;
  /** How long one step may keep finding the store unreachable before the run fails. @default {@link UNAVAILABLE_RETRY_MS} */
  unavailableRetryMs?: number;
  onProgress?: (progress: UpgradeProgress) => void;
  sleep?: (ms: number) => Promise<void>;
}

export interface UpgradeResult extends ShardUpgrade {
  /** The store's layout before this run. */
  from: RecordLayout;
  /** Passes over every shard: 2 when a member still wrote layout-1 names during the first. */
  passes: number;
  /** Members still writing layout 1 when the last pass began (their later records keep layout-1 names: run again). */
  lagging: string[];
  ms: number;
}

/** A live member that cannot read layout 2: converting would make its mirror drop every renamed record. */
export class UpgradeRefusedError extends Error {}

/**
 * Converts a live store from layout 1 to 2: raises the layout version first, so that running sidecars (which read
 * both layouts) start naming new records by layout 2 on their next heartbeat; waits until every live member reports
 * that; then renames every layout-1 record in place (see {@link LayoutUpgrade.upgradeShard}). A token issued during
 * the run is therefore never left behind under a layout-1 name by a member that already switched, and one issued by a
 * member that had not is caught by a second pass. Idempotent and resumable: a run after a crash converts what is left,
 * and a step that meets an unreachable store (a server killed, an election) is tried again once it is back.
 */
export async function upgradeLayout(store: TokenStore & LayoutUpgrade, options: UpgradeOptions): Promise<UpgradeResult> {
  const started = Date.now();
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const from = store.recordLayout;
  const retry = <T>(step: () => Promise<T>) => acrossOutages(step, options, sleep, store.shards);
  const old = (await retry(() => store.listMembers())).filter((m) => m.layout === undefined);
  if (old.length > 0 && !options.force) {
    throw new UpgradeRefusedError(
      `member ${old.map((m) => m.nodeId).join(', ')} runs a tokensync that cannot read layout-2 record names (${old[0]!.version}); upgrade it first, or pass --force`,
    );
  }
  await retry(() => store.raiseLayout());
  const deadline = Date.now() + options.membersTimeoutMs;
  let lagging = await retry(() => laggingMembers(store));
  while (lagging.length > 0 && Date.now() < deadline) {
    options.onProgress?.({ phase: 'members', shardsDone: 0, shards: store.shards, renamed: 0, waitingFor: lagging });
    await sleep(500);
    lagging = await retry(() => laggingMembers(store));
  }
  const total: UpgradeResult = { from, renamed: 0, gone: 0, skipped: 0, passes: 0, lagging, ms: 0 };
  for (;;) {
    total.passes++;
    await pass(store, options, total, retry);
    const after = await retry(() => laggingMembers(store));
    // a member that switched only during this pass may have named records by layout 1 after its shard was done
    if (lagging.length === 0 || total.passes === 2) {
      total.lagging = after;
      break;
    }
    lagging = after;
  }
  total.ms = Date.now() - started;
  return total;
}

async function laggingMembers(store: TokenStore): Promise<string[]> {
  return (await store.listMembers()).filter((m: MemberInfo) => m.layout !== 2).map((m) => m.nodeId);
}

/**
 * Runs a step again while it fails with the store unreachable, until it has failed so for `unavailableRetryMs`.
 * Every step may run twice: raising is a versioned write of the same value, and a shard's conversion lists what is
 * left (a transaction whose answer was lost was applied wholly or not at all).
 */
async function acrossOutages<T>(
  step: () => Promise<T>,
  options: UpgradeOptions,
  sleep: (ms: number) => Promise<void>,
  shards: number,
): Promise<T> {
  let since: number | undefined;
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      since ??= Date.now();
      if (Date.now() - since >= (options.unavailableRetryMs ?? UNAVAILABLE_RETRY_MS)) throw err;
      options.onProgress?.({ phase: 'unavailable', shardsDone: 0, shards, renamed: 0, error: err.message });
      await sleep(500);
    }
  }
}

async function pass(
  store: TokenStore & LayoutUpgrade,
  options: UpgradeOptions,
  total: UpgradeResult,
  retry: <T>(step: () => Promise<T>) => Promise<T>,
): Promise<void> {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency, store.shards) }, async () => {
      while (next < store.shards) {
        const shard = next++;
        const result = await retry(() => store.upgradeShard(shard));
        total.renamed += result.renamed;
        total.gone += result.gone;
        total.skipped += result.skipped;
        options.onProgress?.({ phase: 'renaming', shardsDone: ++done, shards: store.shards, renamed: total.renamed });
      }
    }),
  );
}
