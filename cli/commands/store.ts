import { Command } from 'commander';
import { forEachShard, loadOptions, startStore, withStore } from '../context.js';
import { CliError, ioOf, printJson, table, type Io } from '../output.js';
import { progressReporter } from '../progress.js';
import { parsePositiveInt } from './tokens.js';
import { kindOfJti, parseRecordName, shardName, type RecordRef } from '../../sidecar/store/token-record.js';
import { migrateStore, type MigrateResult } from '../../sidecar/store/migrate.js';
import type { TokenStore } from '../../sidecar/store/token-store.js';
import { makeStoreUpgradeCommand } from './store-upgrade.js';
import { isProbeJti } from '../../sidecar/store/probe-record.js';

/** Shard listings in flight for `store stats` (4096 sequential round trips would take seconds on ZooKeeper). */
const STATS_CONCURRENCY = 32;

export function makeStoreCommand(): Command {
  const store = new Command('store').description('the cluster store as a whole: statistics, migration to another store, layout upgrade');
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
        const shardSizes: number[] = new Array(s.shards).fill(0);
        let total = 0;
        let hour = 0;
        let day = 0;
        const now = Date.now();
        await forEachShard(s.shards, STATS_CONCURRENCY, async (shard) => {
          const names = await s.listShard(shard);
          const refs = names.map(parseRecordName).filter((r): r is RecordRef => r !== undefined && !isProbeJti(r.jti));
          shardSizes[shard] = refs.length;
          for (const ref of refs) {
            total++;
            byKind[kindOfJti(ref.jti) ?? 'other']!++;
            bySubject.set(ref.subject, (bySubject.get(ref.subject) ?? 0) + 1);
          }
          if (opts.deep) {
            for (const r of await Promise.all(refs.map((ref) => s.read(ref)))) {
              if (!r || r.expiresAt === null) continue;
              if (r.expiresAt - now < 3_600_000) hour++;
              if (r.expiresAt - now < 86_400_000) day++;
            }
          }
        });
        const largest = [...bySubject]
          .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
          .slice(0, 10)
          .map(([subject, tokens]) => ({ subject, tokens }));
        const sorted = [...shardSizes].sort((a, b) => a - b);
        const shardStats = {
          shards: s.shards,
          min: sorted[0] ?? 0,
          median: sorted[Math.floor(sorted.length / 2)] ?? 0,
          max: sorted[sorted.length - 1] ?? 0,
        };
        const fullest = shardSizes
          .map((n, i) => ({ shard: shardName(i, s.shards), records: n }))
          .sort((a, b) => b.records - a.records)
          .slice(0, 5);
        const markers = (await s.listMarkers()).size;
        const result = {
          store: s.describe(),
          total,
          byKind,
          markers,
          shards: shardStats,
          fullestShards: fullest,
          largestSubjects: largest,
          ...(opts.deep ? { expiringWithinHour: hour, expiringWithinDay: day } : {}),
        };
        if (opts.json) return printJson(io, result);
        io.out(`${result.store.type} ${result.store.location}: ${total} records, ${markers} logout markers`);
        io.out(
          `by kind: ${
            Object.entries(byKind)
              .filter(([, n]) => n > 0)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ') || 'none'
          }`,
        );
        io.out(
          `shards: ${shardStats.shards}, records per shard min ${shardStats.min} / median ${shardStats.median} / max ${shardStats.max}`,
        );
        if (opts.deep) io.out(`expiring: ${hour} within an hour, ${day} within a day`);
        else io.out('expiring: add --deep to read every record and count what expires within an hour and a day');
        if (largest.length) io.out('\n' + table(largest, ['subject', 'tokens']));
      });
    });

  store
    .command('migrate')
    .description(
      'copy every live token record and logout marker into another store, while sidecars keep running; run again to copy what is new',
    )
    .requiredOption('-c, --config <file>', 'properties file naming the store to copy FROM')
    .requiredOption('--to-config <file>', 'properties file naming the store to copy TO')
    .option('--verify-only', 'copy nothing; check that every live record and marker of FROM is in TO')
    .option('--concurrency <n>', 'records read and written at once', parsePositiveInt, 1000)
    .option('--json', 'machine output: the result (progress still goes to stderr)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  tokensync store migrate --config dir.properties --to-config zk.properties',
        '  tokensync store migrate --config dir.properties --to-config zk.properties --verify-only',
        '',
        'Idempotent: records already in TO are left alone, so running it twice copies only what is new.',
        'Expired and logged-out records and one-time tokens are not copied. Exit code 1 when a record',
        'could not be copied or the final check finds a live record of FROM missing in TO.',
        'The cutover procedure (switching sidecars one at a time) is in docs/operations.md.',
      ].join('\n'),
    )
    .action(
      async (opts: { config: string; toConfig: string; verifyOnly?: boolean; concurrency: number; json?: boolean }, command: Command) => {
        const io = ioOf(command);
        const [fromOptions, toOptions] = [await loadOptions(opts.config, io), await loadOptions(opts.toConfig, io)];
        const from = await startStore(fromOptions);
        let to: TokenStore | undefined;
        const controller = new AbortController();
        const onSignal = () => controller.abort();
        try {
          to = await startStore(toOptions);
          const [a, b] = [from.describe(), to.describe()];
          if (a.type === b.type && a.location === b.location)
            throw new CliError(`--config and --to-config both name ${a.type} ${a.location}: nothing to migrate`, 2);
          if (!opts.json) io.err(`${opts.verifyOnly ? 'verifying' : 'migrating'} ${a.type} ${a.location} -> ${b.type} ${b.location}`);
          const reporter = progressReporter(io, { tty: io.isTTY && process.stderr.isTTY === true });
          process.once('SIGINT', onSignal);
          let result: MigrateResult;
          try {
            result = await migrateStore(from, to, {
              concurrency: opts.concurrency,
              verifyOnly: opts.verifyOnly,
              clockSkewMs: fromOptions.token.clockSkewMs,
              signal: controller.signal,
              onProgress: (p) => reporter.update(p),
            });
          } finally {
            reporter.stop();
            process.off('SIGINT', onSignal);
          }
          if (opts.json) printJson(io, result);
          else printMigration(io, result);
          if (!result.ok) {
            throw new CliError(
              result.aborted
                ? 'migration interrupted; run it again to continue (records already copied are skipped)'
                : 'migration incomplete: see above; run it again',
              1,
              {
                reported: !result.aborted && !opts.json,
              },
            );
          }
        } finally {
          await Promise.all([from.close(), to?.close()]);
        }
      },
    );
  store.addCommand(makeStoreUpgradeCommand());
  return store;
}

function printMigration(io: Io, r: MigrateResult): void {
  const rec = r.records;
  const skipped = rec.skippedExpired + rec.skippedLoggedOut + rec.skippedOnetime + rec.vanished;
  if (!r.verifyOnly) {
    io.out(
      `records: ${rec.listed} ${r.aborted ? 'gone through before the interruption' : 'in the source'}, ${rec.created} copied, ${rec.existing} already there, ${skipped} not needed ` +
        `(${rec.skippedExpired} expired, ${rec.skippedLoggedOut} logged out, ${rec.skippedOnetime} one-time, ${rec.vanished} deleted meanwhile), ${rec.failed} failed`,
    );
    io.out(
      `markers: ${r.markers.source} in the source, ${r.markers.copied} copied, ${r.markers.existing} already there, ${r.markers.failed} failed`,
    );
    io.out(`copied in ${(r.copyMs / 1000).toFixed(1)} s (${r.copyRatePerSecond} records/s)`);
  }
  for (const e of r.errors) io.err(`error: ${e}`);
  if (r.aborted) return;
  const v = r.verification;
  if (v.ok) {
    io.out(
      `verified: all ${v.inTarget} live records of the source are in the target (${v.targetRecords} records there), no logout marker missing (${(r.verifyMs / 1000).toFixed(1)} s)`,
    );
    if (v.issuedSinceStart > 0) {
      io.out(
        `${v.issuedSinceStart} records issued in the source since this run started are not in the target yet: run it again to copy them`,
      );
    }
  } else {
    io.out(
      `verification FAILED: ${v.missing} of ${v.checked} source records missing from the target, ${v.markersMissing} logout markers missing` +
        (v.sampleMissing.length ? ` (e.g. ${v.sampleMissing.slice(0, 3).join(', ')})` : ''),
    );
  }
}
