import { api, type Cluster, type OpPropagation, type Stats } from './api.js';
import { byId, when } from './dom.js';
import { lineChart, type Series } from './chart.js';

const SAMPLES = 40;

interface Sample {
  at: number;
  stats: Stats;
  lags: Record<string, number>;
}

/** The Live view: rates worked out from this node's running totals (`GET /v1/stats`) between two polls. */
export class LivePanel {
  private readonly samples: Sample[] = [];

  constructor(private readonly fail: (err: unknown) => void) {}

  async poll(): Promise<void> {
    try {
      const [stats, cluster] = await Promise.all([api<Stats>('GET', '/v1/stats'), api<Cluster>('GET', '/v1/cluster')]);
      this.samples.push({
        at: Date.parse(stats.at),
        stats,
        lags: Object.fromEntries(cluster.members.map((m) => [m.nodeId, m.mirrorLagMs])),
      });
      if (this.samples.length > SAMPLES + 1) this.samples.shift();
      this.render();
    } catch (err) {
      this.fail(err);
    }
  }

  private render(): void {
    const rates = (pick: (s: Stats) => number): number[] => {
      const out: number[] = [];
      for (let i = 1; i < this.samples.length; i++) {
        const a = this.samples[i - 1]!;
        const b = this.samples[i]!;
        const seconds = Math.max(0.001, (b.at - a.at) / 1000);
        out.push(Math.max(0, pick(b.stats) - pick(a.stats)) / seconds);
      }
      return out;
    };
    const last = this.samples.at(-1)!.stats;
    const refused = (s: Stats) => Object.values(s.validations.refused).reduce((x, y) => x + y, 0);
    const reasons = Object.keys(last.validations.refused);
    const nodes = [...new Set(this.samples.flatMap((s) => Object.keys(s.lags)))].sort();
    const probed = (op: 'issue' | 'revoke') =>
      [...new Set(this.samples.flatMap((s) => Object.keys(s.stats.propagation[op].members)))].sort();
    const charts: Array<[string, string, Series[]]> = [
      [
        'Validations per second',
        '/s',
        [
          { name: 'valid', points: rates((s) => s.validations.valid) },
          { name: 'refused', points: rates(refused) },
        ],
      ],
      ['Refusals by reason', '/s', reasons.map((r) => ({ name: r, points: rates((s) => s.validations.refused[r] ?? 0) }))],
      [
        'Issues and revocations per second',
        '/s',
        [
          { name: 'issued', points: rates((s) => Object.values(s.issued).reduce((x, y) => x + y, 0)) },
          { name: 'revoked', points: rates((s) => s.revocations.token) },
          { name: 'logouts', points: rates((s) => s.revocations.subject) },
        ],
      ],
      // each member's latest probe figure at each poll (the probe alternates: issue and revoke each every other interval)
      ...(['issue', 'revoke'] as const).map((op): [string, string, Series[]] => [
        `${op === 'issue' ? 'Issue' : 'Revoke'} propagation to each member (upper bound: includes the acknowledgement's return trip)`,
        'ms',
        // polls without a figure for the member yet (or any more) are left out rather than drawn as 0 ms
        probed(op).map((n) => ({
          name: n,
          points: this.samples
            .slice(1)
            .map((s) => s.stats.propagation[op].members[n]?.lastMs)
            .filter((v): v is number => typeof v === 'number'),
        })),
      ]),
      [
        "Mirror lag: each member's mirror behind its store's notifications",
        'ms',
        nodes.map((n) => ({ name: n, points: this.samples.slice(1).map((s) => s.lags[n] ?? 0) })),
      ],
    ];
    byId('live-propagation').textContent = propagationText(last.propagation);
    const logout = last.lastLogout;
    byId('live-logout').textContent = !logout
      ? 'No logout made on this node since it started.'
      : logout.pending === 0
        ? `The last logout made on this node (${when(logout.at)}) was acknowledged by every member within ${logout.propagationMs} ms.`
        : `The last logout made on this node (${when(logout.at)}): ${logout.pending} member(s) had not acknowledged it after ${logout.propagationMs} ms.`;
    byId('charts').replaceChildren(...charts.map(([title, unit, series]) => lineChart(title, unit, series, SAMPLES)));
  }
}

/** The window's figures in words: what the charts' latest points cannot say (median, worst, misses). */
function propagationText(p: Stats['propagation']): string {
  const minutes = Math.round(p.windowMs / 60_000);
  const one = (name: string, o: OpPropagation): string => {
    const missed = Object.values(o.members).reduce((n, m) => n + m.missed, 0);
    const misses = missed > 0 ? `, ${missed} not acknowledged within the wait` : '';
    return o.samples === 0
      ? `${name}: no figure yet${misses}`
      : `${name}: median ${o.p50Ms} ms, max ${o.maxMs} ms over ${o.samples} figure(s)${misses}`;
  };
  if (p.issue.samples + p.revoke.samples === 0 && Object.keys(p.issue.members).length + Object.keys(p.revoke.members).length === 0) {
    return `n/a: this node probes every ${p.intervalMs / 1000} s while it has other members, and has had none (or none that acknowledge probes) in the last ${minutes} min.`;
  }
  return (
    `Measured by this node every ${p.intervalMs / 1000} s, on its own clock, to every other member, in the last ${minutes} min: ` +
    `${one('issue', p.issue)}; ${one('revoke', p.revoke)}. Upper bounds: each includes the member's acknowledgement and this node's read of it.`
  );
}
