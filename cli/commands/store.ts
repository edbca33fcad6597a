import { Command } from 'commander';
import { withStore } from '../context.js';
import { ioOf, printJson, table } from '../output.js';
import { kindOfJti, parseRecordName, shardName } from '../../sidecar/store/token-record.js';

export function makeStoreCommand(): Command {
  const store = new Command('store').description('the cluster store as a whole');
  store
    .command('stats')
    .description('counts by kind and by shard, largest subjects, and (with --deep) what expires soon')
    .option('-c, --config <file>', 'properties file naming the store')
    .option('--deep', 'read every record to count what expires in the next hour and day')
    .option('--json', 'machine output')
    .addHelpText('after', '\nExample:\n  tokensync store stats --config node1.properties --deep')
    .action(async (opts: { config?: string; deep?: boolean; json?: boolean }, command: Command) => {
      const io = ioOf(command);
      await withStore(opts.config, io, async ({ store: s }) => {
        const byKind: Record<string, number> = { session: 0, api: 0, onetime: 0, other: 0 };
        const bySubject = new Map<string, number>();
        const shardSizes: number[] = [];
        let total = 0;
        let hour = 0;
        let day = 0;
        const now = Date.now();
        for (let shard = 0; shard < s.shards; shard++) {
          const names = await s.listShard(shard);
          shardSizes.push(names.length);
          const refs = names.map(parseRecordName).filter((r) => r !== undefined);
          for (const ref of refs) {
            total++;
            byKind[kindOfJti(ref.jti) ?? 'other']!++;
            bySubject.set(ref.subject, (bySubject.get(ref.subject) ?? 0) + 1);
          }
          if (opts.deep) {
            const records = await Promise.all(refs.map((r) => s.read(r)));
            for (const r of records) {
              if (!r || r.expiresAt === null) continue;
              if (r.expiresAt - now < 3_600_000) hour++;
              if (r.expiresAt - now < 86_400_000) day++;
            }
          }
        }
        const largest = [...bySubject].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([subject, tokens]) => ({ subject, tokens }));
        const sorted = [...shardSizes].sort((a, b) => a - b);
        const shardStats = { shards: s.shards, min: sorted[0] ?? 0, median: sorted[Math.floor(sorted.length / 2)] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
        const fullest = shardSizes.map((n, i) => ({ shard: shardName(i, s.shards), records: n })).sort((a, b) => b.records - a.records).slice(0, 5);
        const markers = (await s.listMarkers()).size;
        const result = { store: s.describe(), total, byKind, markers, shards: shardStats, fullestShards: fullest, largestSubjects: largest, ...(opts.deep ? { expiringWithinHour: hour, expiringWithinDay: day } : {}) };
        if (opts.json) return printJson(io, result);
        io.out(`${result.store.type} ${result.store.location}: ${total} records, ${markers} logout markers`);
        io.out(`by kind: ${Object.entries(byKind).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`);
        io.out(`shards: ${shardStats.shards}, records per shard min ${shardStats.min} / median ${shardStats.median} / max ${shardStats.max}`);
        if (opts.deep) io.out(`expiring: ${hour} within an hour, ${day} within a day`);
        if (largest.length) io.out('\n' + table(largest, ['subject', 'tokens']));
      });
    });
  return store;
}
