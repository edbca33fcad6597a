/**
 * `npm run bench`: tokensync side by side with what users would pick instead, and with the physical limits.
 * Prints every figure as it is measured, then writes docs/benchmarks.md and docs/bench-throughput.svg. It
 * never fails on a number; it exits 1 only when a section could not run at all.
 *
 *   node dist/bench/run.js [--quick] [--only validate,propagation,writes,scale,migration,reaper]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine } from './support/machine.js';
import { blockOf, readBlocks, writeReport } from './support/report.js';
import type { BenchContext, Section, SectionResult } from './support/section.js';
import { loadavg } from './support/stats.js';
import { validationSection } from './sections/validation.js';
import { propagationSection } from './sections/propagation.js';
import { writesSection } from './sections/writes.js';
import { scaleSection } from './sections/scale.js';
import { migrationSection } from './sections/migration.js';
import { reaperSection } from './sections/reaper-load.js';

const SECTIONS: Section[] = [validationSection, propagationSection, writesSection, scaleSection, migrationSection, reaperSection];
const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const DOC = join(ROOT, 'docs', 'benchmarks.md');
const SVG = join(ROOT, 'docs', 'bench-throughput.svg');

function parseArgs(argv: string[]): { quick: boolean; only: Set<string> } {
  let quick = false;
  let only = new Set(SECTIONS.map((s) => s.id));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      const ids = (value ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const unknown = ids.filter((id) => !SECTIONS.some((s) => s.id === id));
      if (ids.length === 0 || unknown.length > 0) usage(`--only takes a comma-separated list of: ${SECTIONS.map((s) => s.id).join(', ')}`);
      only = new Set(ids);
    } else if (arg === '--help' || arg === '-h') usage();
    else usage(`unknown argument ${arg}`);
  }
  return { quick, only };
}

function usage(error?: string): never {
  if (error) console.error(error);
  console.error(`usage: npm run bench -- [--quick] [--only ${SECTIONS.map((s) => s.id).join(',')}]`);
  process.exit(error ? 2 : 0);
}

const { quick, only } = parseArgs(process.argv.slice(2));
const loadAtStart = loadavg();
const scratch = await mkdtemp(join(tmpdir(), 'tokensync-bench-'));
const blocks = readBlocks(DOC);
const failures: string[] = [];
const command = `npm run bench${quick || only.size < SECTIONS.length ? ' --' : ''}${quick ? ' --quick' : ''}${only.size < SECTIONS.length ? ` --only ${[...only].join(',')}` : ''}`;
console.log(`tokensync bench (${quick ? 'quick' : 'full'}): ${[...only].join(', ')}; load average ${loadAtStart}`);

try {
  for (const section of SECTIONS) {
    if (!only.has(section.id)) continue;
    const ctx: BenchContext = {
      quick,
      scratch,
      log: (line) => console.log(`[${section.id}] ${line}`),
    };
    console.log(`\n== ${section.title} (load average ${loadavg()})`);
    const started = Date.now();
    let result: SectionResult;
    try {
      result = await section.run(ctx);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.error(`[${section.id}] FAILED: ${message}`);
      failures.push(section.id);
      result = {
        id: section.id,
        title: section.title,
        markdown: `**This section failed to run**:\n\n\`\`\`\n${message.slice(0, 2000)}\n\`\`\``,
        goals: [],
      };
    }
    const stamp = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`${command}\` in ${Math.round((Date.now() - started) / 1000)} s, load average ${loadavg()} at its end`;
    blocks.set(section.id, blockOf(result, stamp));
  }
} finally {
  await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
}

const loadAtEnd = loadavg();
if (process.env.TOKENSYNC_BENCH_POPULATE_ONLY) {
  // a populate-only run measures nothing: the figures on record stay
  console.log(`\npopulate only: ${DOC} left as it was; load average ${loadAtEnd}`);
  process.exit(0);
}
const header = [
  '# Benchmarks',
  '',
  'Written by `npm run bench` (`npm run build && node dist/bench/run.js`; `--quick` for short runs, `--only validate,propagation,writes,scale,migration,reaper` ' +
    'for some sections: the others keep their last figures). Every peer runs in the same run, alternated A B A B, and is compared as a ratio: ' +
    'the machine is shared, so absolute figures move with the load average printed beside them. The bench never fails on a number.',
  '',
  'Reproduce on a fresh Debian machine (the ZooKeeper install is the one `npm test` runs):',
  '',
  '```sh',
  'apt-get update && apt-get install -y redis-server wrk',
  'bash scripts/zookeeper-install.sh',
  'npm install && npm run bench',
  '```',
  '',
  '## Machine',
  '',
  describeMachine(loadAtStart, loadAtEnd),
].join('\n');
await writeReport({
  docPath: DOC,
  svgPath: SVG,
  svgLink: 'bench-throughput.svg',
  header,
  order: SECTIONS.map((s) => s.id),
  blocks,
  plotSubtitle: `${command} — ${new Date().toISOString().slice(0, 10)}, 2 cores shared by servers and load generator`,
});
console.log(`\nwrote ${DOC} and ${SVG}; load average ${loadAtEnd}`);
process.exit(failures.length > 0 ? 1 : 0);
