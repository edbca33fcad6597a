import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from './metrics.js';

const sources = { mirrorSize: () => 0, mirrorLagMs: () => 0, journalPending: () => 0, storeState: () => 'connected' };

function validations(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^tokensync_validations_total\{result="(\w+)",reason="(\w*)"\} (\d+)$/gm))
    out.set(`${m[1]}/${m[2]}`, Number(m[3]));
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
  assert.deepEqual(Object.fromEntries(validations(await metrics.registry.metrics())), {
    'valid/': 6,
    'invalid/revoked': 2,
    'invalid/malformed': 1,
    'invalid/ip_mismatch': 1,
  });
  metrics.registry.clear();
});

test('tokens issued, counted as plain numbers, show on scrape once, by kind', async () => {
  const metrics = new Metrics(sources, { defaultMetrics: false });
  const issued = async () => {
    const out: Record<string, number> = {};
    for (const m of (await metrics.registry.metrics()).matchAll(/^tokensync_tokens_issued_total\{kind="(\w+)"\} (\d+)$/gm))
      out[m[1]!] = Number(m[2]);
    return out;
  };
  assert.deepEqual(await issued(), {});
  for (let i = 0; i < 3; i++) metrics.issue('session');
  metrics.issue('onetime');
  assert.deepEqual(await issued(), { session: 3, onetime: 1 });
  assert.deepEqual(await issued(), { session: 3, onetime: 1 }, 'a second scrape reports the same totals');
  metrics.issue('api');
  metrics.issue('session');
  assert.deepEqual(await issued(), { session: 4, onetime: 1, api: 1 });
  metrics.registry.clear();
});

test("request durations land in their route's histogram", async () => {
  const metrics = new Metrics(sources, { defaultMetrics: false });
  metrics.httpRequest('issue', 0.0004);
  metrics.httpRequest('issue', 0.002);
  metrics.httpRequest('list', 2);
  const text = await metrics.registry.metrics();
  assert.match(text, /^tokensync_http_request_duration_seconds_bucket\{le="0.0005",route="issue"\} 1$/m);
  assert.match(text, /^tokensync_http_request_duration_seconds_bucket\{le="0.0025",route="issue"\} 2$/m);
  assert.match(text, /^tokensync_http_request_duration_seconds_count\{route="issue"\} 2$/m);
  assert.match(text, /^tokensync_http_request_duration_seconds_bucket\{le="1",route="list"\} 0$/m);
  assert.match(text, /^tokensync_http_request_duration_seconds_count\{route="list"\} 1$/m);
  metrics.registry.clear();
});

test("the store's create transactions show as running totals on every scrape; without the source, no such series", async () => {
  const batches = { transactions: 3, creates: 120, refused: 0 };
  const metrics = new Metrics({ ...sources, createBatches: () => batches }, { defaultMetrics: false });
  const value = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
  let text = await metrics.registry.metrics();
  assert.equal(value(text, 'tokensync_store_create_transactions_total'), 3);
  assert.equal(value(text, 'tokensync_store_batched_creates_total'), 120);
  assert.equal(value(text, 'tokensync_store_create_transactions_refused_total'), 0);
  Object.assign(batches, { transactions: 5, creates: 200, refused: 1 });
  text = await metrics.registry.metrics();
  assert.equal(value(text, 'tokensync_store_create_transactions_total'), 5, 'the total, not the sum of scrapes');
  assert.equal(value(text, 'tokensync_store_batched_creates_total'), 200);
  assert.equal(value(text, 'tokensync_store_create_transactions_refused_total'), 1);
  metrics.registry.clear();

  const directory = new Metrics(sources, { defaultMetrics: false });
  assert.doesNotMatch(await directory.registry.metrics(), /create_transactions/);
  directory.registry.clear();
});
