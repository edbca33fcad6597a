import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SubjectPool } from './subject-pool.js';

const bytes = (s: string) => Buffer.from(s);

test('the pool agrees with a reference-counting Map under any sequence of acquires and releases (compaction included)', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 400 })), { maxLength: 3000 }), (ops) => {
      const pool = new SubjectPool();
      const model = new Map<string, { id: number; refs: number }>();
      for (const [acquire, n] of ops) {
        const subject = n % 7 === 0 ? `ü-${n}-é` : `user-${n}@example.com`;
        const held = model.get(subject);
        if (acquire) {
          const b = bytes(subject);
          const id = pool.acquire(b, b.length);
          if (held) {
            assert.equal(id, held.id, 'the same subject gets the same id');
            held.refs++;
          } else model.set(subject, { id, refs: 1 });
        } else if (held) {
          pool.release(held.id);
          if (--held.refs === 0) model.delete(subject);
        }
        assert.equal(pool.size, model.size);
      }
      for (const [subject, { id }] of model) {
        assert.equal(pool.subject(id), subject);
        assert.equal(pool.find(subject), id);
        assert.ok(pool.is(id, subject));
      }
      assert.equal(pool.find('nobody'), -1);
    }),
    { numRuns: 100 },
  );
});

test('is() compares without being fooled by a string whose code units equal UTF-8 bytes', () => {
  const pool = new SubjectPool();
  const b = bytes('Ã'); // UTF-8 c3 83
  const id = pool.acquire(b, b.length);
  assert.equal(pool.is(id, '\u00c3\u0083'), false);
  assert.equal(pool.is(id, 'Ã'), true);
});

test('a subject referenced 65,535 times stays interned', () => {
  const pool = new SubjectPool();
  const b = bytes('service@example.com');
  let id = -1;
  for (let i = 0; i < 70_000; i++) id = pool.acquire(b, b.length);
  for (let i = 0; i < 70_000; i++) pool.release(id);
  assert.equal(pool.find('service@example.com'), id);
});

test('released subjects leave the arena once half of it is dead; the rest keep their ids and bytes', () => {
  const pool = new SubjectPool();
  const ids = Array.from({ length: 2000 }, (_, i) => {
    const b = bytes(`someone-${i}@example.com`);
    return pool.acquire(b, b.length);
  });
  const before = pool.bytes;
  for (let i = 0; i < 2000; i++) if (i % 10 !== 0) pool.release(ids[i]!);
  assert.ok(pool.bytes < before, `${pool.bytes} bytes held after releasing 90%, ${before} before`);
  for (let i = 0; i < 2000; i += 10) assert.equal(pool.subject(ids[i]!), `someone-${i}@example.com`);
  const again = bytes('someone-5@example.com');
  assert.equal(pool.acquire(again, again.length) < 2000, true, 'a freed id is reused');
});
