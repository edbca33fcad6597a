import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isRecordNameTail,
  isRefExpired,
  layout1Name,
  layout2Name,
  newJti,
  parseRecord,
  parseRecordName,
  recordName,
  refOf,
} from './token-record.js';

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
  for (const suffix of ['~0', '~01', '~-1', '~1.5', '~', '~x', '~1~2~3', '~99999999999999999', '~9007199254740993']) {
    assert.equal(parseRecordName(`${jti}~YWxpY2U${suffix}`), undefined, suffix);
  }
});

test('a record with a generation that is not one is refused; refOf keeps jti, subject and generation only', () => {
  const base = { jti: newJti('session'), subject: 'bob', kind: 'session', issuedAt: 1, expiresAt: 2, node: 'n' };
  assert.throws(() => parseRecord(JSON.stringify({ ...base, gen: -1 })));
  assert.throws(() => parseRecord(JSON.stringify({ ...base, gen: '3' })));
  assert.equal(parseRecord(JSON.stringify({ ...base, gen: 3 })).gen, 3);
  assert.deepEqual(refOf({ ...base, kind: 'session', gen: 3 } as never, 1), { jti: base.jti, subject: 'bob', gen: 3 });
  assert.deepEqual(refOf({ ...base, kind: 'session', gen: 0 } as never, 1), { jti: base.jti, subject: 'bob' });
  assert.deepEqual(refOf({ ...base, kind: 'session', gen: 3 } as never), { jti: base.jti, subject: 'bob', gen: 3, expiresAt: 1000 });
  assert.deepEqual(refOf({ ...base, kind: 'api', expiresAt: null } as never), { jti: base.jti, subject: 'bob', expiresAt: null });
});

test('layout 2 names carry the generation always and the expiry in whole seconds, rounded up', () => {
  const jti = newJti('session');
  assert.equal(layout2Name({ jti, subject: 'alice', expiresAt: 1_700_000_000_001 }), `${jti}~YWxpY2U~0~1700000001`);
  assert.equal(layout2Name({ jti, subject: 'alice', expiresAt: 1_700_000_000_000, gen: 7 }), `${jti}~YWxpY2U~7~1700000000`);
  assert.equal(layout2Name({ jti, subject: 'alice', expiresAt: null }), `${jti}~YWxpY2U~0~-`);
  assert.throws(() => layout2Name({ jti, subject: 'alice' }), /expiresAt/);
  assert.deepEqual(parseRecordName(`${jti}~YWxpY2U~0~1700000001`), { jti, subject: 'alice', expiresAt: 1_700_000_001_000 });
  assert.deepEqual(parseRecordName(`${jti}~YWxpY2U~7~-`), { jti, subject: 'alice', gen: 7, expiresAt: null });
  assert.deepEqual(parseRecordName(`${jti}~YWxpY2U~0~0`), { jti, subject: 'alice', expiresAt: 0 });
});

test('recordName without a layout round-trips parseRecordName for both layouts; with one, names as that layout', () => {
  const jti = newJti('onetime');
  for (const name of [`${jti}~Ym9i`, `${jti}~Ym9i~3`, `${jti}~Ym9i~0~1800000000`, `${jti}~Ym9i~3~-`]) {
    assert.equal(recordName(parseRecordName(name)!), name);
    assert.equal(isRecordNameTail(name, name.indexOf('~')), true, name);
  }
  const record = { jti, subject: 'bob', gen: 3, expiresAt: 1_800_000_000_500 };
  assert.equal(recordName(refOf(record), 1), `${jti}~Ym9i~3`);
  assert.equal(recordName(refOf(record), 2), `${jti}~Ym9i~3~1800000001`);
  assert.equal(recordName(refOf(record, 1)), layout1Name(record));
  assert.deepEqual(parseRecordName(recordName(refOf(record))), refOf(record));
});

test('malformed layout-2 names are not records', () => {
  const jti = newJti('api');
  for (const suffix of ['~01~5', '~~5', '~1~', '~1~05', '~1~x', '~1~1.5', '~1~-1', '~1~--', '~-~5', '~1~5~6', '~0~99999999999999']) {
    assert.equal(parseRecordName(`${jti}~YWxpY2U${suffix}`), undefined, suffix);
    assert.equal(isRecordNameTail(`${jti}~YWxpY2U${suffix}`, jti.length), false, suffix);
  }
  // the tail check is syntax only (the mirror applies it to names of jtis it holds); parsing also bounds the value
  assert.equal(parseRecordName(`${jti}~YWxpY2U~9007199254740993~5`), undefined);
});

test('a name tells whether its record expired (with the skew), or that it cannot tell (layout 1)', () => {
  const jti = newJti('session');
  const ref = parseRecordName(`${jti}~Ym9i~0~100`)!;
  assert.equal(isRefExpired(ref, 100_000, 0), false);
  assert.equal(isRefExpired(ref, 100_001, 0), true);
  assert.equal(isRefExpired(ref, 100_001, 5_000), false);
  assert.equal(isRefExpired(parseRecordName(`${jti}~Ym9i~0~-`)!, Number.MAX_SAFE_INTEGER, 0), false);
  assert.equal(isRefExpired(parseRecordName(`${jti}~Ym9i`)!, Number.MAX_SAFE_INTEGER, 0), undefined);
});
