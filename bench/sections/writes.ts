import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from '../../integration-tests/support/http.js';
import { rawCreateRate } from '../support/raw-create.js';
import { ZooKeeperStore } from '../../sidecar/store/zookeeper/index.js';
import { DEFAULT_CREATE_BATCH, DEFAULT_CREATES_IN_FLIGHT } from '../../sidecar/store/zookeeper/zookeeper-store.js';
import { newJti } from '../../sidecar/store/token-record.js';
import { silentLogger } from '../../sidecar/util/logger.js';
import { measureCpu } from '../support/cpu.js';
import { runAutocannon, type LoadResult } from '../support/load.js';
import { table, type BenchContext, type Goal, type Section, type SectionResult } from '../support/section.js';
import { fmt, loadavg, median, ms, ratio } from '../support/stats.js';
import { makeSecretFile, zkSidecar, type SidecarProcess } from '../support/tokensync.js';
import { startBigZooKeeper, writeCounters } from '../support/zk.js';

const CONNECTIONS_PER_SIDECAR = 128;
/** Creates in flight for the in-process store row (what 128 connections x 2 would keep busy). */
const STORE_IN_FLIGHT = 256;
const GOAL_RATIO = 0.7;

export const writesSection: Section = {
  id: 'writes',
  title: '3. Write throughput (tokens issued per second, 3-node ensemble)',
  run,
};

/** Where the 2 cores went during one run, in µs of CPU per token (or per create for the raw run). */
interface CpuSplit {
  /** The three ZooKeeper JVMs together. */
  jvms: number;
  /** The bench process: the raw client, the store row's client, or autocannon. */
  client: number;
  /** Sidecars that issued (for "three sidecars", all of them; each also watches the others' tokens). */
  issuers: number;
  /** Sidecars that only watched. */
  watchers: number;
}

interface WriteSample {
  rate: number;
  split: CpuSplit;
  issued: number;
  txnsPerToken: number;
  znodesPerToken: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  sidecarCores: number;
  load: string;
}

function splitText(split: CpuSplit): string {
  return `CPU µs/token: JVMs ${fmt(split.jvms, 0)} client ${fmt(split.client, 0)} issuers ${fmt(split.issuers, 0)} watchers ${fmt(split.watchers, 0)}`;
}

/** Tokens the sidecars say they issued (`tokensync_tokens_issued_total`, all kinds), summed. */
async function issuedCount(sidecars: SidecarProcess[]): Promise<number> {
  let total = 0;
  for (const s of sidecars) {
    const res = await request(s.url, 'GET', '/metrics');
    for (const m of String(res.text).matchAll(/^tokensync_tokens_issued_total\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
  }
  return total;
}

async function run(ctx: BenchContext): Promise<SectionResult> {
  const durationS = ctx.quick ? 3 : 8;
  const rounds = ctx.quick ? 1 : 3;
  const rawN = ctx.quick ? 5_000 : 20_000;
  let zk: Awaited<ReturnType<typeof startBigZooKeeper>> | undefined;
  const sidecars: SidecarProcess[] = [];
  const stores: ZooKeeperStore[] = [];
  try {
    // 1 GB heaps: each round leaves ~100k records behind, more than the harness's 256 MB default is meant for
    zk = await startBigZooKeeper(3, '1g');
    await zk.waitForQuorum();
    const secret = await makeSecretFile(ctx.scratch);
    for (const id of ['w-a', 'w-b', 'w-c'])
      sidecars.push(zkSidecar(id, ctx.scratch, `${zk.connectString}/bench-writes`, secret, { 'log.level': 'info' }));
    await Promise.all(sidecars.map((s) => s.start()));
    const body = JSON.stringify({ subject: 'bench-writer@example.com' });
    const issueVia = (s: SidecarProcess) =>
      runAutocannon({
        url: `${s.url}/v1/tokens`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections: CONNECTIONS_PER_SIDECAR,
        durationS,
      });
    // warm-up: JIT, connection pools, the first shard listings
    await Promise.all(
      sidecars.map((s) =>
        runAutocannon({
          url: `${s.url}/v1/tokens`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          connections: 8,
          durationS: 1,
        }),
      ),
    );

    const store = new ZooKeeperStore({
      servers: zk.connectString.split(','),
      chroot: '/bench-writes',
      sessionTimeoutMs: 15_000,
      shards: 4096,
      logger: silentLogger(),
    });
    await store.start();
    stores.push(store);
    /** `ZooKeeperStore.create` in this process, into the tree the three sidecars watch: ZooKeeper's share without HTTP. */
    const storeRate = async (n: number): Promise<number> => {
      let next = 0;
      const started = performance.now();
      const now = Date.now();
      await Promise.all(
        Array.from({ length: STORE_IN_FLIGHT }, async () => {
          while (next++ < n) {
            await store.create({
              jti: newJti('session'),
              subject: 'bench-writer@example.com',
              kind: 'session',
              issuedAt: now,
              expiresAt: now + 3_600_000,
              node: 'bench',
            });
          }
        }),
      );
      return n / ((performance.now() - started) / 1000);
    };
    /** Runs `fn`, then splits the CPU the processes used by `per` (tokens or creates). */
    const cpuSplit = async <T>(
      issuers: SidecarProcess[],
      fn: () => Promise<T>,
      per: (value: T) => number,
    ): Promise<{ value: T; split: CpuSplit }> => {
      const watchers = sidecars.filter((s) => !issuers.includes(s));
      const started = performance.now();
      const { value, cores } = await measureCpu([zk!.pids, [process.pid], issuers.map((s) => s.pid), watchers.map((s) => s.pid)], fn);
      const seconds = (performance.now() - started) / 1000;
      const us = (c: number) => (c * seconds * 1e6) / per(value);
      return { value, split: { jvms: us(cores[0]!), client: us(cores[1]!), issuers: us(cores[2]!), watchers: us(cores[3]!) } };
    };
    const raw: Array<{ rate: number; load: string; split: CpuSplit }> = [];
    const rawMulti: Array<{ rate: number; load: string; split: CpuSplit }> = [];
    const multiShape = { batch: DEFAULT_CREATE_BATCH, inFlight: DEFAULT_CREATES_IN_FLIGHT };
    const viaStore: Array<{ rate: number; load: string; watchUs: number; split: CpuSplit }> = [];
    const one: WriteSample[] = [];
    const three: WriteSample[] = [];
    const measure = async (through: SidecarProcess[]): Promise<WriteSample> => {
      const before = await writeCounters(zk!);
      const issuedBefore = await issuedCount(sidecars);
      const { value: results, split } = await cpuSplit(
        through,
        () => Promise.all(through.map(issueVia)),
        (rs) =>
          Math.max(
            1,
            rs.reduce((n, r: LoadResult) => n + r.ok, 0),
          ),
      );
      await sleep(1_000); // requests still in flight when autocannon stopped complete (and count) before the counters are read
      const after = await writeCounters(zk!);
      const issued = results.reduce((n, r: LoadResult) => n + r.ok, 0);
      // every token the sidecars issued, answered to autocannon or not (the sidecars' own counter)
      const issuedAll = (await issuedCount(sidecars)) - issuedBefore;
      return {
        rate: issued / durationS,
        split,
        issued,
        txnsPerToken: (after.zxid - before.zxid) / issuedAll,
        znodesPerToken: (after.znodes - before.znodes) / issuedAll,
        p50Ms: median(results.map((r) => r.p50Ms)),
        p99Ms: Math.max(...results.map((r) => r.p99Ms)),
        failed: results.reduce((n, r) => n + r.non2xx + r.errors, 0),
        sidecarCores: (split.issuers * issued) / durationS / 1e6,
        load: loadavg(),
      };
    };
    for (let round = 1; round <= rounds; round++) {
      let rawSplit: CpuSplit | undefined;
      const rate = await rawCreateRate(zk.connectString, rawN, async (creates) => {
        rawSplit = (await cpuSplit([], creates, () => rawN)).split; // the creates alone, not the deletes after them
      });
      raw.push({ rate, load: loadavg(), split: rawSplit! });
      ctx.log(
        `round ${round} raw create      ${fmt(rate).padStart(7)} creates/s (${fmt(rawN)} pipelined, 1000 in flight)  ${splitText(rawSplit!)}  load ${loadavg()}`,
      );
      let multiSplit: CpuSplit | undefined;
      const multiRate = await rawCreateRate(
        zk.connectString,
        rawN,
        async (creates) => {
          multiSplit = (await cpuSplit([], creates, () => rawN)).split;
        },
        multiShape,
      );
      rawMulti.push({ rate: multiRate, load: loadavg(), split: multiSplit! });
      ctx.log(
        `round ${round} raw multi       ${fmt(multiRate).padStart(7)} creates/s (${fmt(rawN)}, ${multiShape.batch} per multi, ${multiShape.inFlight} in flight)  ${splitText(multiSplit!)}  load ${loadavg()}`,
      );
      const watched = await cpuSplit(
        [],
        () => storeRate(rawN),
        () => rawN,
      );
      const sRate = watched.value;
      const watchUs = watched.split.watchers / sidecars.length;
      viaStore.push({ rate: sRate, load: loadavg(), watchUs, split: watched.split });
      ctx.log(
        `round ${round} store.create    ${fmt(sRate).padStart(7)} creates/s (${fmt(rawN)}, ${STORE_IN_FLIGHT} in flight, 3 sidecars watching; ` +
          `each watcher spent ${fmt(watchUs, 1)} µs CPU per token)  ${splitText(watched.split)}  load ${loadavg()}`,
      );
      for (const [label, set, into] of [
        ['one sidecar   ', sidecars.slice(0, 1), one],
        ['three sidecars', sidecars, three],
      ] as const) {
        const s = await measure([...set]);
        into.push(s);
        ctx.log(
          `round ${round} ${label}  ${fmt(s.rate).padStart(7)} tokens/s  p50 ${ms(s.p50Ms)} p99 ${ms(s.p99Ms)}  ZooKeeper txns/token ${s.txnsPerToken.toFixed(3)}  znodes/token ${s.znodesPerToken.toFixed(3)}  failed ${s.failed}  sidecar CPU ${s.sidecarCores.toFixed(2)}  ${splitText(s.split)}  load ${s.load}`,
        );
      }
    }

    const rawRate = median(raw.map((r) => r.rate));
    const rawMultiRate = median(rawMulti.map((r) => r.rate));
    const row = (name: string, samples: WriteSample[], conns: number) => {
      const rate = median(samples.map((s) => s.rate));
      return [
        name,
        fmt(rate),
        ratio(rate, rawRate),
        ratio(rate, rawMultiRate),
        ms(median(samples.map((s) => s.p50Ms))),
        ms(median(samples.map((s) => s.p99Ms))),
        conns,
        median(samples.map((s) => s.txnsPerToken)).toFixed(3),
        median(samples.map((s) => s.znodesPerToken)).toFixed(3),
        median(samples.map((s) => s.sidecarCores)).toFixed(2),
        fmt(median(samples.map((s) => (s.sidecarCores * 1e6) / s.rate)), 0),
        samples.reduce((n, s) => n + s.failed, 0),
        samples.map((s) => s.load.split('/')[0]).join(', '),
      ];
    };
    const oneRate = median(one.map((s) => s.rate));
    const threeRate = median(three.map((s) => s.rate));
    const txns = median([...one, ...three].map((s) => s.txnsPerToken));
    const znodes = median([...one, ...three].map((s) => s.znodesPerToken));
    const goals: Goal[] = [
      {
        goal: `issuing through three sidecars at once >= ${GOAL_RATIO}x the raw ZooKeeper create ceiling`,
        figure: `${ratio(threeRate, rawRate)} (${fmt(threeRate)} vs ${fmt(rawRate)} creates/s; rounds ${three.map((t, i) => ratio(t.rate, raw[i]!.rate)).join(', ')})`,
        met: threeRate >= GOAL_RATIO * rawRate,
        why: threeRate >= GOAL_RATIO * rawRate ? undefined : 'see the note under the table',
      },
      {
        goal: `issuing through one sidecar >= ${GOAL_RATIO}x the raw ZooKeeper create ceiling`,
        figure: `${ratio(oneRate, rawRate)} (${fmt(oneRate)} vs ${fmt(rawRate)} creates/s; rounds ${one.map((t, i) => ratio(t.rate, raw[i]!.rate)).join(', ')})`,
        met: oneRate >= GOAL_RATIO * rawRate,
        why: oneRate >= GOAL_RATIO * rawRate ? undefined : 'see the note under the table',
      },
      {
        goal: 'at most one ZooKeeper write per issued token',
        figure: `${txns.toFixed(3)} transactions (${fmt(1 / txns, 0)} creates per transaction) and ${znodes.toFixed(3)} znodes per token`,
        met: txns < 1.02,
      },
    ];
    const markdown = [
      table(
        [
          'path',
          'tokens (creates)/s',
          'vs raw create',
          'vs raw multi',
          'p50',
          'p99',
          'connections',
          'ZooKeeper txns per token',
          'znodes per token',
          'sidecar CPU (cores)',
          'sidecar CPU µs per token',
          'failed',
          'load avg 1m at each run',
        ],
        [
          [
            'raw `create`, zookeeper binding, 1,000 in flight, one session (`rawCreateRate`)',
            fmt(rawRate),
            '1.00x',
            ratio(rawRate, rawMultiRate),
            '-',
            '-',
            '-',
            '1',
            '1',
            '-',
            '-',
            0,
            raw.map((r) => r.load.split('/')[0]).join(', '),
          ],
          [
            `raw \`multi\`: the same creates, ${multiShape.batch} per transaction, ${multiShape.inFlight} transactions in flight (the store's defaults)`,
            fmt(rawMultiRate),
            ratio(rawMultiRate, rawRate),
            '1.00x',
            '-',
            '-',
            '-',
            (1 / multiShape.batch).toFixed(3),
            '1',
            '-',
            '-',
            0,
            rawMulti.map((r) => r.load.split('/')[0]).join(', '),
          ],
          [
            `\`ZooKeeperStore.create\` in the bench process (no HTTP), ${STORE_IN_FLIGHT} in flight, into the tree the 3 sidecars watch`,
            fmt(median(viaStore.map((r) => r.rate))),
            ratio(median(viaStore.map((r) => r.rate)), rawRate),
            ratio(median(viaStore.map((r) => r.rate)), rawMultiRate),
            '-',
            '-',
            '-',
            '-',
            '1',
            '-',
            `${fmt(median(viaStore.map((r) => r.watchUs)), 0)} (each watching sidecar)`,
            0,
            viaStore.map((r) => r.load.split('/')[0]).join(', '),
          ],
          row('`POST /v1/tokens` through one sidecar', one, CONNECTIONS_PER_SIDECAR),
          row('`POST /v1/tokens` through three sidecars at once', three, 3 * CONNECTIONS_PER_SIDECAR),
        ],
      ),
      '',
      `Median of ${rounds} round(s), each round raw create -> raw multi -> store -> one -> three (alternated). Sidecar runs last ${durationS} s under autocannon ` +
        `(${CONNECTIONS_PER_SIDECAR} connections per sidecar, session tokens for one subject); the raw run creates ${fmt(rawN)} record-sized ` +
        "znodes under a fresh parent and deletes them afterwards. Writes per token: the leader's zxid counter (`srvr`) and `zk_znode_count` (`mntr`) " +
        'before and after each run (1 s after the load stops, so that requests in flight complete), divided by the tokens the sidecars issued ' +
        '(their `tokensync_tokens_issued_total`); the membership heartbeats (one `set` per sidecar every 5 s) are included.',
      '',
      'Where the 2 cores went, in µs of CPU per token (per create for the raw run), median of the rounds: the three ZooKeeper JVMs, the ' +
        "bench process (the raw client, the store row's client, or autocannon generating the HTTP load), the sidecars that issued and the " +
        'sidecars that only watched (`/proc/<pid>/stat` before and after each run). "2-core ceiling" is 2,000,000 µs divided by the total: ' +
        'the rate at which this box runs out of CPU for that path.',
      '',
      table(
        ['path', 'JVMs', 'bench process', 'issuing sidecars', 'watching sidecars', 'total', '2-core ceiling (/s)', 'measured (/s)'],
        (
          [
            ['raw `create`', raw.map((r) => r.split), rawRate],
            ['raw `multi`', rawMulti.map((r) => r.split), rawMultiRate],
            ['`ZooKeeperStore.create`, 3 sidecars watching', viaStore.map((r) => r.split), median(viaStore.map((r) => r.rate))],
            ['one sidecar', one.map((r) => r.split), oneRate],
            ['three sidecars', three.map((r) => r.split), threeRate],
          ] as const
        ).map(([name, splits, rate]) => {
          const m = (f: (s: CpuSplit) => number) => median(splits.map(f));
          const total = m((s) => s.jvms + s.client + s.issuers + s.watchers);
          return [
            name,
            fmt(
              m((s) => s.jvms),
              0,
            ),
            fmt(
              m((s) => s.client),
              0,
            ),
            fmt(
              m((s) => s.issuers),
              0,
            ),
            fmt(
              m((s) => s.watchers),
              0,
            ),
            fmt(total, 0),
            fmt(2e6 / total),
            fmt(rate),
          ];
        }),
      ),
      '',
      'How a sidecar hears of tokens: one persistent recursive watch on the tokens folder (ZooKeeper 3.6 `addWatch`, which the C client ' +
        'bundled with the binding lacks; `scripts/patch-zookeeper-binding.mjs` adds it) delivers every created or deleted record by name, so ' +
        'a token issued anywhere costs every other sidecar one notification and no read. Before it, each create fired the child watch of its ' +
        'shard in every sidecar, and each re-listed the shard to learn the name and re-arm the watch; the same bench then measured 0.37x raw ' +
        'for the store row, 0.14x for one sidecar and 0.16x for three. The next cost found and removed was the C client resolving the ' +
        'connect string with `getaddrinfo()` on every socket event (its resolution delay defaults to "always"): 50 µs of client CPU per ' +
        "raw create and far more per token in a sidecar, in the raw row as much as in ours. Then the C client's two `send()` calls per " +
        'request (the length, then the body: two TCP segments): one `sendmsg()` now carries up to 32 requests, and a sidecar sends the ' +
        'creates of one event-loop turn together (15 % more tokens/s through one sidecar in an A/B run, the JVMs 50 µs less per token).',
      '',
      "Then the binding's poll: after every socket event it stopped and restarted its poll handle and compared sockets by `fstat()`, " +
        'about five system calls per reply or notification; it now leaves a running poll alone (`strace -c`: a watching sidecar went ' +
        'from about 8.5 system calls per notification to 3).',
      '',
      'Then transactions. Those ratios (0.55x through one sidecar, 0.64x through three, in the last run before it) stopped at the ' +
        'JVMs: every token was a proposal, a log append and a commit of its own on three servers sharing two cores, about 300 µs of ' +
        'JVM CPU per token. A sidecar now sends the record creates asked for together as ONE ZooKeeper `multi` (up to ' +
        '`cluster.store.zookeeper.write.batch` = 128 creates, 2 transactions in flight, more creates waiting meanwhile: group commit; the ' +
        'binding lacked multi, `scripts/patch-zookeeper-binding.mjs` adds `a_multi`). Each record is still its own znode created by its ' +
        "own create op (the znodes column stays 1.000); the transactions column shows how many tokens shared one. The goal's ceiling is " +
        'the one the issue names, raw single creates of the same client library; "vs raw multi" compares with the same library sending ' +
        "the same transactions (the store's defaults), the ceiling of the batched design. What a token costs now is mostly the " +
        "sidecar's HTTP path and the load generator (see the CPU table): on machines of their own the JVMs would keep their cores.",
      '',
      'Everything shares 2 cores: three ZooKeeper JVMs, the sidecars and the load generator. "sidecar CPU" is what the sidecar processes used ' +
        'together (1.0 = one core).',
      '',
      '```sh',
      'npm run bench -- --only writes',
      'node dist/bench/support/raw-create.js <connect string> 20000   # the raw ceiling alone',
      '```',
    ].join('\n');
    return { id: 'writes', title: writesSection.title, markdown, goals };
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(sidecars.map((s) => s.stop().catch(() => undefined)));
    await zk?.close().catch(() => undefined);
  }
}
