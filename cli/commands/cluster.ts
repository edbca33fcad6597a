import { Command } from 'commander';
import { withStore } from '../context.js';
import { ioOf, printJson, relativeTime, table } from '../output.js';
import { probeServers, type ServerStatus } from '../zookeeper-servers.js';

export function makeClusterCommand(): Command {
  const cluster = new Command('cluster').description('the sidecars of the cluster and the servers of their store');
  cluster
    .command('status')
    .description('members with their address, version, uptime, mirror size, lag and store connection; for ZooKeeper, every server of the ensemble')
    .option('-c, --config <file>', 'properties file naming the store')
    .option('--json', 'machine output: {store, servers, members}')
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        '  tokensync cluster status --config node1.properties',
        '',
        'Members are the sidecars that published a heartbeat lately (/members in ZooKeeper, <store>/members/*.json',
        'in a DIRECTORY store). ZooKeeper servers are asked with the srvr and cons four-letter words; a server',
        'that does not allow them (4lw.commands.whitelist) shows mode "unknown".',
      ].join('\n'),
    )
    .action(async (opts: { config?: string; json?: boolean }, command: Command) => {
      const io = ioOf(command);
      await withStore(opts.config, io, async ({ store, options }) => {
        const members = (await store.listMembers()).sort((a, b) => a.nodeId.localeCompare(b.nodeId));
        const description = store.describe();
        let servers: ServerStatus[] | undefined;
        if (store.type === 'ZOOKEEPER' && options.store.zookeeper.connect) {
          const sessionId = (store as unknown as { sessionId?: string }).sessionId;
          servers = await probeServers(options.store.zookeeper.connect.servers, { sessionId });
        }
        if (opts.json) return printJson(io, { store: description, ...(servers ? { servers } : {}), members });
        io.out(`store: ${description.type} ${description.location} (${description.shards} shards)`);
        if (servers) {
          io.out('\n' + table(
            servers.map((s) => ({
              server: s.server,
              mode: s.mode,
              version: s.version,
              zxid: s.zxid,
              clients: s.connections,
              znodes: s.nodes,
              latency: s.latency,
              note: s.ours ? 'answers this command' : s.note,
            })),
            ['server', 'mode', 'version', 'zxid', 'clients', 'znodes', 'latency', 'note'],
          ));
        }
        io.out('');
        const now = Date.now();
        // ZOOKEEPER members say how they follow the records; a 'one-shot' one runs an unpatched binding or an old server
        const watch = members.some((m) => m.watch !== undefined);
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
              ...(watch && { watch: m.watch ?? '-' }),
              seen: relativeTime(m.updatedAt, now),
            })),
            ['node', 'address', 'version', 'up', 'mirror', 'lag', 'state', ...(watch ? ['watch'] : []), 'seen'],
          ),
        );
        if (members.length === 0) io.out('(no live sidecars)');
      });
    });
  return cluster;
}
