#!/usr/bin/env node
// Runs every compiled test file (unit tests beside the code, integration tests
// with real ZooKeeper servers and sidecar processes) in one node:test run, so
// there is one summary line. Files run one at a time: the integration tests
// start JVMs and several sidecars, and this machine has two cores.
//   node scripts/run-tests.mjs [filter...]   only files whose path contains a filter
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dirs = ['dist/sidecar', 'dist/cli', 'dist/client', 'dist/express', 'dist/integration-tests'];
const filters = process.argv.slice(2);

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

// Filters match the path from the repository root: a checkout under /work/wt/caddy must not match "caddy" everywhere.
const files = dirs
  .flatMap((d) => walk(join(root, d), []))
  .filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)));
if (files.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}
console.error(`running ${files.length} test files: ${files.map((f) => relative(root, f)).join(' ')}`);
// Spec output for people; a TAP copy to count from, so the run ends with one plain "N passed, N failed" line.
const runDir = mkdtempSync(join(tmpdir(), 'tokensync-tests-'));
const tap = join(runDir, 'results.tap');
const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  // One run dir for every file: the ZooKeeper harness decides its provider once per run there.
  { stdio: 'inherit', cwd: root, env: { ...process.env, TOKENSYNC_TEST_RUN_DIR: runDir } },
);
function count(text, name) {
  const m = text.match(new RegExp(`^# ${name} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}
try {
  const text = readFileSync(tap, 'utf8');
  const failed = count(text, 'fail') + count(text, 'cancelled');
  console.log(`tests: ${count(text, 'pass')} passed, ${failed} failed, ${count(text, 'skipped')} skipped`);
} catch {
  /* no TAP summary: the exit status says it all */
}
rmSync(runDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
