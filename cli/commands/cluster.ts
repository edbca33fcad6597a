import { Command } from 'commander';
import { withStore } from '../context.js';
import { ioOf, printJson, relativeTime, table } from '../output.js';

export function makeClusterCommand(): Command {
  const cluster = new Command('cluster').description('the sidecars of the cluster');
  cluster
    .command('status')
    .description('members with their address, version, uptime, mirror size, lag and store connection')
    .option('-c, --config <file>', 'properties file naming the store')
    .option('--json', 'machine output')
    .addHelpText('after', '\nExample:\n  tokensync cluster status --config node1.properties')
    .action(async (opts: { config?: string; json?: boolean }, command: Command) => {
      const io = ioOf(command);
      await withStore(opts.config, io, async ({ store }) => {
        const members = (await store.listMembers()).sort((a, b) => a.nodeId.localeCompare(b.nodeId));
        const description = store.describe();
        if (opts.json) return printJson(io, { store: description, members });
        io.out(`store: ${description.type} ${description.location} (${description.shards} shards${description.server ? `, answered by ${description.server}` : ''})`);
        const now = Date.now();
        io.out(
          table(
            members.map((m) => ({
              node: m.nodeId,
              address: m.address,
              version: m.version,
              up: relativeTime(m.startedAt, now).replace(' ago', ''),
              mirror: m.mirrorSize,
              lag: `${m.mirrorLagMs}ms`,
              state: m.state,
              seen: relativeTime(m.updatedAt, now),
            })),
            ['node', 'address', 'version', 'up', 'mirror', 'lag', 'state', 'seen'],
          ),
        );
        if (members.length === 0) io.out('(no live sidecars)');
      });
    });
  return cluster;
}
