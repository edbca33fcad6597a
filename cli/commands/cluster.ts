import { Command } from 'commander';
import { withStore } from '../context.js';
import { CliError, ioOf, printJson, relativeTime, table } from '../output.js';
import { keyDisagreements } from '../../sidecar/membership/key-agreement.js';
import { probeServers, type ServerStatus } from '../../sidecar/store/zookeeper/zookeeper-servers.js';

export function makeClusterCommand(): Command {
  const cluster = new Command('cluster').description('the sidecars of the cluster and the servers of their store');
  cluster
    .command('status')
    .description(
      'members with their address, version, uptime, mirror size, lag and store connection; for ZooKeeper, every server of the ensemble',
    )
    .option('-c, --config <file>', 'properties file naming the store')
    .option('--json', 'machine output: {store, servers, members, keyDisagreements}')
    .option('--check', 'for monitoring: exit 1 when a member signs or accepts other keys than the others')
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
        '',
        'Every member reports the key ids (kids, never the secrets) it signs with and accepts; a member whose keys',
        "differ from the others' is flagged: tokens are refused between them. With --check, that exits 1.",
      ].join('\n'),
    )
    .action(async (opts: { config?: string; json?: boolean; check?: boolean }, command: Command) => {
      const io = ioOf(command);
      const disagreements = await withStore(opts.config, io, async ({ store, options }) => {
        const members = (await store.listMembers()).sort((a, b) => a.nodeId.localeCompare(b.nodeId));
        const differ = keyDisagreements(members);
        const flagged = new Set(differ.map((d) => d.nodeId));
        const description = store.describe();
        let servers: ServerStatus[] | undefined;
        if (store.type === 'ZOOKEEPER' && options.store.zookeeper.connect) {
          const sessionId = (store as unknown as { sessionId?: string }).sessionId;
          servers = await probeServers(options.store.zookeeper.connect.servers, { sessionId });
        }
        if (opts.json) {
          printJson(io, { store: description, ...(servers ? { servers } : {}), members, keyDisagreements: differ });
          return differ;
        }
        io.out(`store: ${description.type} ${description.location} (${description.shards} shards)`);
        if (servers) {
          io.out(
            '\n' +
              table(
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
              ),
          );
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
              keys:
                m.signingKid === undefined
                  ? '-'
                  : `${m.signingKid}${(m.acceptedKids?.length ?? 1) > 1 ? ` +${m.acceptedKids!.length - 1}` : ''}${flagged.has(m.nodeId) ? ' DIFFERS' : ''}`,
              seen: relativeTime(m.updatedAt, now),
            })),
            ['node', 'address', 'version', 'up', 'mirror', 'lag', 'state', ...(watch ? ['watch'] : []), 'keys', 'seen'],
          ),
        );
        if (members.length === 0) io.out('(no live sidecars)');
        for (const d of differ) io.out(`\nkeys differ on ${d.nodeId}: ${d.problem}`);
        return differ;
      });
      if (opts.check && disagreements.length > 0) {
        throw new CliError(
          `${disagreements.length} member${disagreements.length === 1 ? '' : 's'} sign or accept other keys than the rest: ${disagreements.map((d) => d.nodeId).join(', ')}`,
          1,
        );
      }
    });
  return cluster;
}
