import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setCookieLine } from './set-cookie.js';

test('a session cookie says how many whole seconds it has left', () => {
  assert.equal(setCookieLine('tokensync', 'a.b.c', 10_999, 1_000), 'tokensync=a.b.c; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=9');
});

test('a token that never expires gets no Max-Age; one already expired gets Max-Age=0', () => {
  assert.equal(setCookieLine('sid', 'a.b.c', null, 1_000), 'sid=a.b.c; Path=/; HttpOnly; Secure; SameSite=Lax');
  assert.equal(setCookieLine('sid', 'a.b.c', 500, 1_000), 'sid=a.b.c; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0');
});
