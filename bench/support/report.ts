import { existsSync, readFileSync } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { renderPlot } from './svg-plot.js';
import { table, type Goal, type PlotData, type SectionResult } from './section.js';

/** What one section left in the doc: its markdown and the data behind the goals table and the plot. */
interface Block {
  id: string;
  text: string;
  data: { goals: Goal[]; plot?: PlotData };
}

const BLOCK = /<!-- bench:(\w+) -->\n([\s\S]*?)<!-- \/bench:\1 -->/g;
const DATA = /<!-- bench-data (.*) -->/;

/** Sections already in the doc, so that `--only` rewrites its own sections and keeps the others. */
export function readBlocks(docPath: string): Map<string, Block> {
  const blocks = new Map<string, Block>();
  if (!existsSync(docPath)) return blocks;
  const text = readFileSync(docPath, 'utf8');
  for (const m of text.matchAll(BLOCK)) {
    const id = m[1]!;
    const body = m[2]!;
    let data: Block['data'] = { goals: [] };
    try {
      data = JSON.parse(DATA.exec(body)?.[1] ?? '{"goals":[]}') as Block['data'];
    } catch {
      // a hand-edited block: keep its text, lose its data
    }
    blocks.set(id, { id, text: body, data });
  }
  return blocks;
}

export function blockOf(result: SectionResult, stamp: string): Block {
  const data = { goals: result.goals, plot: result.plot };
  const text = [
    `## ${result.title}`,
    '',
    `_Measured ${stamp}._`,
    '',
    result.markdown.trim(),
    '',
    `<!-- bench-data ${JSON.stringify(data).replace(/--/g, '- -')} -->`,
    '',
  ].join('\n');
  return { id: result.id, text, data };
}

export async function writeReport(options: {
  docPath: string;
  svgPath: string;
  svgLink: string;
  header: string;
  order: string[];
  blocks: Map<string, Block>;
  plotSubtitle: string;
}): Promise<void> {
  const ordered = options.order.map((id) => options.blocks.get(id)).filter((b): b is Block => b !== undefined);
  const goals = ordered.flatMap((b) => b.data.goals);
  const plot: PlotData = {};
  for (const b of ordered) {
    if (b.data.plot?.throughput) plot.throughput = b.data.plot.throughput;
    if (b.data.plot?.propagation) plot.propagation = [...(plot.propagation ?? []), ...b.data.plot.propagation];
  }
  const goalTable = goals.length
    ? table(
        ['goal (issue 5)', 'figure', 'met?'],
        goals.map((g) => [
          g.goal,
          g.figure,
          g.met === undefined ? (g.why ?? 'no threshold set') : g.met ? 'yes' : `**no**${g.why ? `: ${g.why}` : ''}`,
        ]),
      )
    : '_No section has run yet._';
  const doc = [
    options.header.trim(),
    '',
    '## Goals',
    '',
    goalTable,
    '',
    `![validation throughput by system and propagation latency distribution](${options.svgLink})`,
    '',
    ...ordered.map((b) => `<!-- bench:${b.id} -->\n${b.text}<!-- /bench:${b.id} -->\n`),
  ].join('\n');
  await mkdir(dirname(options.docPath), { recursive: true });
  await writeFile(options.docPath, doc);
  await writeFile(options.svgPath, renderPlot(plot, options.plotSubtitle));
}
