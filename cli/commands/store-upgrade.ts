import { Command } from 'commander';
import { CLI_CONNECT_TIMEOUT_MS, cliLogger, startStore } from '../context.js';
import { CliError, ioOf, printJson } from '../output.js';
import { parsePositiveInt } from './tokens.js';
import { StoreUnavailableError } from '../../sidecar/errors/store-unavailable-error.js';
import { hasLayoutUpgrade, type LayoutProbe, type TokenStore } from '../../sidecar/store/token-store.js';
import type { TokensyncOptions } from '../../sidecar/config/options.js';
import { loadConfig } from '../../sidecar/config/load-config.js';
import { createStore } from '../../sidecar/store/create-store.js';
import { UpgradeRefusedError, upgradeLayout } from '../../sidecar/store/upgrade-layout.js';

/**
 * `tokensync store upgrade`: converts the store in place from layout 1 to 2 while sidecars keep serving. Its own
 * command rather than an option of `store migrate`, which copies into ANOTHER store and takes a second config.
 */
export function makeStoreUpgradeCommand(): Command {
  return new Command('upgrade')
    .description('convert the store in place to layout 2 (expiry in record names), while sidecars keep running')
    .option('-c, --config <file>', 'properties file naming the store')
    .option('--concurrency <n>', 'shards converted at once', parsePositiveInt, 16)
    .option('--members-timeout <seconds>', 'how long to wait for every live sidecar to write layout 2', parsePositiveInt, 30)
    .option('--force', 'convert even though a live sidecar runs a tokensync without layout 2')
    .option('--json', 'machine output: the result (progress still goes to stderr)')
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        '  tokensync store upgrade --config node1.properties',
        '',
        'Raises the layout version (sidecars follow on their next heartbeat), waits for every live sidecar to',
        'report it, then renames every record to its layout-2 name (ZooKeeper: create and delete in one',
        'transaction; DIRECTORY: one rename). Idempotent: run it again after an interruption.',
      ].join('\n'),
    )
    .action(
      async (opts: { config?: string; concurrency: number; membersTimeout: number; force?: boolean; json?: boolean }, command: Command) => {
        const io = ioOf(command);
        // strict: a misspelt key would leave a default in its place and point this at another store
        const { options, warnings } = await loadConfig(opts.config, { strict: true });
        for (const w of warnings) io.err(`warning: ${w}`);
        let store: TokenStore;
        try {
          const probe = await probeStore(options);
          if (!probe.exists) {
            const key = probe.type === 'DIRECTORY' ? 'cluster.store.directory.path' : 'cluster.store.zookeeper.connect';
            throw new CliError(`cannot upgrade: ${probe.type} ${probe.location} holds no tokensync store (check ${key})`, 2);
          }
          store = await startStore(options);
        } catch (err) {
          if (err instanceof StoreUnavailableError) throw new CliError(`cannot upgrade: ${err.message}`, 2);
          throw err;
        }
        try {
          if (!hasLayoutUpgrade(store)) throw new CliError(`${store.type} stores cannot be upgraded`, 2);
          const where = `${store.describe().type} ${store.describe().location}`;
          io.err(
            store.recordLayout === 2
              ? `${where} has layout 2; looking for records left with layout-1 names`
              : `upgrading ${where} from layout 1 to 2`,
          );
          let reported = 0;
          const result = await upgradeLayout(store, {
            concurrency: opts.concurrency,
            membersTimeoutMs: opts.membersTimeout * 1000,
            force: opts.force,
            onProgress: (p) => {
              const now = Date.now();
              if (now - reported < 1000 && p.shardsDone !== p.shards) return;
              reported = now;
              if (p.phase === 'members') io.err(`waiting for ${p.waitingFor!.join(', ')} to write layout 2`);
              else if (p.phase === 'unavailable') io.err(`store unreachable, trying again: ${p.error}`);
              else io.err(`shards ${p.shardsDone}/${p.shards}, ${p.renamed} records renamed`);
            },
          }).catch((err: unknown) => {
            if (err instanceof UpgradeRefusedError) throw new CliError(err.message, 2);
            throw err;
          });
          if (opts.json) return printJson(io, result);
          if (result.from === 2 && result.renamed === 0 && result.skipped === 0) {
            io.out(`${where} has layout 2 already and every record its layout-2 name: nothing to do`);
          } else
            io.out(
              `layout 2: ${result.renamed} records renamed, ${result.gone} gone meanwhile, ${result.skipped} skipped, in ${(result.ms / 1000).toFixed(1)} s (${result.passes} pass${result.passes > 1 ? 'es' : ''})`,
            );
          if (result.lagging.length > 0)
            io.err(`warning: ${result.lagging.join(', ')} did not report layout 2; run this again once they have`);
        } finally {
          await store.close();
        }
      },
    );
}

/** Reads the layout without creating anything: a path or chroot with no store in it is a mistake, not a store to make. */
async function probeStore(options: TokensyncOptions): Promise<LayoutProbe> {
  const store = await createStore(options, cliLogger(false), undefined, { connectTimeoutMs: CLI_CONNECT_TIMEOUT_MS });
  try {
    return await store.inspectLayout();
  } finally {
    await store.close().catch(() => undefined);
  }
}
