import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newJti, parseRecord, parseRecordName, recordName, refOf } from './token-record.js';

test('a record name carries its logout generation when above 0, and parses back', () => {
  const jti = newJti('session');
  assert.equal(recordName({ jti, subject: 'alice' }), `${jti}~YWxpY2U`);
  assert.equal(recordName({ jti, subject: 'alice', gen: 0 }), `${jti}~YWxpY2U`);
  assert.equal(recordName({ jti, subject: 'alice', gen: 12 }), `${jti}~YWxpY2U~12`);
  assert.deepEqual(parseRecordName(`${jti}~YWxpY2U~12`), { jti, subject: 'alice', gen: 12 });
  assert.deepEqual(parseRecordName(`${jti}~YWxpY2U`), { jti, subject: 'alice' });
  const max = Number.MAX_SAFE_INTEGER;
  assert.deepEqual(parseRecordName(recordName({ jti, subject: 'a', gen: max })), { jti, subject: 'a', gen: max });
});

test('names with a malformed generation are not records', () => {
  const jti = newJti('api');
  for (const suffix of ['~0', '~01', '~-1', '~1.5', '~', '~x', '~1~2', '~99999999999999999', '~9007199254740993']) {
    assert.equal(parseRecordName(`${jti}~YWxpY2U${suffix}`), undefined, suffix);
  }
});

test('a record with a generation that is not one is refused; refOf keeps jti, subject and generation only', () => {
  const base = { jti: newJti('session'), subject: 'bob', kind: 'session', issuedAt: 1, expiresAt: 2, node: 'n' };
  assert.throws(() => parseRecord(JSON.stringify({ ...base, gen: -1 })));
  assert.throws(() => parseRecord(JSON.stringify({ ...base, gen: '3' })));
  assert.equal(parseRecord(JSON.stringify({ ...base, gen: 3 })).gen, 3);
  assert.deepEqual(refOf({ ...base, kind: 'session', gen: 3 } as never), { jti: base.jti, subject: 'bob', gen: 3 });
  assert.deepEqual(refOf({ ...base, kind: 'session', gen: 0 } as never), { jti: base.jti, subject: 'bob' });
});
