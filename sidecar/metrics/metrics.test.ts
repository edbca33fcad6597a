import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from './metrics.js';

const sources = { mirrorSize: () => 0, mirrorLagMs: () => 0, journalPending: () => 0, storeState: () => 'connected' };

function validations(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^tokensync_validations_total\{result="(\w+)",reason="(\w*)"\} (\d+)$/gm)) out.set(`${m[1]}/${m[2]}`, Number(m[3]));
  return out;
}

test('validations counted on the hot path show on scrape, once, by result and reason', async () => {
  const metrics = new Metrics(sources, { defaultMetrics: false });
  for (let i = 0; i < 5; i++) metrics.validation(undefined);
  metrics.validation('revoked');
  metrics.validation('revoked');
  metrics.validation('malformed');
  const first = validations(await metrics.registry.metrics());
  assert.deepEqual(Object.fromEntries(first), { 'valid/': 5, 'invalid/revoked': 2, 'invalid/malformed': 1 });
  // a second scrape with nothing new reports the same totals, not twice them
  assert.deepEqual(validations(await metrics.registry.metrics()), first);
  metrics.validation(undefined);
  metrics.validation('ip_mismatch');
  assert.deepEqual(Object.fromEntries(validations(await metrics.registry.metrics())), { 'valid/': 6, 'invalid/revoked': 2, 'invalid/malformed': 1, 'invalid/ip_mismatch': 1 });
  metrics.registry.clear();
});
