import { Command } from 'commander';
import { Sidecar } from '../../sidecar/sidecar.js';
import { loadOptions } from '../context.js';
import { ioOf } from '../output.js';

export function makeSidecarCommand(): Command {
  return new Command('sidecar')
    .description('run the sidecar: issue and validate tokens, mirror them into the cluster store')
    .option('-c, --config <file>', 'properties file (defaults apply when omitted)')
    .addHelpText('after', '\nExample:\n  tokensync sidecar --config /etc/tokensync/node1.properties')
    .action(async (opts: { config?: string }, command: Command) => {
      const options = await loadOptions(opts.config, ioOf(command));
      const sidecar = await Sidecar.start(options);
      // A promise nobody awaited must not take the whole sidecar (and every validation) down: log it loudly.
      process.on('unhandledRejection', (reason) => {
        sidecar.logger.error('unhandled rejection (a bug: please report it)', {
          error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason),
        });
      });
      process.on('uncaughtException', (err) => {
        sidecar.logger.error('uncaught exception; exiting', { error: err.stack ?? err.message });
        process.exit(70);
      });
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          sidecar.logger.info('shutting down', { signal });
          void sidecar.close().finally(resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
        process.on('SIGHUP', () => void sidecar.reloadSecret());
      });
    });
}
