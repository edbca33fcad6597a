import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordLayout } from '../../sidecar/store/token-record.js';
import { populate } from '../support/populate.js';
import { table, type BenchContext, type Goal, type Section, type SectionResult } from '../support/section.js';
import { fmt, loadavg } from '../support/stats.js';
import { makeSecretFile, waitReadyz, zkSidecar, type SidecarProcess } from '../support/tokensync.js';
import { mntr, startBigZooKeeper, type ZooKeeperCluster } from '../support/zk.js';

export const reaperSection: Section = {
  id: 'reaper',
  title: '6. Reaper load on ZooKeeper (expiry in record names)',
  run,
};

/** `cluster.store.reaper.interval`'s default: the first tick (election, then its pass) comes this long after start. */
const REAPER_INTERVAL_S = 60;
const READY_TIMEOUT_MS = 300_000;

interface Window {
  label: string;
  layout: RecordLayout;
  reaper: boolean;
  packetsPerSecond: number;
  sent: number;
  load: string;
}

/**
 * Two sidecars on one ZooKeeper server holding N live tokens; packets the server receives per second (`mntr`
 * zk_packets_received) over one minute, once the elected reaper has had its first tick: with the reaper at its
 * default interval vs. without (an interval of an hour), alternated, on a layout-2 tree; and with the reaper on a
 * layout-1 tree, whose reaper reads every record on every sweep.
 */
async function run(ctx: BenchContext): Promise<SectionResult> {
  const size = ctx.quick ? 100_000 : 1_000_000;
  const windowS = ctx.quick ? 20 : 60;
  let zk: ZooKeeperCluster | undefined;
  const windows: Window[] = [];
  try {
    zk = await startBigZooKeeper(1, ctx.quick ? '1g' : '4g', '-Dzookeeper.snapCount=100000000');
    for (const layout of [2, 1] as const) {
      ctx.log(`populating /reaper-${layout} with ${fmt(size)} records named by layout ${layout}...`);
      const p = await populate(
        zk.connectString,
        `/reaper-${layout}`,
        size,
        (done, rate) => ctx.log(`  ${fmt(done)} created, ${fmt(rate)}/s`),
        4096,
        layout,
      );
      ctx.log(`populated ${fmt(size)} in ${p.seconds.toFixed(1)} s, load ${loadavg()}`);
    }
    const secret = await makeSecretFile(ctx.scratch);
    const plan: Array<{ layout: RecordLayout; reaper: boolean }> = [
      { layout: 2, reaper: true },
      { layout: 2, reaper: false },
      { layout: 2, reaper: true },
      { layout: 2, reaper: false },
      { layout: 1, reaper: true },
    ];
    for (const [i, step] of plan.entries()) {
      const sidecars = [0, 1].map((n) =>
        zkSidecar(
          `reaper-${i}-${n}`,
          ctx.scratch,
          `${zk!.connectString}/reaper-${step.layout}`,
          secret,
          step.reaper ? {} : { 'cluster.store.reaper.interval': '1h' },
        ),
      );
      try {
        await Promise.all(sidecars.map((s) => s.start()));
        await Promise.all(sidecars.map((s) => waitReadyz(s.url, READY_TIMEOUT_MS)));
        // past the first reaper tick (the election and, with layout 2, its one pass over the names)
        await sleep((REAPER_INTERVAL_S + 15) * 1000);
        const w = await measure(zk, windowS);
        const label = `layout ${step.layout}, reaper ${step.reaper ? 'at its default (1 min)' : 'off (1 h)'}`;
        windows.push({ label, ...step, ...w, load: loadavg() });
        ctx.log(`${label}: ${w.packetsPerSecond.toFixed(1)} packets/s received (${w.sent.toFixed(1)}/s sent), load ${loadavg()}`);
      } finally {
        await Promise.all(sidecars.map((s: SidecarProcess) => s.stop()));
      }
    }
  } finally {
    await zk?.close();
  }
  return summarize(windows, size, windowS);
}

async function measure(zk: ZooKeeperCluster, seconds: number): Promise<{ packetsPerSecond: number; sent: number }> {
  const at = async () => {
    const m = await mntr(zk, 0);
    return { received: Number(m.get('zk_packets_received')), sent: Number(m.get('zk_packets_sent')), t: Date.now() };
  };
  const start = await at();
  await sleep(seconds * 1000);
  const end = await at();
  const s = (end.t - start.t) / 1000;
  return { packetsPerSecond: (end.received - start.received) / s, sent: (end.sent - start.sent) / s };
}

function summarize(windows: Window[], size: number, windowS: number): SectionResult {
  const mean = (xs: Window[]) => xs.reduce((sum, w) => sum + w.packetsPerSecond, 0) / Math.max(1, xs.length);
  const withReaper = mean(windows.filter((w) => w.layout === 2 && w.reaper));
  const without = mean(windows.filter((w) => w.layout === 2 && !w.reaper));
  const layout1 = windows.find((w) => w.layout === 1);
  const goals: Goal[] = [
    {
      goal: `layout 2, ${fmt(size)} live tokens: the reaper adds no packets beyond heartbeats and watches`,
      figure: `${withReaper.toFixed(1)} packets/s with the reaper vs ${without.toFixed(1)} without${layout1 ? `; layout 1: ${layout1.packetsPerSecond.toFixed(1)}` : ''}`,
      met: windows.length > 0 ? withReaper <= without * 1.2 + 1 : undefined,
    },
  ];
  const markdown = [
    table(
      ['run (in order)', 'packets/s received by ZooKeeper', 'packets/s sent', 'load avg 1m'],
      windows.map((w) => [w.label, w.packetsPerSecond.toFixed(1), w.sent.toFixed(1), w.load]),
    ),
    '',
    `- One local ZooKeeper server (4 GB heap) holding ${fmt(size)} live session tokens (7 days to go) in a tree of 4096 shards, ` +
      'populated with pipelined raw creates; two sidecars on it (persistent recursive watch, heartbeats every 5 s).',
    `- Each run starts two fresh sidecars, waits ${REAPER_INTERVAL_S + 15} s (past the elected reaper's first tick, which with layout 2 is one ` +
      `pass over the 4096 shard listings and no record reads), then counts \`zk_packets_received\` from \`mntr\` over ${windowS} s.`,
    '- Layout 1 is the tree as a tokensync before expiry-in-names left it: its reaper reads every record on every sweep ' +
      '(paced by `cluster.store.reaper.rate`, 500 deletes/s and 2,000 reads/s), continuously at a million tokens.',
  ].join('\n');
  return { id: 'reaper', title: reaperSection.title, markdown, goals };
}
