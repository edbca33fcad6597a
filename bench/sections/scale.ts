import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from '../../integration-tests/support/http.js';
import { Mirror } from '../../sidecar/mirror/mirror.js';
import { newJti, recordName, shardOf } from '../../sidecar/store/token-record.js';
import { runAutocannon, type LoadResult } from '../support/load.js';
import { populate } from '../support/populate.js';
import { table, type BenchContext, type Goal, type Section, type SectionResult } from '../support/section.js';
import { fmt, loadavg, median, mib, ms } from '../support/stats.js';
import {
  initialRebuildMs,
  issueToken,
  makeSecretFile,
  memoryOf,
  waitReadyz,
  zkSidecar,
  type SidecarProcess,
} from '../support/tokensync.js';
import { bigZooKeeper, connectBinding, zkCall, zookeeperHeapUsed } from '../support/zk.js';
import type { StartedLocalZooKeeper } from '../../integration-tests/zookeeper/local-zookeeper.js';

const GOAL_READY_S = 30;
const GOAL_BYTES_PER_TOKEN = 48;
/** /v1/auth p99 at the largest size over the empty store's, in the same run. */
const GOAL_P99_RATIO = 1.2;
const CONNECTIONS = 32;
/**
 * RSS is read this long after ready: an idle sidecar's V8 gives the initial rebuild's garbage (every record name
 * as a string, about 100 bytes each) back to the system only when its memory reducer runs, mostly 10 to 20 s
 * after the load here, once not within 30 s of a ten-million load; read at 3 s, the figure is mostly that
 * garbage (both are reported).
 */
const SETTLED_MS = 60_000;
/** How long a sidecar may take to become ready before the bench gives up on it. */
const READY_TIMEOUT_MS = 300_000;

export const scaleSection: Section = {
  id: 'scale',
  title: '4. Scale: live tokens held by every sidecar',
  run,
};

interface Node {
  size: number;
  sidecar: SidecarProcess;
  readyMs: number;
  rebuildMs: number | undefined;
  /** RSS 3 s after ready (the rebuild's garbage partly still held), then settled (see {@link SETTLED_MS}). */
  rss3s: number;
  rss: number;
  hwm: number;
  mirrorSize: number;
  token: string;
  runs: LoadResult[];
  load: string;
}

interface Populated {
  size: number;
  seconds: number;
  perSecond: number;
  load: string;
}

interface ZooKeeperFigures {
  heap: string;
  heapUsed: number;
  snapshotBytes: number;
  /** Start-up of the server (with a kept tree: loading it, and writing a snapshot). */
  startS: number;
}

/** Row sizes: --quick 10,000 and 100,000; else 1,000,000 and 10,000,000, or TOKENSYNC_BENCH_SCALE_SIZES (e.g. `1000000`). */
function scaleSizes(ctx: BenchContext): number[] {
  const listed = process.env.TOKENSYNC_BENCH_SCALE_SIZES;
  if (!listed) return ctx.quick ? [10_000, 100_000] : [1_000_000, 10_000_000];
  const sizes = listed.split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0))
    throw new Error(`TOKENSYNC_BENCH_SCALE_SIZES: whole numbers above 0, got ${listed}`);
  return sizes;
}

/** The server's heap: 14 GB holds ten million records (serial GC); 3 GB is ample for one million. */
function zkHeap(ctx: BenchContext): string {
  const biggest = Math.max(...scaleSizes(ctx));
  return biggest <= 100_000 ? '1g' : biggest <= 1_000_000 ? '3g' : '14g';
}

/** Set once a chroot's records are all created, so that a kept tree is not filled twice. */
const populatedMark = (size: number) => `/scale-${size}-populated`;

/** How a kept chroot was populated (the mark holds it), or undefined when it is not (wholly) populated. */
async function populatedBefore(servers: string, size: number): Promise<Populated | undefined> {
  const zk = await connectBinding(servers);
  try {
    const data = await new Promise<Buffer | null | undefined>((resolve) => {
      if (zk.native.a_get(populatedMark(size), false, (rc, _error, _stat, d) => resolve(rc === 0 ? d : undefined)) !== 0)
        resolve(undefined);
    });
    return data ? (JSON.parse(data.toString()) as Populated) : undefined;
  } finally {
    zk.close();
  }
}

async function markPopulated(servers: string, p: Populated): Promise<void> {
  const zk = await connectBinding(servers);
  try {
    await zkCall((cb) => zk.native.a_create(populatedMark(p.size), JSON.stringify(p), 0, cb));
  } finally {
    zk.close();
  }
}

/** Size of the newest `snapshot.*` in a server's data directory (0 when there is none). */
function newestSnapshotBytes(dataDir: string): number {
  const dir = path.join(dataDir, 'version-2');
  const snaps = readdirSync(dir)
    .filter((f) => f.startsWith('snapshot.'))
    .map((f) => statSync(path.join(dir, f)))
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  return snaps[0]?.size ?? 0;
}

async function run(ctx: BenchContext): Promise<SectionResult> {
  const sizes = scaleSizes(ctx);
  const biggest = sizes[sizes.length - 1]!;
  const inProcess = mirrorHeapPerToken(ctx, Math.min(biggest, 1_000_000));
  // the populated tree can be kept across runs (10M records take minutes to create): the directory is reused as it is
  const keptDir = process.env.TOKENSYNC_BENCH_ZK_DIR || undefined;

  let zk: StartedLocalZooKeeper | undefined;
  const nodes: Node[] = [];
  try {
    // one server: populating is 3x faster than on an ensemble, and a joining sidecar only reads (served by the
    // server it is connected to, ensemble or not). A big heap for ten million znodes; no snapshots while populating.
    const builder = bigZooKeeper(1, zkHeap(ctx), '-Dzookeeper.snapCount=100000000')
      .withStartupTimeout(900_000)
      .withSessionTimeouts(undefined, 600_000);
    const startedAt = Date.now();
    zk = await (keptDir ? builder.keepDataIn(keptDir) : builder).start();
    const zkStartS = (Date.now() - startedAt) / 1000;
    const populated: Populated[] = [];
    for (const size of sizes) {
      const before = await populatedBefore(zk.connectString, size);
      if (before) {
        ctx.log(`/scale-${size} was populated by an earlier run (${keptDir})`);
        populated.push({ ...before, load: 'kept' });
        continue;
      }
      ctx.log(`populating /scale-${size} with ${fmt(size)} records (transactions of 1,000 creates)...`);
      const p = await populate(zk.connectString, `/scale-${size}`, size, (done, rate) =>
        ctx.log(`  ${fmt(done)} created, ${fmt(rate)}/s, load ${loadavg()}`),
      );
      populated.push({ size, ...p, load: loadavg() });
      await markPopulated(zk.connectString, populated[populated.length - 1]!);
      ctx.log(`populated ${fmt(size)} in ${p.seconds.toFixed(1)} s (${fmt(p.perSecond)} creates/s), load ${loadavg()}`);
    }
    if (process.env.TOKENSYNC_BENCH_POPULATE_ONLY)
      throw new Error('TOKENSYNC_BENCH_POPULATE_ONLY: populated, nothing measured (not a failure)');
    if (populated.some((p) => p.load !== 'kept')) {
      // a server writes a snapshot of the whole tree when it starts (after replaying its log): its size is what a
      // server joining an ensemble would be sent
      ctx.log('restarting ZooKeeper so that it writes a snapshot...');
      await zk.stop(0);
      await zk.start(0);
      await zk.waitForQuorum({ timeoutMs: 900_000 });
    }
    const zkFigures = {
      heap: zkHeap(ctx),
      heapUsed: await zookeeperHeapUsed(zk.pids[0]!),
      snapshotBytes: newestSnapshotBytes(zk.getDataDir(0)),
      startS: zkStartS,
    };
    ctx.log(
      `ZooKeeper: heap used ${mib(zkFigures.heapUsed)} of ${zkFigures.heap}, snapshot ${mib(zkFigures.snapshotBytes)}, start ${zkStartS.toFixed(0)} s`,
    );

    const secret = await makeSecretFile(ctx.scratch);
    for (const size of [0, ...sizes]) {
      const sidecar = zkSidecar(`scale-${size}`, ctx.scratch, `${zk.connectString}/scale-${size}`, secret, {
        // the reaper would start reading every record a minute in (2,000 reads/s): keep it out of these figures
        'cluster.store.reaper.interval': '1h',
      });
      const spawned = Date.now();
      await sidecar.start();
      const readyAt = await waitReadyz(sidecar.url, READY_TIMEOUT_MS);
      await sleep(Math.max(0, readyAt + 3_000 - Date.now()));
      const rss3s = (await memoryOf(sidecar.pid!)).rss;
      await sleep(Math.max(0, readyAt + SETTLED_MS / 2 - Date.now()));
      const rssHalfway = (await memoryOf(sidecar.pid!)).rss;
      await sleep(Math.max(0, readyAt + SETTLED_MS - Date.now()));
      const mem = await memoryOf(sidecar.pid!);
      const cluster = await request(sidecar.url, 'GET', '/v1/cluster');
      const { token } = await issueToken(sidecar);
      const node: Node = {
        size,
        sidecar,
        readyMs: readyAt - spawned,
        rebuildMs: initialRebuildMs(sidecar.logs),
        rss3s,
        rss: mem.rss,
        hwm: mem.hwm,
        mirrorSize: Number(cluster.body?.mirror?.size ?? NaN),
        token,
        runs: [],
        load: loadavg(),
      };
      nodes.push(node);
      ctx.log(
        `${fmt(size).padStart(9)} tokens: ready ${(node.readyMs / 1000).toFixed(2)} s after spawn (mirror load ${node.rebuildMs ?? '?'} ms), ` +
          `RSS ${mib(node.rss3s)} at 3 s, ${mib(rssHalfway)} at ${SETTLED_MS / 2000} s, ${mib(node.rss)} at ${SETTLED_MS / 1000} s (peak ${mib(node.hwm)}), mirror ${fmt(node.mirrorSize)}, load ${node.load}`,
      );
    }

    const rounds = ctx.quick ? 1 : 2;
    const durationS = ctx.quick ? 3 : 5;
    for (const node of nodes)
      await runAutocannon({
        url: `${node.sidecar.url}/v1/auth`,
        headers: { cookie: `tokensync=${node.token}` },
        connections: CONNECTIONS,
        durationS: 1,
      });
    for (let round = 1; round <= rounds; round++) {
      for (const node of nodes) {
        const r = await runAutocannon({
          url: `${node.sidecar.url}/v1/auth`,
          headers: { cookie: `tokensync=${node.token}` },
          connections: CONNECTIONS,
          durationS,
        });
        node.runs.push(r);
        ctx.log(
          `round ${round} ${fmt(node.size).padStart(9)} tokens: ${fmt(r.rps)} req/s p50 ${ms(r.p50Ms)} p99 ${ms(r.p99Ms)} non-2xx ${r.non2xx} load ${r.load}`,
        );
      }
    }
    return summarize(nodes, populated, inProcess, zkFigures, { rounds, durationS });
  } finally {
    await Promise.all(nodes.map((n) => n.sidecar.stop().catch(() => undefined)));
    await zk?.close().catch(() => undefined);
  }
}

function summarize(
  nodes: Node[],
  populated: Populated[],
  inProcess: { size: number; bytesPerToken: number },
  zkFigures: ZooKeeperFigures,
  run: { rounds: number; durationS: number },
): SectionResult {
  const empty = nodes[0]!;
  const perToken = (n: Node) => (n.size === 0 ? NaN : (n.rss - empty.rss) / n.size);
  const perToken3s = (n: Node) => (n.size === 0 ? NaN : (n.rss3s - empty.rss3s) / n.size);
  const p99 = (n: Node) => median(n.runs.map((r) => r.p99Ms));
  const rows = nodes.map((n) => [
    fmt(n.size),
    fmt(n.mirrorSize),
    `${(n.readyMs / 1000).toFixed(2)} s`,
    n.rebuildMs === undefined ? '?' : `${(n.rebuildMs / 1000).toFixed(2)} s`,
    mib(n.rss3s),
    mib(n.rss),
    mib(n.hwm),
    n.size === 0 ? '-' : fmt(perToken3s(n)),
    n.size === 0 ? '-' : fmt(perToken(n)),
    fmt(median(n.runs.map((r) => r.rps))),
    ms(median(n.runs.map((r) => r.p50Ms))),
    ms(p99(n)),
    n.runs.reduce((x, r) => x + r.non2xx + r.errors, 0),
    n.load.split('/')[0]!,
  ]);
  const largest = nodes[nodes.length - 1]!;
  const full = largest.size >= 10_000_000;
  const quickWhy = full ? undefined : `--quick measures ${fmt(largest.size)} only`;
  const readyS = largest.readyMs / 1000;
  const ratio = p99(largest) / p99(empty);
  const goals: Goal[] = [
    {
      goal: `${fmt(largest.size)} tokens: a fresh sidecar ready in < ${GOAL_READY_S} s`,
      figure: `${readyS.toFixed(1)} s from spawn to /readyz 200 (mirror load ${largest.rebuildMs === undefined ? '?' : (largest.rebuildMs / 1000).toFixed(1)} s)`,
      met: full ? readyS < GOAL_READY_S : undefined,
      why: quickWhy,
    },
    ...nodes
      .filter((n) => n.size > 0)
      .map((n) => ({
        goal: `${fmt(n.size)} tokens: <= ${GOAL_BYTES_PER_TOKEN} bytes of sidecar RSS per token`,
        figure:
          `${fmt(perToken(n))} bytes/token of RSS over the empty sidecar ${SETTLED_MS / 1000} s after ready (${mib(n.rss)} vs ${mib(empty.rss)}; ` +
          `${fmt(perToken3s(n))} at 3 s)`,
        met: n.size >= 1_000_000 ? perToken(n) <= GOAL_BYTES_PER_TOKEN : undefined,
        why: n.size >= 1_000_000 ? undefined : `${fmt(n.size)} tokens: too few for a per-token figure`,
      })),
    {
      goal: `${fmt(largest.size)} tokens: /v1/auth p99 within ${GOAL_P99_RATIO}x of an empty store's`,
      figure: `p99 ${ms(p99(largest))} vs ${ms(p99(empty))} empty (${ratio.toFixed(2)}x), ${fmt(median(largest.runs.map((r) => r.rps)))} vs ${fmt(median(empty.runs.map((r) => r.rps)))} req/s`,
      met: full ? ratio <= GOAL_P99_RATIO : undefined,
      why: quickWhy,
    },
  ];
  const markdown = [
    table(
      [
        'live tokens',
        'mirror size',
        'ready (spawn -> /readyz 200)',
        'mirror load (initial rebuild)',
        'RSS 3 s after ready',
        `RSS ${SETTLED_MS / 1000} s after ready`,
        'peak RSS',
        'bytes/token over empty, 3 s',
        `bytes/token over empty, ${SETTLED_MS / 1000} s`,
        '/v1/auth req/s',
        'p50',
        'p99',
        'non-2xx + errors',
        'load avg 1m',
      ],
      rows,
    ),
    '',
    table(
      ['populated', 'seconds', 'creates/s', 'load avg at end'],
      populated.map((p) => [fmt(p.size), p.seconds.toFixed(1), fmt(p.perSecond), p.load]),
    ),
    '',
    'Before the compact mirror (a `Map` of jti to subject per shard; main at 3b3989b, measured 2026-12-06 by this section): 1,000,000 tokens ' +
      'took 228 bytes of RSS per token (298.0 MiB vs 80.7 MiB empty) and 180 bytes of V8 heap per token in-process; ready in 2.2 s; /v1/auth p99 ' +
      '2.77 ms vs 2.27 ms empty. Ten million would have taken about 2.3 GB per sidecar. Earlier runs of this section, and what each ' +
      'change to the mirror did, measured against its predecessor: docs/scale-notes.md.',
    '',
    `In-process, for comparison: a \`Mirror\` holding ${fmt(inProcess.size)} records takes ${fmt(inProcess.bytesPerToken)} bytes per token of V8 heap and ` +
      'typed arrays (used after a full GC, minus before; fed by `applyShard` with real record names, as a rebuild does).',
    '',
    `- ZooKeeper: one local server (Debian 3.8, \`-Xmx${zkFigures.heap}\`, serial GC, \`snapCount\` raised so that no snapshot runs while populating), ` +
      `holding ${fmt(sizes(nodes))} records: ${mib(zkFigures.heapUsed)} of heap used after a full GC (\`jcmd GC.heap_info\`), a snapshot of ` +
      `${mib(zkFigures.snapshotBytes)} (written at start-up; the server took ${zkFigures.startS.toFixed(0)} s to start). The tree is filled with ` +
      'transactions of 1,000 creates (`multi`) of real layout-2 record names (`<shard>/<jti>~<base64url subject>~0~<exp>`, 4096 shards) holding valid `TokenRecord` JSON, two tokens per subject. ' +
      'A joining sidecar only reads (one `getChildren` per shard), so one server or an ensemble makes little difference to its load time.',
    '- Each sidecar is a fresh process with its own chroot. "ready" runs from spawn (Node start-up included) to the first `/readyz` 200, polled every 20 ms; ' +
      '"mirror load" is the sidecar\'s own log of its initial rebuild. RSS is `VmRSS` from `/proc/<pid>/status` 3 s and ' +
      `${SETTLED_MS / 1000} s after ready, the sidecar idle meanwhile: V8 gives the initial rebuild's garbage (each record name, a string of about ` +
      '100 bytes, read once) back when its memory reducer runs, mostly 10 to 20 s after the load on this machine (once, at ten million, not within 30 s); the goal is judged on the later figure. ' +
      '"peak" is `VmHWM`.',
    `- Validation: autocannon \`GET /v1/auth\`, ${CONNECTIONS} connections, ${run.durationS} s, median of ${run.rounds} run(s) alternated across sizes. ` +
      'The reaper is set to 1 h in these sidecars, so that none of them deletes while measured.',
    '',
    '```sh',
    'npm run bench -- --only scale            # --quick: 10,000 and 100,000 tokens',
    'TOKENSYNC_BENCH_ZK_DIR=/var/tmp/zk-scale npm run bench -- --only scale   # keeps the populated tree for the next run (delete it after)',
    '# TOKENSYNC_BENCH_POPULATE_ONLY=1 as well: populate (or resume populating) that tree, measure nothing',
    '# TOKENSYNC_BENCH_SCALE_SIZES=1000000: the 1,000,000 row alone (3 GB ZooKeeper heap)',
    '```',
  ].join('\n');
  return { id: 'scale', title: scaleSection.title, markdown, goals };
}

function sizes(nodes: Node[]): number {
  return nodes.reduce((sum, n) => sum + n.size, 0);
}

/** V8 heap plus ArrayBuffer memory (the compact mirror's tables are typed arrays, outside the heap proper). */
function heapAndBuffers(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** V8 heap bytes per record of a Mirror fed by shard listings, measured in this process with a forced GC. */
function mirrorHeapPerToken(ctx: BenchContext, size: number): { size: number; bytesPerToken: number } {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const shards = 4096;
  gc();
  gc();
  // everything the mirror keeps counts, the record names its keys may share included: measure from before they exist
  const before = heapAndBuffers();
  let mirror: Mirror | undefined = new Mirror(shards);
  const lists: string[][] = Array.from({ length: shards }, () => []);
  for (let i = 0; i < size; i++) {
    const ref = { jti: newJti('session'), subject: `user-${i >> 1}@example.com` };
    // flat strings, as the binding hands them over (not ropes of the pieces above)
    lists[shardOf(ref.jti, shards)]!.push(JSON.parse(JSON.stringify(recordName(ref))) as string);
  }
  for (let shard = 0; shard < shards; shard++) mirror.applyShard(shard, lists[shard]!);
  lists.length = 0;
  gc();
  gc();
  const after = heapAndBuffers();
  const bytesPerToken = (after - before) / size;
  if (mirror.size !== size) throw new Error(`mirror holds ${mirror.size}, expected ${size}`);
  // eslint-disable-next-line no-useless-assignment -- dropped so that gc() frees it before the next size
  mirror = undefined;
  gc();
  ctx.log(`in-process Mirror with ${fmt(size)} records: ${fmt(bytesPerToken)} heap bytes/token, load ${loadavg()}`);
  return { size, bytesPerToken };
}
