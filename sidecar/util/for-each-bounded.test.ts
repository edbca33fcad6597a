import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBounded } from './for-each-bounded.js';

describe('forEachBounded', () => {
  it('keeps at most `limit` calls in flight and visits every item', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachBounded(
      Array.from({ length: 100 }, (_, i) => i),
      7,
      async (i) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setImmediate(r));
        seen.push(i);
        inFlight--;
      },
    );
    assert.equal(peak, 7);
    assert.equal(seen.length, 100);
  });

  it('rethrows the first failure', async () => {
    await assert.rejects(
      forEachBounded([1, 2, 3], 2, async (i) => {
        if (i === 2) throw new Error('two');
      }),
      /two/,
    );
  });
});

describe('forEachBounded after a failure', () => {
  it('takes no new item and lets the calls in flight finish before rethrowing', async () => {
    const started: number[] = [];
    let finished = 0;
    await assert.rejects(
      forEachBounded(
        Array.from({ length: 10 }, (_, i) => i),
        3,
        async (i) => {
          started.push(i);
          if (i === 0) throw new Error('zero');
          await new Promise((r) => setImmediate(r));
          finished++;
        },
      ),
      /zero/,
    );
    assert.deepEqual(started, [0, 1, 2]);
    assert.equal(finished, 2);
  });
});
