import { el } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 320;
const H = 110;
const PAD = 4;

export interface Series {
  name: string;
  points: number[];
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

const fmt = (n: number) => (n >= 100 ? String(Math.round(n)) : String(Math.round(n * 10) / 10));

/**
 * A small line chart: one polyline per series over the same samples, colours by class (the CSP allows no
 * inline style). Screen readers get the latest value of each series as the image's name.
 */
export function lineChart(title: string, unit: string, series: Series[], samples: number): HTMLElement {
  const max = Math.max(1, ...series.flatMap((s) => s.points));
  const x = (i: number) => PAD + (i * (W - 2 * PAD)) / Math.max(1, samples - 1);
  const y = (v: number) => H - PAD - (v / max) * (H - 2 * PAD - 12);
  const latest = series.map((s) => `${s.name} ${fmt(s.points.at(-1) ?? 0)}`).join(', ');
  const image = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'chart',
    role: 'img',
    'aria-label': `${title}, now: ${latest || 'no data'} ${unit}`,
  });
  image.append(svg('line', { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, class: 'axis' }));
  const top = svg('text', { x: PAD, y: 10 });
  top.textContent = `${fmt(max)} ${unit}`;
  image.append(top);
  series.forEach((s, i) => {
    const offset = samples - s.points.length;
    const line = svg('polyline', {
      class: `s${i % 7}`,
      points: s.points.map((v, j) => `${x(offset + j).toFixed(1)},${y(v).toFixed(1)}`).join(' '),
    });
    image.append(line);
    // the latest value as a dot: a single sample draws no line
    if (s.points.length > 0)
      image.append(svg('circle', { class: `s${i % 7}`, cx: x(samples - 1).toFixed(1), cy: y(s.points.at(-1)!).toFixed(1), r: 2.5 }));
  });
  const legend = el('ul', { class: 'legend' });
  series.forEach((s, i) => {
    const swatch = svg('svg', { viewBox: '0 0 10 10', 'aria-hidden': 'true' });
    swatch.append(svg('rect', { width: 10, height: 10, class: `s${i % 7}` }));
    legend.append(el('li', {}, swatch, `${s.name}: ${fmt(s.points.at(-1) ?? 0)}`));
  });
  return el('figure', {}, el('figcaption', {}, title), image, legend);
}
