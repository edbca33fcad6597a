import { Command } from 'commander';
import type { TokensyncOptions } from '../../sidecar/config/options.js';
import type { LayoutProbe } from '../../sidecar/store/token-store.js';
import { loadConfig } from '../../sidecar/config/load-config.js';
import { describeOptions } from '../../sidecar/config/describe-options.js';
import { preflight, type Finding } from '../../sidecar/preflight/preflight.js';
import { CLI_CONNECT_TIMEOUT_MS, cliLogger } from '../context.js';
import { createFallbackStore, createStore } from '../../sidecar/store/create-store.js';
import { CliError, ioOf, printJson } from '../output.js';
import { layout1Notice, upgradeCommand } from '../../sidecar/store/record-layout.js';

export function makeConfigCommand(): Command {
  const config = new Command('config').description('check a properties file');
  config
    .command('check')
    .description("check a properties file as the sidecar's start-up does, changing nothing; with --connect, also read the store it names")
    .option('-c, --config <file>', 'properties file (the defaults, as `npm start` runs, when omitted)')
    .option('--strict', 'kept for scripts: unknown keys are errors anyway')
    .option('--connect', 'connect to the configured store and read its layout (read-only: says what a first start would create)')
    .option('--values-only', "check keys and values only, not this machine's files and address (a file made for another machine, in CI)")
    .option('--json', 'machine output: {ok, path, errors, warnings, notes, options (secrets masked), store?}')
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        '  tokensync config check --config node1.properties --connect',
        '',
        'Checks every value rule, unknown keys (errors here; the sidecar only warns about them, so that a file',
        'written for a newer tokensync still starts), the secret file (present, mode 0600, strong enough, or',
        'whether a first start would create one), the admin token file, the listen address and a fallback',
        "store's file. Exit 0: the sidecar would start; 2: it would refuse; 1: --connect could not reach the store.",
        'With --values-only, the secret and admin token files and the listen address are not looked at: for a',
        'file written for another machine, whose secret is put in place when it is deployed.',
      ].join('\n'),
    )
    .action(
      async (opts: { config?: string; strict?: boolean; connect?: boolean; valuesOnly?: boolean; json?: boolean }, command: Command) => {
        const io = ioOf(command);
        const { options, warnings: parseWarnings, path } = await loadConfig(opts.config);
        const findings: Finding[] = parseWarnings.map((w) => ({ level: w.startsWith('unknown key') ? 'error' : 'warning', message: w }));
        if (!opts.valuesOnly) findings.push(...(await preflight(options)));
        let store: LayoutProbe | undefined;
        let fallback: LayoutProbe | undefined;
        if (opts.connect) {
          store = await inspect(options);
          const previous = await createFallbackStore(options, cliLogger(false), undefined, {
            connectTimeoutMs: CLI_CONNECT_TIMEOUT_MS,
          }).catch(() => undefined);
          if (previous) fallback = await inspectStarted(previous, 'fallback store (cluster.store.fallback.config)');
        }
        const errors = findings.filter((f) => f.level === 'error').map((f) => f.message);
        const warnings = findings.filter((f) => f.level === 'warning').map((f) => f.message);
        const notes = findings.filter((f) => f.level === 'info').map((f) => f.message);
        const where = path ?? 'defaults (no --config)';
        if (opts.json) {
          printJson(io, {
            ok: errors.length === 0,
            path: path ?? null,
            errors,
            warnings,
            notes,
            options: describeOptions(options),
            ...(store ? { store } : {}),
            ...(fallback ? { fallback } : {}),
          });
        } else {
          for (const w of warnings) io.err(`warning: ${w}`);
          for (const e of errors) io.err(`tokensync: ${e}`);
          if (errors.length === 0)
            io.out(
              `${where}: ok (${options.store.type} store, node ${options.nodeId}, listening on ${options.sidecar.listen.host}:${options.sidecar.listen.port})`,
            );
          for (const n of notes) io.out(n);
          if (store) io.out(describeProbe('store', store, path));
          if (fallback) io.out(describeProbe('fallback store (cutover)', fallback, options.store.fallbackConfig));
        }
        if (errors.length > 0) {
          throw new CliError(`${where}: ${errors.length} problem${errors.length === 1 ? '' : 's'}; the sidecar would not start`, 2, {
            reported: !opts.json,
          });
        }
      },
    );
  return config;
}

/** One line; a layout-1 store's is the sidecar's own notice, naming the upgrade command for `configFile`. */
function describeProbe(what: string, p: LayoutProbe, configFile: string | undefined): string {
  const head = `${what} reachable: ${p.type} ${p.location}`;
  if (p.exists && p.layoutVersion === 1) return `${head} (${p.shards} shards); ${layout1Notice('it', upgradeCommand(configFile))}`;
  if (p.exists && p.wouldCreate.length === 0) return `${head} (${p.shards} shards, layout ${p.layoutVersion})`;
  return `${head}; ${p.exists ? 'incomplete layout' : 'empty'}: the first start would create ${p.wouldCreate.join(', ')} (nothing was created now)`;
}

async function inspect(options: TokensyncOptions): Promise<LayoutProbe> {
  const store = await createStore(options, cliLogger(false), undefined, { connectTimeoutMs: CLI_CONNECT_TIMEOUT_MS });
  return inspectStarted(store);
}

async function inspectStarted(store: Awaited<ReturnType<typeof createStore>>, what?: string): Promise<LayoutProbe> {
  try {
    return await store.inspectLayout();
  } catch (err) {
    if (what === undefined) throw err;
    throw new CliError(`${what}: ${err instanceof Error ? err.message : String(err)}`, 1);
  } finally {
    await store.close().catch(() => undefined);
  }
}
