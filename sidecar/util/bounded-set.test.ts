import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BoundedSet } from './bounded-set.js';

test('keeps the last capacity members at least and never more than twice as many', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 400 }), (capacity, keys) => {
      const set = new BoundedSet<number>(capacity);
      for (const k of keys) set.add(k);
      assert.ok(set.size <= 2 * capacity, `size ${set.size} > twice the capacity ${capacity}`);
      // The most recent `capacity` distinct keys are all still there.
      const recent: number[] = [];
      for (let i = keys.length - 1; i >= 0 && recent.length < capacity; i--) {
        if (!recent.includes(keys[i]!)) recent.push(keys[i]!);
      }
      for (const k of recent) assert.ok(set.has(k), `recent key ${k} forgotten (capacity ${capacity})`);
    }),
  );
});

test('a member is forgotten once twice the capacity later adds have been made', () => {
  const set = new BoundedSet<string>(5);
  set.add('first');
  for (let i = 0; i < 10; i++) set.add(`k${i}`);
  assert.equal(set.has('first'), false);
  assert.equal(set.has('k9'), true);
});

test('re-adding a member makes it young again', () => {
  const set = new BoundedSet<string>(2);
  set.add('a');
  set.add('b');
  set.add('c'); // a and b are now the old generation
  set.add('a'); // young again
  set.add('d'); // the old generation (b) is dropped
  assert.equal(set.has('a'), true);
  assert.equal(set.has('b'), false);
});

test('members expire after their time to live', () => {
  const set = new BoundedSet<string>(100, 1_000);
  set.add('a', 5_000);
  assert.equal(set.has('a', 6_000), true);
  assert.equal(set.has('a', 6_001), false);
  assert.equal(set.size, 0, 'an expired member found by has() is dropped');
});

test('delete removes from either generation', () => {
  const set = new BoundedSet<string>(2);
  set.add('a');
  set.add('b');
  set.add('c'); // a, b now old
  assert.equal(set.delete('a'), true);
  assert.equal(set.delete('c'), true);
  assert.equal(set.delete('zz'), false);
  assert.equal(set.has('a'), false);
  assert.equal(set.has('b'), true);
});
