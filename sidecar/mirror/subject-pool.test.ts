import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SubjectPool } from './subject-pool.js';

const bytes = (s: string) => Buffer.from(s);
/** The arena's chunk: a change of `bytes` by this much is one chunk more or less. */
const CHUNK = 65_536;

function acquire(pool: SubjectPool, subject: string): number {
  const b = bytes(subject);
  return pool.acquire(b, b.length);
}

/** A subject of exactly `length` UTF-8 bytes, told apart by `n`. */
function subjectOf(n: number, length: number): string {
  const tail = `-${n}@example.com`;
  return 'x'.repeat(length - tail.length) + tail;
}

test('the pool agrees with a reference-counting Map under any sequence of acquires and releases (compaction included)', () => {
  let compactions = 0;
  fc.assert(
    // each step acquires or releases a run of up to 500 consecutive subjects: enough to fill chunks and compact
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.nat(1000), fc.integer({ min: 1, max: 500 })), { maxLength: 40, size: 'max' }),
      (steps) => {
        const pool = new SubjectPool();
        const model = new Map<string, { id: number; refs: number }>();
        let bytesBefore = pool.bytes;
        for (const [acquiring, from, count] of steps)
          for (let n = from; n < from + count; n++) {
            // long subjects among short and multi-byte ones
            const subject = n % 7 === 0 ? `ü-${n}-é-😀` : n % 2 === 0 ? subjectOf(n, 200 + (n % 56)) : `user-${n}@example.com`;
            const held = model.get(subject);
            if (acquiring) {
              const id = acquire(pool, subject);
              if (held) {
                assert.equal(id, held.id, 'the same subject gets the same id');
                held.refs++;
              } else model.set(subject, { id, refs: 1 });
            } else if (held) {
              pool.release(held.id);
              if (--held.refs === 0) model.delete(subject);
            }
            assert.equal(pool.size, model.size);
            if (pool.bytes < bytesBefore) compactions++;
            bytesBefore = pool.bytes;
          }
        assert.equal(new Set([...model.values()].map((v) => v.id)).size, model.size, 'held subjects have distinct ids');
        for (const [subject, { id }] of model) {
          assert.equal(pool.subject(id), subject);
          assert.equal(pool.find(subject), id);
          assert.ok(pool.is(id, subject));
        }
        assert.equal(pool.find('nobody'), -1);
      },
    ),
    { numRuns: 100 },
  );
  assert.ok(compactions >= 10, `${compactions} compactions in 100 runs`);
});

test('is() compares without being fooled by a string whose code units equal UTF-8 bytes', () => {
  const pool = new SubjectPool();
  const id = acquire(pool, 'Ã'); // UTF-8 c3 83
  assert.equal(pool.is(id, '\u00c3\u0083'), false);
  assert.equal(pool.is(id, 'Ã'), true);
});

test('multi-byte UTF-8 subjects come back whole, and is() and find() tell them from their neighbours', () => {
  const pool = new SubjectPool();
  const subjects = ['josé@example.com', 'jose@example.com', '田中@例え.jp', '😀@example.com', '😁@example.com', 'ü'.repeat(127)];
  const ids = subjects.map((s) => acquire(pool, s));
  subjects.forEach((s, i) => {
    assert.equal(pool.subject(ids[i]!), s);
    assert.equal(pool.find(s), ids[i]);
    subjects.forEach((other, j) => assert.equal(pool.is(ids[i]!, other), i === j, `is(${s}, ${other})`));
  });
  assert.equal(pool.find('ü'.repeat(128)), -1, '256 bytes: longer than any subject held');
});

test('subjects of 255 bytes fill a chunk exactly and the next one starts a new chunk, never straddling two', () => {
  const pool = new SubjectPool();
  // an entry is a length byte and the subject: 256 of 255 bytes fill a chunk
  const ids = Array.from({ length: 256 }, (_, n) => acquire(pool, subjectOf(n, 255)));
  const full = pool.bytes;
  const next = acquire(pool, subjectOf(256, 255));
  assert.equal(pool.bytes - full, CHUNK);
  // 254 bytes: 257 entries leave one byte at the chunk's end, and the 258th goes to the next chunk
  const odd = new SubjectPool();
  const oddIds = Array.from({ length: 600 }, (_, n) => acquire(odd, subjectOf(n, 254)));
  for (const [pool_, list, length] of [
    [pool, [...ids, next], 255],
    [odd, oddIds, 254],
  ] as const)
    list.forEach((id, n) => {
      assert.equal(pool_.subject(id), subjectOf(n, length));
      assert.equal(pool_.find(subjectOf(n, length)), id);
      assert.ok(pool_.is(id, subjectOf(n, length)));
    });
});

test('ids past the first chunks of the per-id arrays and past many index resizes keep their subjects', () => {
  const pool = new SubjectPool();
  const n = 100_000;
  const ids = Array.from({ length: n }, (_, i) => acquire(pool, `user-${i}@example.com`));
  assert.deepEqual(
    ids.filter((id, i) => id !== i),
    [],
    'dense ids',
  );
  for (const i of [0, 16_383, 16_384, 16_385, 32_768, 65_535, 65_536, n - 1]) {
    assert.equal(pool.subject(i), `user-${i}@example.com`);
    assert.equal(pool.find(`user-${i}@example.com`), i);
  }
  for (let i = 0; i < n; i++) assert.equal(pool.find(`user-${i}@example.com`), i);
  // all released, then as many others: the freed ids are taken again, no new ones
  for (let i = 0; i < n; i++) pool.release(i);
  assert.equal(pool.size, 0);
  const again = Array.from({ length: n }, (_, i) => acquire(pool, `other-${i}@example.com`));
  assert.equal(
    again.reduce((a, b) => Math.max(a, b)),
    n - 1,
  );
  assert.equal(new Set(again).size, n);
  again.forEach((id, i) => assert.equal(pool.subject(id), `other-${i}@example.com`));
});

test('a subject referenced 65,535 times stays interned', () => {
  const pool = new SubjectPool();
  let id = -1;
  for (let i = 0; i < 70_000; i++) id = acquire(pool, 'service@example.com');
  for (let i = 0; i < 70_000; i++) pool.release(id);
  assert.equal(pool.find('service@example.com'), id);
});

test('released subjects leave the arena chunk by chunk once half of it is dead; the rest keep their ids and bytes', () => {
  const pool = new SubjectPool();
  const n = 20_000; // about 30 bytes each: 9 chunks
  const ids = Array.from({ length: n }, (_, i) => acquire(pool, `someone-${i}@example.com`));
  const before = pool.bytes;
  for (let i = 0; i < n; i++) if (i % 10 !== 0) pool.release(ids[i]!);
  assert.ok(before - pool.bytes >= 6 * CHUNK, `${pool.bytes} bytes held after releasing 90%, ${before} before`);
  for (let i = 0; i < n; i += 10) {
    assert.equal(pool.subject(ids[i]!), `someone-${i}@example.com`);
    assert.equal(pool.find(`someone-${i}@example.com`), ids[i]);
  }
  assert.equal(pool.find('someone-5@example.com'), -1);
  assert.ok(acquire(pool, 'someone-5@example.com') < n, 'a freed id is reused');
});

test('a pool compacted again and again keeps every live subject, long ones across chunk ends included', () => {
  const pool = new SubjectPool();
  const held = new Map<string, number>();
  let peak = 0;
  // waves: 3,000 subjects of up to 255 bytes in, most of them out, so each wave compacts what the last left
  for (let wave = 0; wave < 6; wave++) {
    for (let i = 0; i < 3000; i++) {
      const subject = subjectOf(wave * 3000 + i, 40 + ((i * 37) % 216));
      held.set(subject, acquire(pool, subject));
    }
    peak = Math.max(peak, pool.bytes);
    let k = 0;
    for (const [subject, id] of held)
      if (k++ % 4 !== 0) {
        pool.release(id);
        held.delete(subject);
      }
  }
  assert.equal(pool.size, held.size);
  for (const [subject, id] of held) {
    assert.equal(pool.subject(id), subject);
    assert.equal(pool.find(subject), id);
  }
  assert.ok(pool.bytes < peak, `${pool.bytes} bytes held at the end, ${peak} at the peak`);
});

test('reserve sizes the index once: reaching the reserved count rehashes nothing, and every subject is still found', () => {
  const pool = new SubjectPool();
  acquire(pool, 'before-the-reserve');
  pool.reserve(20_000);
  const slots = pool.indexSlots;
  assert.ok(slots >= 20_000 / 0.85, `${slots} slots`);
  const ids = Array.from({ length: 19_999 }, (_, i) => acquire(pool, `user-${i}@example.com`));
  assert.equal(pool.indexSlots, slots, 'no growth up to the reserved count');
  assert.equal(pool.find('before-the-reserve'), 0);
  for (let i = 0; i < ids.length; i += 7) assert.equal(pool.find(`user-${i}@example.com`), ids[i]);
  pool.reserve(10);
  assert.equal(pool.indexSlots, slots, 'a smaller reserve never shrinks the index');
  for (let i = 0; i < 3; i++) acquire(pool, `past-the-reserve-${i}`); // 20,002 subjects: past 85% of the slots
  assert.ok(pool.indexSlots > slots, 'past it, the index grows as before');
  assert.equal(pool.find('user-19998@example.com'), ids[19_998]);
});
