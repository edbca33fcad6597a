import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoalescedTask } from './coalesced-task.js';

describe('CoalescedTask', () => {
  it('runs a burst of requests as one run in flight plus one queued', async () => {
    let runs = 0;
    let release!: () => void;
    const task = new CoalescedTask(async () => {
      runs++;
      if (runs === 1) await new Promise<void>((r) => (release = r));
    });
    const first = task.request();
    const burst = Array.from({ length: 10 }, () => task.request());
    await Promise.resolve();
    release();
    await Promise.all([first, ...burst]);
    assert.equal(runs, 2);
    await task.request();
    assert.equal(runs, 3);
    assert.equal(task.busy, false);
  });

  it('still runs the queued request after a failed run', async () => {
    let runs = 0;
    const task = new CoalescedTask(async () => {
      runs++;
      if (runs === 1) throw new Error('boom');
    });
    const first = task.request();
    const second = task.request();
    await assert.rejects(first, /boom/);
    await second;
    assert.equal(runs, 2);
  });
});
