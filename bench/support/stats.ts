import { build, type Histogram } from 'hdr-histogram-js';
import os from 'node:os';

/** A latency histogram in microseconds (hdr-histogram-js, 3 significant digits, up to 100 s). */
export function latencyHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 100_000_000, numberOfSignificantValueDigits: 3 });
}

export interface Percentiles {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function percentilesOf(h: Histogram): Percentiles {
  return {
    count: h.totalCount,
    p50Ms: h.getValueAtPercentile(50) / 1000,
    p90Ms: h.getValueAtPercentile(90) / 1000,
    p99Ms: h.getValueAtPercentile(99) / 1000,
    maxMs: h.maxValue / 1000,
  };
}

/** Cumulative distribution points (ms, fraction) for a plot. */
export function cdfOf(h: Histogram, points = 60): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i <= points; i++) {
    // denser near the tail: 0..99.9
    const q = 100 * (1 - Math.pow(10, (-3 * i) / points));
    out.push([h.getValueAtPercentile(q) / 1000, q / 100]);
  }
  return out;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `os.loadavg()` as printed beside every figure: "1.23/0.98/0.75". */
export function loadavg(): string {
  return os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join('/');
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Milliseconds with a precision that suits their size. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value < 1) return `${value.toFixed(3)} ms`;
  if (value < 10) return `${value.toFixed(2)} ms`;
  return `${value.toFixed(1)} ms`;
}

export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a';
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
