import { loadConfig } from '../sidecar/config/load-config.js';
import type { TokensyncOptions } from '../sidecar/config/options.js';
import { createStore } from '../sidecar/store/create-store.js';
import type { TokenStore } from '../sidecar/store/token-store.js';
import { createLogger, silentLogger, type Logger } from '../sidecar/util/logger.js';
import type { Io } from './output.js';

export interface StoreContext {
  options: TokensyncOptions;
  store: TokenStore;
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
 * Opens the configured store for a one-off command, whether or not a sidecar
 * runs: connect, read the layout, no watches. A store that cannot be reached
 * fails within the store's own bounded wait, naming the address tried.
 */
export async function openStore(configPath: string | undefined, io: Io, opts: { verbose?: boolean } = {}): Promise<StoreContext> {
  const options = await loadOptions(configPath, io);
  const store = await createStore(options, cliLogger(opts.verbose));
  try {
    await store.start({ watch: false });
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return { options, store, close: () => store.close() };
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
