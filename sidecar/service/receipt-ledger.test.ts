import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JournalEntry } from '../store/journal.js';
import { type TokenRecord, newJti } from '../store/token-record.js';
import { silentLogger } from '../util/logger.js';
import { type CreateEntry, ReceiptLedger } from './receipt-ledger.js';

/** The replay's receipt bookkeeping on its own, for a store without receipts (DIRECTORY): what it must conclude. */

function create(seq: number, receipt?: string): CreateEntry {
  const record: TokenRecord = {
    jti: newJti('session'),
    subject: 'alice',
    kind: 'session',
    issuedAt: 0,
    expiresAt: null,
    node: 'n',
    gen: 0,
  };
  return { op: 'create', record, seq, at: 0, ...(receipt ? { receipt } : {}) };
}
const del = (seq: number): JournalEntry => ({ op: 'delete', ref: { jti: newJti('session'), subject: 'alice' }, seq, at: 0 });

test('a killed process that sent entries without a receipt: its creates up to what it sent count as sent, later ones not', async () => {
  const ledger = new ReceiptLedger(undefined, silentLogger());
  const pending = [create(1), del(2), create(3)];
  ledger.restore({ seq: 2, stale: ['r-old'] }, pending);
  assert.equal(ledger.usable(), undefined);
  assert.equal(await ledger.settleLost(pending), true, 'nothing to settle');
  assert.equal(ledger.knownSent(pending[0] as CreateEntry), true);
  assert.equal(ledger.knownSent(pending[2] as CreateEntry), false);
  assert.equal(ledger.knownApplied(pending[0] as CreateEntry), false, 'sent, not known applied');
  assert.deepEqual(ledger.stale, ['r-old']);
});

test('a lost transaction the store cannot settle (no receipts): its creates fall to the rule for creates sent without one', async () => {
  const ledger = new ReceiptLedger(undefined, silentLogger());
  const pending = [create(1), create(2), create(3)];
  ledger.restore({ seq: 2, receipt: 'r-lost', stale: [] }, pending);
  assert.equal(ledger.knownSent(pending[1] as CreateEntry), false, 'unsettled yet');
  assert.equal(await ledger.settleLost(pending), true);
  assert.equal(ledger.knownSent(pending[1] as CreateEntry), true);
  assert.equal(ledger.knownSent(pending[2] as CreateEntry), false);
});

test('a receipt sent with nothing pending any more is stale at once; one named by entries only once all of them are done', async () => {
  const ledger = new ReceiptLedger(undefined, silentLogger());
  const first = create(3, 'r-answer-lost');
  const second = create(4, 'r-answer-lost');
  ledger.restore({ seq: 2, receipt: 'r-done', stale: [] }, [first, second]);
  assert.deepEqual(ledger.stale, ['r-done']);
  assert.equal(await ledger.settleEntries([first, second]), true);
  assert.equal(ledger.knownSent(first), true, 'unknown outcome: treated as sent');
  ledger.done(first);
  assert.deepEqual(ledger.stale, ['r-done']);
  ledger.done(second);
  assert.deepEqual(ledger.stale, ['r-done', 'r-answer-lost']);
  ledger.sent('r-next', ['r-done']);
  assert.deepEqual(ledger.stale, ['r-answer-lost', 'r-next']);
  ledger.lost('r-later', 9);
  await ledger.removeStale(); // without receipts nothing can be deleted: kept
  assert.deepEqual(ledger.stale, ['r-answer-lost', 'r-next']);
});
