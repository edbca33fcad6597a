/** What every bench section gets and gives back. */

export interface BenchContext {
  /** `--quick`: shorter runs, smaller sizes. */
  quick: boolean;
  /** A temporary folder for this run (removed at the end). */
  scratch: string;
  /** Prints one line to the console, prefixed with the section. */
  log(line: string): void;
}

/** One goal of issue 5 and whether this run met it. `met` undefined: not measurable in this run. */
export interface Goal {
  goal: string;
  figure: string;
  met: boolean | undefined;
  why?: string;
}

/** Data the SVG plot draws from (kept in the doc, so a partial run can redraw the plot). */
export interface PlotData {
  throughput?: Array<{ system: string; tool: 'autocannon' | 'wrk'; rps: number }>;
  propagation?: Array<{ series: string; cdf: Array<[number, number]> }>;
}

export interface SectionResult {
  id: string;
  title: string;
  /** Markdown body (tables, commands, notes); no title. */
  markdown: string;
  goals: Goal[];
  plot?: PlotData;
}

export interface Section {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<SectionResult>;
}

/** A markdown table. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
