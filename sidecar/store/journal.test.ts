import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Journal } from './journal.js';
import { silentLogger } from '../util/logger.js';
import { tempDir } from '../util/test-temp-dirs.js';

const ref = (jti: string) => ({ jti, subject: 'alice' });

test('appended entries survive a reopen until completed, in order', async () => {
  const dir = await tempDir('ts-journal-');
  const j = new Journal(dir, silentLogger());
  await j.open();
  await j.append({ op: 'delete', ref: ref('s.one-aaaaaa') });
  await j.append({ op: 'marker', subject: 'alice', floor: 5 });
  await j.append({ op: 'delete', ref: ref('s.three-aaaa') });
  await j.complete(1);
  await j.close();
  // as after kill -9: nothing but what is on disk
  const again = new Journal(dir, silentLogger());
  await again.open();
  assert.deepEqual(
    again.pending().map((e) => e.seq),
    [2, 3],
  );
  const next = await again.append({ op: 'delete', ref: ref('s.four-aaaaa') });
  assert.equal(next.seq, 4);
  await assert.rejects(again.complete(3), /out of order/);
  for (const seq of [2, 3, 4]) await again.complete(seq);
  assert.equal(again.size, 0);
  assert.equal((await readFile(join(dir, 'journal.log'), 'utf8')).length, 0, 'log truncated once empty');
  await again.close();
});

test('a torn last line (crash mid-append) is ignored: that entry was never acknowledged', async () => {
  const dir = await tempDir('ts-journal-');
  const j = new Journal(dir, silentLogger());
  await j.open();
  await j.append({ op: 'delete', ref: ref('s.one-aaaaaa') });
  await j.close();
  await appendFile(join(dir, 'journal.log'), '{"op":"delete","ref":{"jti":"s.t');
  const again = new Journal(dir, silentLogger());
  await again.open();
  assert.deepEqual(
    again.pending().map((e) => e.seq),
    [1],
  );
  await again.close();
});

test('concurrent appends get distinct, ordered sequence numbers', async () => {
  const dir = await tempDir('ts-journal-');
  const j = new Journal(dir, silentLogger());
  await j.open();
  const entries = await Promise.all(Array.from({ length: 50 }, (_, i) => j.append({ op: 'delete', ref: ref(`s.n${i}-aaaaaaa`) })));
  assert.deepEqual(
    entries.map((e) => e.seq),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
  await j.close();
});

test('completeThrough records a run of entries done with one write', async () => {
  const dir = await tempDir('ts-journal-');
  const j = new Journal(dir, silentLogger());
  await j.open();
  for (const name of ['s.one-aaaaaa', 's.two-aaaaaa', 's.three-aaaa']) await j.append({ op: 'delete', ref: ref(name) });
  await j.completeThrough(2);
  assert.deepEqual(
    j.pending().map((e) => e.seq),
    [3],
  );
  await assert.rejects(j.completeThrough(7), /out of order/);
  await j.close();
  const again = new Journal(dir, silentLogger());
  await again.open();
  assert.deepEqual(
    again.pending().map((e) => e.seq),
    [3],
  );
  await again.close();
});

test('journal.sending keeps the receipt and the stale receipts for the next process; the bare number of older versions still reads', async () => {
  const dir = await tempDir('ts-journal-');
  const j = new Journal(dir, silentLogger());
  await j.open();
  for (let i = 0; i < 3; i++) await j.append({ op: 'delete', ref: ref(`s.sending-${i}aaaa`) });
  await j.markSending(2, 'receipt-aaaaaaaaaaaaaaaa', ['stale-bbbbbbbbbbbbbbbbbb']);
  await j.close();
  const again = new Journal(dir, silentLogger());
  await again.open();
  assert.deepEqual(again.sendingAtOpen, { seq: 2, receipt: 'receipt-aaaaaaaaaaaaaaaa', stale: ['stale-bbbbbbbbbbbbbbbbbb'] });
  await again.close();

  await writeFile(join(dir, 'journal.sending'), '3\n');
  const old = new Journal(dir, silentLogger());
  await old.open();
  assert.deepEqual(old.sendingAtOpen, { seq: 3, stale: [] });
  await old.close();

  await writeFile(join(dir, 'journal.sending'), '{"seq":"x","receipt":7,"stale":[1,"ok-cccccccccccccccc"]}');
  const odd = new Journal(dir, silentLogger());
  await odd.open();
  assert.deepEqual(odd.sendingAtOpen, { seq: 0, stale: ['ok-cccccccccccccccc'] }, 'fields of the wrong type are ignored');
  await odd.close();
});
