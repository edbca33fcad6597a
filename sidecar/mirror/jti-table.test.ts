import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JtiTable, SLOT_WORDS } from './jti-table.js';

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

test('a merged batch (any order, jtis given twice, some held already) agrees with a Map, and the table stays sorted', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 300 }),
      fc.array(fc.record({ key: fc.integer({ min: 0, max: 400 }), exp: fc.constantFrom(1, 50, 60) }), { maxLength: 600 }),
      (heldKeys, batchEntries) => {
        const table = new JtiTable();
        const model = new Map<number, number>();
        for (const key of heldKeys) {
          if (table.find(wordsOf(key), key % 3) >= 0) continue;
          table.insert(wordsOf(key), key % 3, 7, key);
          model.set(key, 7);
        }
        const batch = new Uint32Array(batchEntries.length * SLOT_WORDS);
        let count = 0;
        const dropped: number[] = [];
        for (const { key, exp } of batchEntries) {
          if (model.has(key) && table.find(wordsOf(key), key % 3) >= 0) continue; // the caller batches what is not held
          batch.set(wordsOf(key), count * SLOT_WORDS);
          batch[count * SLOT_WORDS + 4] = exp;
          batch[count * SLOT_WORDS + 5] = ((key << 2) | (key % 3)) >>> 0;
          count++;
          const had = model.get(key);
          if (had === undefined) model.set(key, exp);
          else {
            dropped.push(key);
            if (had === 1) model.set(key, exp); // an unknown expiry (1) takes a later copy's
          }
        }
        const told: number[] = [];
        table.merge(batch, count, (word) => told.push(word >>> 2), 1);
        assert.deepEqual(told.sort(), dropped.sort());
        assert.equal(table.size, model.size);
        if (count > 0) assert.equal(table.capacity, table.size, 'a merge sizes the table to fit');
        for (const [key, exp] of model) {
          const slot = table.find(wordsOf(key), key % 3);
          assert.ok(slot >= 0, `${key} is held`);
          assert.equal(table.exp(slot), exp);
          assert.equal(table.subjectId(slot), key);
        }
        const a = new Uint32Array(4);
        const b = new Uint32Array(4);
        for (let slot = 1; slot < table.size; slot++) {
          table.jti(slot - 1, a);
          table.jti(slot, b);
          const order = a.findIndex((w, k) => w !== b[k]);
          assert.ok(order < 0 ? table.kind(slot - 1) < table.kind(slot) : a[order]! < b[order]!, `slots ${slot - 1} and ${slot} in order`);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('a merge of a full listing leaves no slack; inserts after it grow the table by an eighth', () => {
  const table = new JtiTable();
  const n = 2441;
  const batch = new Uint32Array(n * SLOT_WORDS);
  for (let k = 0; k < n; k++) batch.set([Math.imul(k, 0x9e3779b1) >>> 0, k, k, k, 5, k << 2], k * SLOT_WORDS);
  table.merge(batch, n, () => assert.fail('nothing dropped'), 1);
  assert.equal(table.size, n);
  assert.equal(table.bytes, n * 24, '24 bytes a record');
  table.insert(Uint32Array.of(1, 2, 3, 4), 2, 5, 0);
  assert.equal(table.capacity, n + Math.ceil(n / 8));
  for (let k = 0; k < n; k += 97) assert.equal(table.subjectId(table.find(Uint32Array.of(Math.imul(k, 0x9e3779b1) >>> 0, k, k, k), 0)), k);
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
