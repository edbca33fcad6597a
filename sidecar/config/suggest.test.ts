import assert from 'node:assert/strict';
import { test } from 'node:test';
import { editDistance, nearest } from './suggest.js';

test('editDistance counts inserts, deletes, substitutions and swaps of neighbours as one', () => {
  assert.equal(editDistance('', ''), 0);
  assert.equal(editDistance('abc', 'abc'), 0);
  assert.equal(editDistance('abc', ''), 3);
  assert.equal(editDistance('expiraton', 'expiration'), 1);
  assert.equal(editDistance('expiartion', 'expiration'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('nearest finds plausible typos, ignores case, and gives up on strangers', () => {
  const keys = ['node.id', 'log.level', 'authentication.token.expiration', 'authentication.token.onetime.expiration'];
  assert.equal(nearest('authentication.token.expiraton', keys), 'authentication.token.expiration');
  assert.equal(nearest('authentication.token.expiry', keys), 'authentication.token.expiration');
  assert.equal(nearest('Node.Id', keys), 'node.id');
  assert.equal(nearest('nod.id', keys), 'node.id');
  assert.equal(nearest('foo.bar', keys), undefined);
  assert.equal(nearest('anything', []), undefined);
});

test('nearest breaks ties in favour of the earlier candidate', () => {
  assert.equal(nearest('ab', ['ax', 'ay']), 'ax');
});
