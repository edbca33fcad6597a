import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../util/clock.js';
import { PropagationStats } from './propagation-stats.js';
import { Metrics } from './metrics.js';

test('per member the latest figure and misses; over every member the median and max of the window', () => {
  const clock = new ManualClock();
  const stats = new PropagationStats(clock, { intervalMs: 5_000, windowMs: 60_000 });
  assert.deepEqual(stats.snapshot().issue, { samples: 0, p50Ms: null, maxMs: null, members: {} });
  stats.measured('issue', 'b', 40);
  stats.measured('issue', 'c', 10);
  clock.advance(30_000);
  stats.measured('issue', 'b', 20);
  stats.missed('issue', 'c');
  stats.measured('revoke', 'b', 7);
  let s = stats.snapshot();
  assert.equal(s.issue.samples, 3);
  assert.equal(s.issue.p50Ms, 20, 'the lower median of 10, 20, 40: a figure that was measured');
  assert.equal(s.issue.maxMs, 40);
  assert.equal(s.issue.members.b?.lastMs, 20);
  assert.deepEqual(s.issue.members.c, { lastMs: 10, at: new Date(clock.now() - 30_000).toISOString(), missed: 1 });
  assert.equal(s.revoke.samples, 1);
  assert.equal(s.intervalMs, 5_000);
  stats.intervalMs = 10_000;
  assert.equal(stats.snapshot().intervalMs, 10_000, 'the probe tells when its interval changes');
  clock.advance(30_001);
  s = stats.snapshot();
  assert.equal(s.issue.samples, 1, 'the first two are out of the window');
  assert.equal(s.issue.maxMs, 20);
  assert.deepEqual(Object.keys(s.issue.members).sort(), ['b', 'c']);
  clock.advance(60_000);
  assert.deepEqual(stats.snapshot().issue.members, {}, 'a member not heard of in the window is no longer listed');
});

test('Prometheus: tokensync_propagation_seconds by op, misses counted', async () => {
  const metrics = new Metrics(
    { mirrorSize: () => 0, mirrorLagMs: () => 0, journalPending: () => 0, storeState: () => 'connected' },
    { defaultMetrics: false, clock: new ManualClock() },
  );
  metrics.propagated('issue', 'b', 30);
  metrics.propagated('revoke', 'b', 2_000);
  metrics.propagationMissedBy('revoke', 'c');
  const text = await metrics.registry.metrics();
  assert.match(text, /^tokensync_propagation_seconds_bucket\{le="0\.05",op="issue"\} 1$/m);
  assert.match(text, /^tokensync_propagation_seconds_bucket\{le="1",op="revoke"\} 0$/m);
  assert.match(text, /^tokensync_propagation_seconds_count\{op="revoke"\} 1$/m);
  assert.match(text, /^tokensync_propagation_missed_total\{op="revoke"\} 1$/m);
  assert.match(text, /^tokensync_propagation_missed_total\{op="issue"\} 0$/m);
  assert.equal(metrics.snapshot().propagation.revoke.members.c?.missed, 1);
});
