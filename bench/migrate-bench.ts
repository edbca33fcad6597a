/**
 * The store migration, measured the way Atlassian Crowd documents its cache switch (10,000 tokens: 8.2 s
 * database -> memory, 90 s memory -> database, validations queued meanwhile): `migrateStore()` (what
 * `tokensync store migrate` runs) from a DIRECTORY store into a local 3-node ZooKeeper ensemble and back,
 * for 100 to 100,000 session tokens. In the same run and on the same ensemble, just before and just after
 * each migration into ZooKeeper (the mean of the two: the load of a shared machine drifts), the raw pipelined
 * create rate of the same client library (`rawCreateRate`: 1,000 creates in flight, no
 * store logic) for as many nodes, so the migration's rate is reported as a ratio (goal: >= 0.7x raw).
 *
 * A benchmark, not a test: it never fails on a number.
 *
 *   node dist/bench/migrate-bench.js [--max 100000] [--concurrency 1000] [--write-docs]
 *
 * `--write-docs` replaces the table between the migrate-bench markers in docs/operations.md.
 */
// what the CLI does: more libuv threads for the fsyncs of DIRECTORY writes (first, before the pool starts)
import '../cli/threadpool.js';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalZooKeeper } from '../integration-tests/zookeeper/local-zookeeper.js';
import { DirectoryStore } from '../sidecar/store/directory/directory-store.js';
import { ZooKeeperStore } from '../sidecar/store/zookeeper/zookeeper-store.js';
import { rawCreateRate } from './support/raw-create.js';
import { migrateStore, type MigrateResult } from '../sidecar/store/migrate.js';
import { newJti, recordName, shardName, shardOf, type TokenRecord } from '../sidecar/store/token-record.js';
import { silentLogger } from '../sidecar/util/logger.js';

const SIZES = [100, 500, 1_000, 5_000, 10_000, 100_000];
const DIRECTORY_SHARDS = 256;
const ZOOKEEPER_SHARDS = 4096;
const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const DOC = join(ROOT, 'docs', 'operations.md');
const BEGIN = '<!-- migrate-bench:begin -->';
const END = '<!-- migrate-bench:end -->';

interface Args {
  max: number;
  concurrency: number;
  writeDocs: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { max: 100_000, concurrency: 1_000, writeDocs: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) usage(`${arg} takes a whole number`);
      return v;
    };
    if (arg === '--max') args.max = value();
    else if (arg === '--concurrency') args.concurrency = value();
    else if (arg === '--write-docs') args.writeDocs = true;
    else if (arg === '--help' || arg === '-h') usage();
    else usage(`unknown argument ${arg}`);
  }
  return args;
}

function usage(error?: string): never {
  if (error) console.error(error);
  console.error('usage: node dist/bench/migrate-bench.js [--max 100000] [--concurrency 1000] [--write-docs]');
  process.exit(error ? 2 : 0);
}

const load = () =>
  os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' / ');

/** N session records written straight into the store's folders (setup, not measured: no fsync per file). */
async function populateDirectory(root: string, n: number): Promise<DirectoryStore> {
  const store = new DirectoryStore({
    root,
    shards: DIRECTORY_SHARDS,
    rescanIntervalMs: 3_600_000,
    logger: silentLogger(),
    nodeId: 'bench',
  });
  await store.start();
  const now = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < n) {
        const i = next++;
        const record: TokenRecord = {
          jti: newJti('session'),
          subject: `user${i % 5_000}@example.com`,
          kind: 'session',
          issuedAt: now - 60_000,
          expiresAt: now + 7 * 86_400_000,
          node: 'bench',
        };
        const shard = shardName(shardOf(record.jti, DIRECTORY_SHARDS), DIRECTORY_SHARDS);
        await writeFile(join(root, 'tokens', shard, recordName(record)), JSON.stringify(record));
      }
    }),
  );
  return store;
}

async function zookeeperStore(connect: string, chroot: string): Promise<ZooKeeperStore> {
  const store = new ZooKeeperStore({
    servers: connect.split(','),
    chroot,
    sessionTimeoutMs: 30_000,
    shards: ZOOKEEPER_SHARDS,
    logger: silentLogger(),
  });
  await store.start(); // lays out /meta and the 4096 shard nodes: before the clock starts
  return store;
}

function check(result: MigrateResult, n: number, what: string): string {
  const problems: string[] = [];
  if (!result.ok) problems.push(`not ok: ${result.errors.slice(0, 3).join('; ') || JSON.stringify(result.verification)}`);
  if (result.records.created !== n) problems.push(`${result.records.created} created of ${n}`);
  if (problems.length) console.error(`  ${what}: ${problems.join(', ')}`);
  return problems.length ? ' (!)' : '';
}

interface Row {
  n: number;
  raw: number;
  there: MigrateResult;
  back: MigrateResult;
  notes: string;
}

const args = parseArgs(process.argv.slice(2));
const sizes = SIZES.filter((n) => n <= args.max);
const loadAtStart = load();
console.log(
  `migrate-bench: ${sizes.join(', ')} tokens, concurrency ${args.concurrency}; ${os.cpus().length} CPUs, load average ${loadAtStart} (1/5/15 min)`,
);

const scratch = await mkdtemp(join(os.tmpdir(), 'tokensync-migrate-bench-'));
// a heap for a few hundred thousand znodes: every size leaves its tree behind until the end
const zk = await new LocalZooKeeper(3).withHeap('1g').start();
const rows: Row[] = [];
try {
  await zk.waitForQuorum();
  const connect = zk.connectString;
  console.log(`ZooKeeper: 3 local servers (${connect}), scratch ${scratch}`);
  console.log('');
  for (const n of sizes) {
    const dir = await populateDirectory(join(scratch, `dir-${n}`), n);
    const target = await zookeeperStore(connect, `/bench-${n}`);
    // the raw ceiling right before and right after, averaged: the machine's load drifts during a run
    const rawBefore = await rawCreateRate(connect, n);
    const there = await migrateStore(dir, target, { concurrency: args.concurrency });
    const rawAfter = await rawCreateRate(connect, n);
    const raw = (rawBefore + rawAfter) / 2;
    let notes = check(there, n, `${n} DIRECTORY -> ZOOKEEPER`);
    await mkdir(join(scratch, `back-${n}`));
    const back = new DirectoryStore({
      root: join(scratch, `back-${n}`),
      shards: DIRECTORY_SHARDS,
      rescanIntervalMs: 3_600_000,
      logger: silentLogger(),
      nodeId: 'bench',
    });
    await back.start();
    const returned = await migrateStore(target, back, { concurrency: args.concurrency });
    notes += check(returned, n, `${n} ZOOKEEPER -> DIRECTORY`);
    await Promise.all([dir.close(), target.close(), back.close()]);
    await rm(join(scratch, `dir-${n}`), { recursive: true, force: true });
    await rm(join(scratch, `back-${n}`), { recursive: true, force: true });
    const row: Row = { n, raw, there, back: returned, notes };
    rows.push(row);
    console.log(
      `${String(n).padStart(7)} tokens: raw ${Math.round(rawBefore)} / ${Math.round(rawAfter)} creates/s; DIRECTORY -> ZOOKEEPER copy ${secs(there.copyMs)} (${there.copyRatePerSecond}/s, ` +
        `${ratio(there.copyRatePerSecond, raw)} raw), whole run ${secs(there.totalMs)}; ZOOKEEPER -> DIRECTORY copy ${secs(returned.copyMs)} ` +
        `(${returned.copyRatePerSecond}/s), whole run ${secs(returned.totalMs)}; load ${load()}`,
    );
  }
} finally {
  await zk.close();
  await rm(scratch, { recursive: true, force: true });
}

const loadAtEnd = load();
const markdown = table(rows, loadAtStart, loadAtEnd);
console.log('');
console.log(markdown);
if (args.writeDocs) {
  const text = await readFile(DOC, 'utf8');
  const from = text.indexOf(BEGIN);
  const to = text.indexOf(END);
  if (from < 0 || to < from) {
    console.error(`${DOC} has no ${BEGIN} ... ${END} block; not written`);
    process.exitCode = 1;
  } else {
    await writeFile(DOC, text.slice(0, from + BEGIN.length) + '\n' + markdown + '\n' + text.slice(to));
    console.log(`\nwrote the table into ${DOC}`);
  }
}

function secs(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

function ratio(rate: number, raw: number): string {
  return `${(rate / raw).toFixed(2)}x`;
}

function table(rows: Row[], loadStart: string, loadEnd: string): string {
  const lines = [
    `Measured with \`node dist/bench/migrate-bench.js --max ${args.max}${args.concurrency !== 1000 ? ` --concurrency ${args.concurrency}` : ''}\` ` +
      `on ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, a local 3-server ZooKeeper ensemble ` +
      `(forceSync=no), load average ${loadStart} at the start and ${loadEnd} at the end (1/5/15 min; the machine is shared). ` +
      '"copy" is the copying phase (markers and records, one create per record, ' +
      `${args.concurrency} in flight; into ZooKeeper the store sends them as transactions of up to 128 creates); "whole run" adds counting both stores first and verifying by listing both at the end. ` +
      '"raw" is `rawCreateRate` (single creates, 1,000 in flight) for as many znodes on the same ensemble, right before and right after the DIRECTORY -> ZOOKEEPER copy (the mean of the two): the ceiling for one client sending one create per request.',
    '',
    '| tokens | raw creates/s | DIRECTORY -> ZOOKEEPER copy | records/s | vs raw | whole run | ZOOKEEPER -> DIRECTORY copy | records/s | whole run |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.n.toLocaleString('en-US')}${r.notes} | ${Math.round(r.raw).toLocaleString('en-US')} | ${secs(r.there.copyMs)} | ${r.there.copyRatePerSecond.toLocaleString('en-US')} | ` +
        `${ratio(r.there.copyRatePerSecond, r.raw)} | ${secs(r.there.totalMs)} | ${secs(r.back.copyMs)} | ${r.back.copyRatePerSecond.toLocaleString('en-US')} | ${secs(r.back.totalMs)} |`,
    ),
    '| Crowd, 10,000 (documented) | | 8.2 s (database -> memory) | | | | 90 s (memory -> database) | | |',
  ];
  return lines.join('\n');
}
