import { performance } from 'node:perf_hooks';
import type { Histogram } from 'hdr-histogram-js';
import { request } from '../../integration-tests/support/http.js';
import { Mirror } from '../../sidecar/mirror/mirror.js';
import type { TokenRecord } from '../../sidecar/store/token-record.js';
import { newJti } from '../../sidecar/store/token-record.js';
import { ZooKeeperStore } from '../../sidecar/store/zookeeper/index.js';
import { silentLogger } from '../../sidecar/util/logger.js';
import { table, type BenchContext, type Goal, type Section, type SectionResult } from '../support/section.js';
import { cdfOf, latencyHistogram, loadavg, ms, percentilesOf } from '../support/stats.js';
import { makeSecretFile, zkSidecar, type SidecarProcess } from '../support/tokensync.js';
import { startZooKeeper, type ZooKeeperCluster } from '../support/zk.js';

/** Longest wait for one token to reach B before it counts as lost (bounds every loop). */
const MAX_WAIT_MS = 5_000;
const GOAL_P99_MS = 50;

export const propagationSection: Section = {
  id: 'propagation',
  title: '2. Propagation A -> B (3-node ensemble)',
  run,
};

interface Series {
  name: string;
  what: string;
  histogram: Histogram;
  lost: number;
  /** How many were seen on B at the first look (before any wait). */
  firstLook: number;
  load: string;
}

function series(name: string, what: string): Series {
  return { name, what, histogram: latencyHistogram(), lost: 0, firstLook: 0, load: '' };
}

function record(s: Series, ms: number): void {
  s.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
}

async function run(ctx: BenchContext): Promise<SectionResult> {
  const n = ctx.quick ? 200 : 1_000;
  let zk: ZooKeeperCluster | undefined;
  const sidecars: SidecarProcess[] = [];
  try {
    zk = await startZooKeeper({ servers: 3 });
    const leader = await zk.waitForQuorum();
    const followers = [0, 1, 2].filter((i) => i !== leader) as [number, number];
    ctx.log(`ensemble up (leader: server ${leader}); ${n} tokens per measurement`);

    const secret = await makeSecretFile(ctx.scratch);
    const a = zkSidecar('prop-a', ctx.scratch, `${zk.connectString}/bench-prop`, secret);
    const b = zkSidecar('prop-b', ctx.scratch, `${zk.connectString}/bench-prop`, secret);
    sidecars.push(a, b);
    await Promise.all([a.start(), b.start()]);

    const http = await measureSidecars(ctx, a, b, n);
    const mirror = await measureMirrors(ctx, zk, followers, n);
    const all = [...http, ...mirror];

    const rows = all.map((s) => {
      const p = percentilesOf(s.histogram);
      return [
        s.name,
        s.what,
        p.count,
        ms(p.p50Ms),
        ms(p.p90Ms),
        ms(p.p99Ms),
        ms(p.maxMs),
        `${((100 * s.firstLook) / Math.max(1, p.count)).toFixed(1)}%`,
        s.lost,
        s.load,
      ];
    });
    const [issueHttp, revokeHttp, issueMirror, revokeMirror] = all.map((s) => percentilesOf(s.histogram)) as [
      ReturnType<typeof percentilesOf>,
      ReturnType<typeof percentilesOf>,
      ReturnType<typeof percentilesOf>,
      ReturnType<typeof percentilesOf>,
    ];
    const goals: Goal[] = [
      {
        goal: `issue propagation p99 < ${GOAL_P99_MS} ms (201 on A -> 200 on B)`,
        figure: `p50 ${ms(issueHttp.p50Ms)}, p99 ${ms(issueHttp.p99Ms)}; pure mirror (watch) p99 ${ms(issueMirror.p99Ms)}`,
        met: issueHttp.p99Ms < GOAL_P99_MS && http[0]!.lost === 0,
      },
      {
        goal: `revocation propagation p99 < ${GOAL_P99_MS} ms (204 on A -> 401 on B)`,
        figure: `p50 ${ms(revokeHttp.p50Ms)}, p99 ${ms(revokeHttp.p99Ms)}; pure mirror (watch) p99 ${ms(revokeMirror.p99Ms)}`,
        met: revokeHttp.p99Ms < GOAL_P99_MS && http[1]!.lost === 0,
      },
    ];
    const markdown = [
      table(
        [
          'measurement',
          'from -> to',
          'tokens',
          'p50',
          'p90',
          'p99',
          'max',
          'seen at first look',
          `lost (> ${MAX_WAIT_MS / 1000} s)`,
          'load avg at end',
        ],
        rows,
      ),
      '',
      '- **Over HTTP (two sidecar processes)**: A and B are `tokensync sidecar` processes on the same 3-node ensemble (full connect string, ' +
        "default 4096 shards). For an issue, the clock starts when A's `201` arrives and B is asked `POST /v1/validate` in a loop with no delay " +
        'until it answers `200`. **This is immediate by design**: B confirms a validly signed token its mirror does not know against ZooKeeper ' +
        '(`sync` + `exists`, one round trip) before refusing it, so the figure is one validation round trip plus that read, not mirror propagation. ' +
        "For a revocation the clock starts at A's `204` and B is polled until `401`: B already holds the token in its mirror, so this one " +
        "does measure propagation: ZooKeeper commit, B's child watch on the shard, B's re-listing of the shard, the mirror update.",
      '- **Pure mirror propagation (in-process)**: two `ZooKeeperStore`s in the bench process, A connected to one follower and B to the other ' +
        "(the slowest path: the write goes follower -> leader -> quorum, and B's follower must apply it before its watch fires), B feeding a " +
        "`Mirror`. The clock starts when A's `create` (or `delete`) returns and stops when B's mirror holds (or no longer holds) the jti; " +
        '"seen at first look" counts tokens B\'s mirror already had when A\'s reply arrived (recorded as 1 µs).',
      `- Sequential: one token at a time, ${n} tokens per row; the revocation rows revoke the tokens the issue rows issued.`,
      '',
      '```sh',
      'npm run bench -- --only propagation      # --quick: 200 tokens per row',
      '```',
    ].join('\n');
    return {
      id: 'propagation',
      title: propagationSection.title,
      markdown,
      goals,
      plot: { propagation: all.map((s) => ({ series: s.name, cdf: cdfOf(s.histogram) })) },
    };
  } finally {
    await Promise.all(sidecars.map((s) => s.stop().catch(() => undefined)));
    await zk?.close().catch(() => undefined);
  }
}

async function measureSidecars(ctx: BenchContext, a: SidecarProcess, b: SidecarProcess, n: number): Promise<Series[]> {
  const issue = series('issue, HTTP: 201 on A -> 200 on B', 'A `POST /v1/tokens` -> B `POST /v1/validate` 200');
  const revoke = series('revoke, HTTP: 204 on A -> 401 on B', 'A `DELETE /v1/tokens/{jti}` -> B `POST /v1/validate` 401');
  const tokens: Array<{ token: string; jti: string }> = [];
  const untilStatus = async (token: string, status: number, s: Series, t0: number) => {
    for (let polls = 0; ; polls++) {
      const res = await request(b.url, 'POST', '/v1/validate', { body: { token } });
      if (res.status === status) {
        record(s, performance.now() - t0);
        if (polls === 0) s.firstLook++;
        return;
      }
      if (performance.now() - t0 > MAX_WAIT_MS) {
        s.lost++;
        return;
      }
    }
  };
  for (let i = 0; i < n; i++) {
    const res = await request(a.url, 'POST', '/v1/tokens', { body: { subject: `prop-user-${i % 100}` } });
    const t0 = performance.now();
    if (res.status !== 201) throw new Error(`issue on A answered ${res.status}: ${res.text}`);
    tokens.push({ token: res.body.token as string, jti: res.body.jti as string });
    await untilStatus(res.body.token as string, 200, issue, t0);
  }
  issue.load = loadavg();
  ctx.log(
    `HTTP issue   p50 ${ms(percentilesOf(issue.histogram).p50Ms)} p99 ${ms(percentilesOf(issue.histogram).p99Ms)} lost ${issue.lost} load ${issue.load}`,
  );
  for (const { token, jti } of tokens) {
    const res = await request(a.url, 'DELETE', `/v1/tokens/${encodeURIComponent(jti)}`);
    const t0 = performance.now();
    if (res.status !== 204) throw new Error(`revoke on A answered ${res.status}: ${res.text}`);
    await untilStatus(token, 401, revoke, t0);
  }
  revoke.load = loadavg();
  ctx.log(
    `HTTP revoke  p50 ${ms(percentilesOf(revoke.histogram).p50Ms)} p99 ${ms(percentilesOf(revoke.histogram).p99Ms)} lost ${revoke.lost} load ${revoke.load}`,
  );
  return [issue, revoke];
}

async function measureMirrors(ctx: BenchContext, zk: ZooKeeperCluster, followers: [number, number], n: number): Promise<Series[]> {
  const issue = series("issue, mirror: create on A -> in B's mirror", "`ZooKeeperStore.create` returned -> B's `Mirror` holds the jti");
  const revoke = series(
    "revoke, mirror: delete on A -> out of B's mirror",
    "`ZooKeeperStore.delete` returned -> B's `Mirror` drops the jti",
  );
  const options = (server: string) => ({
    servers: [server],
    chroot: '/bench-prop-mirror',
    sessionTimeoutMs: 15_000,
    shards: 4096,
    logger: silentLogger(),
  });
  const storeA = new ZooKeeperStore(options(zk.getServerConnectString(followers[0])));
  const storeB = new ZooKeeperStore(options(zk.getServerConnectString(followers[1])));
  const mirror = new Mirror(() => storeB.shards);
  try {
    await storeA.start();
    mirror.attach(storeB);
    const initialized = new Promise<void>((resolve) => mirror.once('initialized', () => resolve()));
    await storeB.start({ watch: true });
    await initialized;

    /** Resolves with the time B's mirror reached `want` for `jti` (checked after each listing or change B applies). */
    const watchFor = (jti: string, want: (present: boolean) => boolean) => {
      let onShard: () => void = () => undefined;
      let timer: NodeJS.Timeout | undefined;
      const promise = new Promise<number | undefined>((resolve) => {
        onShard = () => {
          if (want(mirror.lookup(jti).presence === 'present')) resolve(performance.now());
        };
        // after the mirror's own listeners: the mirror has applied the listing or the single change
        storeB.on('shard', onShard);
        storeB.on('record', onShard);
        timer = setTimeout(() => resolve(undefined), MAX_WAIT_MS);
      }).finally(() => {
        storeB.off('shard', onShard);
        storeB.off('record', onShard);
        clearTimeout(timer);
      });
      return promise;
    };
    const one = async (s: Series, jti: string, want: (present: boolean) => boolean, write: () => Promise<boolean>) => {
      const seen = watchFor(jti, want);
      if (!(await write())) throw new Error(`store write for ${jti} changed nothing`);
      const acked = performance.now();
      if (want(mirror.lookup(jti).presence === 'present')) {
        s.firstLook++;
        record(s, 0);
        void seen;
        return;
      }
      const at = await seen;
      if (at === undefined) s.lost++;
      else record(s, at - acked);
    };
    const records: TokenRecord[] = [];
    for (let i = 0; i < n; i++) {
      const now = Date.now();
      const rec: TokenRecord = {
        jti: newJti('session'),
        subject: `mirror-user-${i % 100}`,
        kind: 'session',
        issuedAt: now,
        expiresAt: now + 3_600_000,
        node: 'bench-a',
      };
      records.push(rec);
      await one(
        issue,
        rec.jti,
        (present) => present,
        () => storeA.create(rec),
      );
    }
    issue.load = loadavg();
    ctx.log(
      `mirror issue  p50 ${ms(percentilesOf(issue.histogram).p50Ms)} p99 ${ms(percentilesOf(issue.histogram).p99Ms)} lost ${issue.lost} load ${issue.load}`,
    );
    for (const rec of records)
      await one(
        revoke,
        rec.jti,
        (present) => !present,
        () => storeA.delete(rec),
      );
    revoke.load = loadavg();
    ctx.log(
      `mirror revoke p50 ${ms(percentilesOf(revoke.histogram).p50Ms)} p99 ${ms(percentilesOf(revoke.histogram).p99Ms)} lost ${revoke.lost} load ${revoke.load}`,
    );
    return [issue, revoke];
  } finally {
    mirror.detach();
    await storeA.close();
    await storeB.close();
  }
}
