import { Command } from 'commander';
import type { TokensyncOptions } from '../../sidecar/config/options.js';
import type { StoreDescription } from '../../sidecar/store/token-store.js';
import { loadConfig } from '../../sidecar/config/load-config.js';
import { describeOptions } from '../../sidecar/config/describe-options.js';
import { CLI_CONNECT_TIMEOUT_MS, startStore } from '../context.js';
import { createFallbackStore } from '../../sidecar/store/create-store.js';
import { silentLogger } from '../../sidecar/util/logger.js';
import { CliError, ioOf, printJson } from '../output.js';

export function makeConfigCommand(): Command {
  const config = new Command('config').description('check a properties file');
  config
    .command('check')
    .description('validate a properties file; with --connect, also reach the store it names')
    .requiredOption('-c, --config <file>', 'properties file')
    .option('--strict', 'treat unknown keys as errors')
    .option('--connect', 'connect to the configured store and read its layout')
    .option('--json', 'machine output: the effective configuration (secrets masked)')
    .addHelpText('after', '\nExample:\n  tokensync config check --config node1.properties --connect')
    .action(async (opts: { config: string; strict?: boolean; connect?: boolean; json?: boolean }, command: Command) => {
      const io = ioOf(command);
      const { options, warnings, path } = await loadConfig(opts.config, { strict: opts.strict });
      let store: StoreDescription | undefined;
      let fallback: { path: string; store?: StoreDescription } | undefined;
      if (opts.connect) store = await reach(options);
      // the previous store of a cutover must load too, or the sidecar will not start
      const previous = await createFallbackStore(options, silentLogger(), undefined, { connectTimeoutMs: CLI_CONNECT_TIMEOUT_MS });
      if (previous) {
        fallback = { path: options.store.fallbackConfig! };
        try {
          if (opts.connect) {
            await previous.start({ watch: false }).catch((err: unknown) => {
              throw new CliError(`fallback store (cluster.store.fallback.config): ${err instanceof Error ? err.message : String(err)}`, 1);
            });
            fallback.store = previous.describe();
          }
        } finally {
          await previous.close();
        }
      }
      if (opts.json) return printJson(io, { ok: true, path, warnings, options: describeOptions(options), ...(store ? { store } : {}), ...(fallback ? { fallback } : {}) });
      for (const w of warnings) io.err(`warning: ${w}`);
      io.out(`${path}: ok (${options.store.type} store, node ${options.nodeId}, listening on ${options.sidecar.listen.host}:${options.sidecar.listen.port})`);
      if (store) io.out(`store reachable: ${store.type} ${store.location} (${store.shards} shards, layout ${store.layoutVersion})`);
      if (fallback) {
        io.out(`fallback store (cutover): ${fallback.path}` + (fallback.store ? `, reachable: ${fallback.store.type} ${fallback.store.location}` : ''));
      }
    });
  return config;
}

async function reach(options: TokensyncOptions): Promise<StoreDescription> {
  const s = await startStore(options);
  try {
    return s.describe();
  } finally {
    await s.close();
  }
}
