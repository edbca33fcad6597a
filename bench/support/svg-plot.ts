import type { PlotData } from './section.js';

/**
 * The bench's one plot, as a self-contained SVG: validation throughput by system (left, bars per load
 * generator) and the propagation latency distribution (right, cumulative, log-scaled milliseconds).
 */
export function renderPlot(data: PlotData, subtitle: string): string {
  const W = 1100;
  const H = 470 + 15 * Math.max(0, (data.propagation?.length ?? 0) - 2);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">tokensync benchmarks</text>`,
    `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`,
  ];
  out.push(...throughputPanel(data.throughput ?? [], 60, 70, 440, 300));
  out.push(...propagationPanel(data.propagation ?? [], 600, 70, 460, 300));
  out.push('</svg>');
  return out.join('\n') + '\n';
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

function throughputPanel(rows: NonNullable<PlotData['throughput']>, x0: number, y0: number, w: number, h: number): string[] {
  const out = [
    `<text x="${x0 + w / 2}" y="${y0 - 12}" text-anchor="middle" font-weight="bold">Validation throughput (req/s, 2 cores total)</text>`,
  ];
  if (rows.length === 0)
    return [...out, `<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle" fill="#999">not measured in this run</text>`];
  const systems = [...new Set(rows.map((r) => r.system))];
  const tools = [...new Set(rows.map((r) => r.tool))];
  const max = niceMax(Math.max(...rows.map((r) => r.rps).filter(Number.isFinite), 1));
  out.push(
    `<line x1="${x0}" y1="${y0 + h}" x2="${x0 + w}" y2="${y0 + h}" stroke="#333"/>`,
    `<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 + h}" stroke="#333"/>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    const y = y0 + h - (h * i) / 5;
    out.push(
      `<line x1="${x0}" y1="${y}" x2="${x0 + w}" y2="${y}" stroke="#eee"/>`,
      `<text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${Math.round(v).toLocaleString('en-US')}</text>`,
    );
  }
  const group = w / systems.length;
  const bar = (group * 0.7) / tools.length;
  systems.forEach((system, si) => {
    tools.forEach((tool, ti) => {
      const r = rows.find((x) => x.system === system && x.tool === tool);
      if (!r || !Number.isFinite(r.rps)) return;
      const bh = (h * r.rps) / max;
      const x = x0 + si * group + group * 0.15 + ti * bar;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${(y0 + h - bh).toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="${COLORS[ti % COLORS.length]}"><title>${esc(`${system} (${tool}): ${Math.round(r.rps)} req/s`)}</title></rect>`,
        `<text x="${(x + bar / 2).toFixed(1)}" y="${(y0 + h - bh - 3).toFixed(1)}" text-anchor="middle" font-size="10">${Math.round(r.rps / 100) / 10}k</text>`,
      );
    });
    wrap(system, 16).forEach((line, li) => {
      out.push(
        `<text x="${x0 + si * group + group / 2}" y="${y0 + h + 16 + li * 13}" text-anchor="middle" font-size="10">${esc(line)}</text>`,
      );
    });
  });
  tools.forEach((tool, ti) => {
    out.push(
      `<rect x="${x0 + w - 110}" y="${y0 + 4 + ti * 16}" width="10" height="10" fill="${COLORS[ti % COLORS.length]}"/>`,
      `<text x="${x0 + w - 95}" y="${y0 + 13 + ti * 16}">${tool}</text>`,
    );
  });
  return out;
}

function propagationPanel(series: NonNullable<PlotData['propagation']>, x0: number, y0: number, w: number, h: number): string[] {
  const out = [
    `<text x="${x0 + w / 2}" y="${y0 - 12}" text-anchor="middle" font-weight="bold">Propagation A -&gt; B (share of tokens, tail-scaled)</text>`,
  ];
  const all = series.flatMap((s) => s.cdf.map(([v]) => v)).filter((v) => Number.isFinite(v) && v > 0);
  if (all.length === 0)
    return [...out, `<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle" fill="#999">not measured in this run</text>`];
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...all))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all))));
  const xOf = (v: number) => x0 + (w * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  // the tail matters: the y axis is -log10(1 - q), so 0.9, 0.99 and 0.999 are evenly spaced
  const TAIL = 3;
  const yOf = (q: number) => y0 + h - (h * Math.min(TAIL, -Math.log10(Math.max(1e-9, 1 - q)))) / TAIL;
  out.push(
    `<line x1="${x0}" y1="${y0 + h}" x2="${x0 + w}" y2="${y0 + h}" stroke="#333"/>`,
    `<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 + h}" stroke="#333"/>`,
  );
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    out.push(
      `<line x1="${xOf(d)}" y1="${y0}" x2="${xOf(d)}" y2="${y0 + h}" stroke="#eee"/>`,
      `<text x="${xOf(d)}" y="${y0 + h + 16}" text-anchor="middle">${d >= 1 ? d : d.toPrecision(1)} ms</text>`,
    );
  }
  for (const q of [0, 0.5, 0.9, 0.99, 0.999]) {
    out.push(
      `<line x1="${x0}" y1="${yOf(q)}" x2="${x0 + w}" y2="${yOf(q)}" stroke="#eee"/>`,
      `<text x="${x0 - 6}" y="${yOf(q) + 4}" text-anchor="end">${q}</text>`,
    );
  }
  series.forEach((s, i) => {
    const pts = s.cdf.filter(([v]) => Number.isFinite(v)).map(([v, q]) => `${xOf(v).toFixed(1)},${yOf(q).toFixed(1)}`);
    const color = COLORS[i % COLORS.length];
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    // below the axis: the curves use the whole panel
    const ly = y0 + h + 30 + i * 15;
    const lx = x0 + 20;
    out.push(
      `<rect x="${lx}" y="${ly}" width="10" height="10" fill="${color}"/>`,
      `<text x="${lx + 15}" y="${ly + 9}" font-size="11">${esc(s.series)}</text>`,
    );
  });
  return out;
}

/** Splits a label into lines of about `width` characters at spaces. */
function wrap(label: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of label.split(' ')) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 1 + word.length <= width) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

function niceMax(v: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
