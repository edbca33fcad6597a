import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError } from '../errors/bad-request-error.js';
import { checkListLimit, formatListCursor, parseListCursor } from './list-cursor.js';

test('a cursor round-trips through format and parse', () => {
  assert.deepEqual(parseListCursor(formatListCursor(3, 'abc~ZA'), 16), { shard: 3, after: 'abc~ZA' });
  assert.deepEqual(parseListCursor(formatListCursor(0, 'x:y'), 1), { shard: 0, after: 'x:y' });
});

test('no cursor starts at shard 0; an empty name starts at the shard', () => {
  assert.deepEqual(parseListCursor(undefined, 16), { shard: 0 });
  assert.deepEqual(parseListCursor('', 16), { shard: 0 });
  assert.deepEqual(parseListCursor('5:', 16), { shard: 5 });
});

test('cursors this store never returns are refused with request.invalid', () => {
  for (const bad of ['nonsense', ':x', '-1:x', '1.5:x', ' 1:x', '+1:x', '0x1:x', 'NaN:x', '1e1:x']) {
    assert.throws(
      () => parseListCursor(bad, 16),
      (e: unknown) => e instanceof BadRequestError && e.code === 'request.invalid',
      bad,
    );
  }
});

test('a shard past the last one is the end: an empty last page, as the API has always answered', () => {
  assert.deepEqual(parseListCursor('16:x', 16), { shard: 16 });
  assert.deepEqual(parseListCursor('99999999999999999999999:x', 16), { shard: 16 });
});

test('a long bad cursor is cut in the message', () => {
  assert.throws(
    () => parseListCursor('z'.repeat(500), 16),
    (e: Error) => e.message.length < 200,
  );
});

test('limits: positive integers pass, anything else is a BadRequestError', () => {
  assert.equal(checkListLimit(1), 1);
  assert.equal(checkListLimit(1000), 1000);
  for (const bad of [0, -1, 1.5, NaN, Infinity]) assert.throws(() => checkListLimit(bad), BadRequestError, String(bad));
});
