import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JtiTable } from './jti-table.js';

type Op = { op: 'add' | 'remove'; key: number; kind: number };

/**
 * Keys are drawn from a small set so that adds, removals and re-adds of the same jti mix; `key` picks the words,
 * and half the keys share their first two words (one home slot), so probe runs and backward shifts wrap around.
 */
function wordsOf(key: number): Uint32Array {
  const collide = key % 2 === 0;
  return Uint32Array.of(collide ? 0xdeadbeef : Math.imul(key, 0x9e3779b1) >>> 0, collide ? 0x12345678 : key, key, ~key >>> 0);
}

test('the table agrees with a Map under any sequence of adds and removals (growth, shrinking and wrap-around included)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          op: fc.constantFrom<Op['op']>('add', 'add', 'remove'),
          key: fc.integer({ min: 0, max: 300 }),
          kind: fc.integer({ min: 0, max: 2 }),
        }),
        { maxLength: 1500 },
      ),
      (ops: Op[]) => {
        const table = new JtiTable();
        const model = new Map<string, number>();
        for (const [i, { op, key, kind }] of ops.entries()) {
          const words = wordsOf(key);
          const id = `${key}/${kind}`;
          const slot = table.find(words, kind);
          assert.equal(slot >= 0, model.has(id));
          if (op === 'add' && slot < 0) {
            table.insert(words, kind, 1000 + i, key);
            model.set(id, 1000 + i);
          } else if (op === 'remove' && slot >= 0) {
            table.removeAt(slot);
            table.shrinkIfSparse();
            model.delete(id);
          }
          assert.equal(table.size, model.size);
        }
        for (const [id, exp] of model) {
          const [key, kind] = id.split('/').map(Number) as [number, number];
          const slot = table.find(wordsOf(key), kind);
          assert.ok(slot >= 0, `${id} is held`);
          assert.equal(table.exp(slot), exp);
          assert.equal(table.subjectId(slot), key);
          assert.equal(table.kind(slot), kind);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('a listing-sized table is filled to about 88%, and grows by half when full', () => {
  const table = new JtiTable();
  table.reserve(2441);
  const capacity = table.capacity;
  assert.ok(2441 / capacity > 0.85 && 2441 / capacity <= 0.92, `load ${2441 / capacity}`);
  for (let k = 0; k < 2441; k++) table.insert(Uint32Array.of(Math.imul(k, 0x9e3779b1) >>> 0, k, k, k), 0, 5, 0);
  assert.equal(table.capacity, capacity, 'no growth while loading a reserved listing');
  while (!table.full) table.insert(Uint32Array.of(table.size * 7919, 1, 2, 3), 1, 5, 0);
  table.insert(Uint32Array.of(1, 2, 3, 4), 2, 5, 0);
  assert.equal(table.capacity, Math.ceil(capacity * 1.5));
  assert.equal(table.bytes, table.capacity * 24);
});

test('subject counts and slot contents', () => {
  const table = new JtiTable();
  for (let k = 0; k < 50; k++) table.insert(Uint32Array.of(k * 1_000_003, k, 0, 0), 0, 7, k % 5);
  assert.equal(table.countSubject(3), 10);
  const out = new Uint32Array(4);
  const slot = table.find(Uint32Array.of(7 * 1_000_003, 7, 0, 0), 0);
  table.jti(slot, out);
  assert.deepEqual([...out], [7 * 1_000_003, 7, 0, 0]);
  assert.equal(table.find(Uint32Array.of(7 * 1_000_003, 7, 0, 0), 1), -1, 'the kind is part of the key');
});
