import { Command } from 'commander';
import { loadConfig } from '../../sidecar/config/load-config.js';
import { describeOptions } from '../../sidecar/config/describe-options.js';
import { createStore } from '../../sidecar/store/create-store.js';
import { silentLogger } from '../../sidecar/util/logger.js';
import { ioOf, printJson } from '../output.js';

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
      let store: unknown;
      if (opts.connect) {
        const s = await createStore(options, silentLogger());
        try {
          await s.start({ watch: false });
          store = s.describe();
        } finally {
          await s.close();
        }
      }
      if (opts.json) return printJson(io, { ok: true, path, warnings, options: describeOptions(options), ...(store ? { store } : {}) });
      for (const w of warnings) io.err(`warning: ${w}`);
      io.out(`${path}: ok (${options.store.type} store, node ${options.nodeId}, listening on ${options.sidecar.listen.host}:${options.sidecar.listen.port})`);
      if (store) io.out(`store reachable: ${JSON.stringify(store)}`);
    });
  return config;
}
