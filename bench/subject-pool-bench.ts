/**
 * The subject pool alone (issue #18): bytes per token and CPU time per call of its hot paths, for a listing of
 * `--tokens` records with two tokens per subject (`user-<n>@example.com`) arriving in a shuffled order, as the
 * shards of a rebuild hand them over.
 *
 * A benchmark, not a test: it never fails on a number. `--pool` loads another build of subject-pool.js (say a
 * copy of the previous commit's), so that two versions can be run alternately in one session:
 *
 *   node dist/bench/subject-pool-bench.js [--pool /tmp/before/subject-pool.js] [--tokens 1000000] [--rounds 5]
 *
 * Prints one JSON line: the medians over the rounds of CPU ns per acquire (the load), is(), find() and release
 * (the drain, compactions included), `pool.bytes` per token, V8 heap plus array buffers per token after a full
 * GC and the RSS the first load added (both of the first round).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { SubjectPool } from '../sidecar/mirror/subject-pool.js';

interface Args {
  pool: string;
  tokens: number;
  rounds: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { pool: '../sidecar/mirror/subject-pool.js', tokens: 1_000_000, rounds: 5 };
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (key === '--pool' && value) args.pool = pathToFileURL(resolve(value)).href;
    else if ((key === '--tokens' || key === '--rounds') && value && /^[1-9]\d*$/.test(value))
      args[key.slice(2) as 'tokens' | 'rounds'] = Number(value);
    else {
      console.error(`subject-pool-bench: unknown or bad argument ${key ?? ''} ${value ?? ''}`.trim());
      process.exit(2);
    }
  }
  return args;
}

const PREFIX = Buffer.from('user-');
const SUFFIX = Buffer.from('@example.com');

/** Writes `user-<n>@example.com` into `into` without making a string; returns its length. */
function writeSubject(into: Uint8Array, n: number): number {
  PREFIX.copy(into, 0);
  let at = PREFIX.length;
  const digits = n === 0 ? 1 : Math.floor(Math.log10(n)) + 1;
  for (let i = digits - 1, m = n; i >= 0; i--, m = Math.floor(m / 10)) into[at + i] = 48 + (m % 10);
  at += digits;
  SUFFIX.copy(into, at);
  return at + SUFFIX.length;
}

/** A fixed shuffle of the tokens' subject numbers (each twice). */
function shuffledSubjects(tokens: number): Int32Array {
  const order = new Int32Array(tokens);
  for (let i = 0; i < tokens; i++) order[i] = i >> 1;
  let seed = 0x2545f491;
  for (let i = tokens - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function heapAndBuffers(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { SubjectPool: Pool } = (await import(args.pool)) as { SubjectPool: new () => SubjectPool };
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const order = shuffledSubjects(args.tokens);
  const subjects = args.tokens >> 1;
  // a plain Uint8Array, as record-set.ts hands over its parsed names' subjects
  const scratch = new Uint8Array(256);
  const ids = new Int32Array(subjects);
  const probes = 1_000_000;
  const per = { acquire: [] as number[], is: [] as number[], find: [] as number[], release: [] as number[] };
  let bytesPerToken = 0;
  let heapPerToken = 0;
  let rssAdded = 0;
  for (let round = 0; round < args.rounds; round++) {
    gc();
    gc();
    const heapBefore = heapAndBuffers();
    const rssBefore = process.memoryUsage().rss;
    const pool = new Pool();
    let t = cpuNs();
    for (let i = 0; i < args.tokens; i++) ids[order[i]!] = pool.acquire(scratch, writeSubject(scratch, order[i]!));
    per.acquire.push((cpuNs() - t) / args.tokens);
    gc();
    gc();
    // from the first round only: the array buffers of a dropped pool are counted until their sweep, which lags
    if (round === 0) {
      heapPerToken = (heapAndBuffers() - heapBefore) / args.tokens;
      rssAdded = process.memoryUsage().rss - rssBefore;
    }
    bytesPerToken = pool.bytes / args.tokens;
    if (pool.size !== subjects) throw new Error(`pool holds ${pool.size} subjects, expected ${subjects}`);

    // the strings a validation brings, made before the clock starts
    const sample = Array.from({ length: 65_536 }, (_, i) => {
      const n = order[i % args.tokens]!;
      return { id: ids[n]!, subject: `user-${n}@example.com` };
    });
    let hits = 0;
    t = cpuNs();
    for (let i = 0; i < probes; i++) {
      const s = sample[i & 0xffff]!;
      if (pool.is(s.id, s.subject)) hits++;
    }
    per.is.push((cpuNs() - t) / probes);
    t = cpuNs();
    for (let i = 0; i < probes; i++) if (pool.find(sample[i & 0xffff]!.subject) >= 0) hits++;
    per.find.push((cpuNs() - t) / probes);
    if (hits !== 2 * probes) throw new Error(`${hits} hits of ${2 * probes}`);

    t = cpuNs();
    for (let i = 0; i < args.tokens; i++) pool.release(ids[order[i]!]!);
    per.release.push((cpuNs() - t) / args.tokens);
    if (pool.size !== 0) throw new Error(`pool holds ${pool.size} subjects after the drain`);
  }
  const round1 = (x: number) => Math.round(x * 10) / 10;
  console.log(
    JSON.stringify({
      pool: args.pool,
      tokens: args.tokens,
      nsPerAcquire: round1(median(per.acquire)),
      nsPerIs: round1(median(per.is)),
      nsPerFind: round1(median(per.find)),
      nsPerRelease: round1(median(per.release)),
      poolBytesPerToken: round1(bytesPerToken),
      heapBytesPerToken: round1(heapPerToken),
      rssAddedMiB: round1(rssAdded / 1048576),
    }),
  );
}

await main();
