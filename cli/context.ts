import { loadConfig } from '../sidecar/config/load-config.js';
import type { TokensyncOptions } from '../sidecar/config/options.js';
import { createFallbackStore, createStore } from '../sidecar/store/create-store.js';
import type { TokenStore } from '../sidecar/store/token-store.js';
import { createLogger, silentLogger, type Logger } from '../sidecar/util/logger.js';
import type { Io } from './output.js';

/**
 * How long a command waits for ZooKeeper before it gives up, naming the servers it tried. Shorter than a
 * sidecar's wait (10 s): an operator at a terminal wants the answer, and a script wants a bounded run.
 */
export const CLI_CONNECT_TIMEOUT_MS = 5_000;

export interface StoreContext {
  options: TokensyncOptions;
  store: TokenStore;
  /**
   * The previous store of a cutover (`cluster.store.fallback.config`), opened on first use; `undefined`
   * when none is configured. Revocations and logouts go to it too, as a sidecar with a fallback does.
   */
  fallback(): Promise<TokenStore | undefined>;
  close(): Promise<void>;
}

/** Loads the properties file (warnings to stderr) or the defaults when none is given. */
export async function loadOptions(configPath: string | undefined, io: Io): Promise<TokensyncOptions> {
  const { options, warnings } = await loadConfig(configPath);
  for (const w of warnings) io.err(`warning: ${w}`);
  return options;
}

export function cliLogger(verbose: boolean | undefined): Logger {
  return verbose ? createLogger({ level: 'debug' }) : silentLogger();
}

/**
 * Opens the store that `options` names for a one-off command, whether or not a sidecar runs: connect, read
 * the layout, no watches. A ZooKeeper ensemble that does not answer fails within
 * {@link CLI_CONNECT_TIMEOUT_MS}, naming the servers tried.
 */
export async function startStore(options: TokensyncOptions, opts: { verbose?: boolean } = {}): Promise<TokenStore> {
  const store = await createStore(options, cliLogger(opts.verbose), undefined, { connectTimeoutMs: CLI_CONNECT_TIMEOUT_MS });
  try {
    await store.start({ watch: false });
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}

export async function openStore(configPath: string | undefined, io: Io, opts: { verbose?: boolean } = {}): Promise<StoreContext> {
  const options = await loadOptions(configPath, io);
  const store = await startStore(options, opts);
  let fallback: Promise<TokenStore | undefined> | undefined;
  const openFallback = async (): Promise<TokenStore | undefined> => {
    const previous = await createFallbackStore(options, cliLogger(opts.verbose), undefined, { connectTimeoutMs: CLI_CONNECT_TIMEOUT_MS });
    if (!previous) return undefined;
    try {
      await previous.start({ watch: false });
    } catch (err) {
      await previous.close().catch(() => undefined);
      throw err;
    }
    return previous;
  };
  return {
    options,
    store,
    fallback: () => (fallback ??= openFallback()),
    close: async () => {
      const opened = await fallback?.catch(() => undefined);
      await Promise.all([store.close(), opened?.close()]);
    },
  };
}

/** Runs `fn` with an open store and always closes it. */
export async function withStore<T>(configPath: string | undefined, io: Io, fn: (ctx: StoreContext) => Promise<T>): Promise<T> {
  const ctx = await openStore(configPath, io);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

/** Runs `fn(0..n-1)` with at most `limit` in flight (shard listings, mostly). */
export async function forEachShard(n: number, limit: number, fn: (shard: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}
