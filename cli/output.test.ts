import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relativeTime, table } from './output.js';
import { formatLine, progressReporter } from './progress.js';
import type { MigrateProgress } from '../sidecar/store/migrate.js';

test('relativeTime: two units at most, future and past, never for null', () => {
  const now = Date.UTC(2026, 0, 1);
  assert.equal(relativeTime(now + 7 * 86_400_000 - 3_600_000, now), 'in 6d 23h');
  assert.equal(relativeTime(now - 3 * 60_000, now), '3m ago');
  assert.equal(relativeTime(now + 90_500, now), 'in 1m 30s');
  assert.equal(relativeTime(now, now), 'in 0s');
  assert.equal(relativeTime(null, now), 'never');
});

test('table: aligned columns, upper-case headers, "-" for missing values', () => {
  const text = table(
    [
      { node: 'a', address: '127.0.0.1:7468', lag: 0 },
      { node: 'node-two', lag: null },
    ],
    ['node', 'address', 'lag'],
  );
  assert.equal(text, ['NODE      ADDRESS         LAG', 'a         127.0.0.1:7468  0', 'node-two  -               -'].join('\n'));
});

function progress(overrides: Partial<MigrateProgress>): MigrateProgress {
  return {
    phase: 'copying',
    total: 10_000,
    done: 0,
    created: 0,
    existing: 0,
    skipped: 0,
    failed: 0,
    elapsedMs: 0,
    ratePerSecond: 0,
    ...overrides,
  };
}

test('plain progress lines: a line per phase, then at most one per interval, and the last one once', () => {
  assert.equal(
    formatLine(progress({ done: 4_500, created: 4_400, existing: 100, ratePerSecond: 3_000 })),
    'copying: 4500/10000 records (45%), 3000/s, ETA 2s; 4400 created, 100 already there, 0 skipped, 0 failed',
  );
  assert.equal(formatLine(progress({ phase: 'verifying', total: 256, done: 12 })), 'verifying: 12/256 shard groups compared');
  const lines: string[] = [];
  const reporter = progressReporter({ out: () => undefined, err: (t) => lines.push(t), isTTY: false }, { tty: false, everyMs: 60_000 });
  reporter.update(progress({ phase: 'markers' }));
  reporter.update(progress({ done: 0 }));
  for (let done = 1; done < 10_000; done += 100) reporter.update(progress({ done }));
  reporter.update(progress({ done: 10_000 }));
  reporter.update(progress({ done: 10_000 }));
  reporter.update(progress({ phase: 'verifying', total: 16, done: 0 }));
  reporter.update(progress({ phase: 'verifying', total: 16, done: 16 }));
  reporter.stop();
  assert.deepEqual(
    lines.map((l) => l.split(':')[0] + ' ' + (/\d+\/\d+/.exec(l)?.[0] ?? '')),
    ['markers ', 'copying 0/10000', 'copying 10000/10000', 'verifying 0/16', 'verifying 16/16'],
  );
});
