import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { TokenCodec } from './token-codec.js';
import { TEST_SECRET_A, TEST_SECRET_B, testKeys } from './test-keys.js';
import type { TokenClaims } from './token-claims.js';

const claims: TokenClaims = {
  sub: 'alice',
  jti: 's.AAAAAAAAAAAAAAAAAAAAAA',
  knd: 'session',
  iat: 1_700_000_000,
  exp: 1_700_600_000,
  ath: 1_700_000_000_000,
};
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function forge(header: object, payload: object, secret: string, alg = 'sha256'): string {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac(alg, secret).update(body).digest('base64url')}`;
}

test('sign then verify gives the claims back, with the signing kid in the header', () => {
  const codec = new TokenCodec(testKeys());
  const token = codec.sign(claims);
  const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
  assert.equal(header.alg, 'HS256');
  assert.equal(header.kid, codec.kids[0]);
  const v = codec.verify(token);
  assert.ok(v.ok);
  assert.deepEqual(v.claims, claims);
});

test('alg none is refused', () => {
  const codec = new TokenCodec(testKeys());
  const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
  const v = codec.verify(token);
  assert.equal(v.ok, false);
  assert.equal(!v.ok && v.reason, 'bad_signature');
});

test('a header asking for another algorithm is refused even when signed with the right secret', () => {
  const codec = new TokenCodec(testKeys());
  const token = forge({ alg: 'HS512', kid: codec.kids[0] }, claims, TEST_SECRET_A, 'sha512');
  const v = codec.verify(token);
  assert.equal(!v.ok && v.reason, 'bad_signature');
  // RS256 with the HMAC secret as "public key": the classic confusion
  const rs = forge({ alg: 'RS256', kid: codec.kids[0] }, claims, TEST_SECRET_A);
  assert.equal(codec.verify(rs).ok, false);
});

test('unknown and path-like kids are refused', () => {
  const codec = new TokenCodec(testKeys());
  for (const kid of ['nope', '../../etc/passwd', 42]) {
    const v = codec.verify(forge({ alg: 'HS256', kid }, claims, TEST_SECRET_A));
    assert.equal(!v.ok && v.reason, 'bad_signature', String(kid));
  }
});

test('tampered claims and a wrong secret fail the signature', () => {
  const codec = new TokenCodec(testKeys());
  const [h, , s] = codec.sign(claims).split('.');
  const tampered = `${h}.${b64({ ...claims, sub: 'admin' })}.${s}`;
  assert.equal((codec.verify(tampered) as { reason: string }).reason, 'bad_signature');
  const other = new TokenCodec(testKeys(TEST_SECRET_B));
  const foreign = other.sign(claims);
  assert.equal(codec.verify(foreign).ok, false);
});

test('garbage is malformed, never a throw', () => {
  const codec = new TokenCodec(testKeys());
  for (const t of ['', 'abc', 'a.b', 'a.b.c', '....', 'x'.repeat(5000), `${b64('str')}.${b64(claims)}.sig`, null, 12, {}]) {
    const v = codec.verify(t);
    assert.equal(v.ok, false);
  }
});

test('rotation: a new first secret signs, tokens of the old one still verify', () => {
  const old = new TokenCodec(testKeys(TEST_SECRET_A));
  const oldToken = old.sign(claims);
  const rotated = new TokenCodec(testKeys(TEST_SECRET_B, TEST_SECRET_A));
  assert.ok(rotated.verify(oldToken).ok);
  const fresh = rotated.sign(claims);
  assert.equal(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid, rotated.kids[0]);
  assert.equal(old.verify(fresh).ok, false);
});

test('a token the application signed itself (no kid, no private claims) verifies with defaults', () => {
  const codec = new TokenCodec(testKeys());
  const token = jwt.sign({ sub: 'bob', jti: 'app-token-0001', iat: 1_700_000_000 }, TEST_SECRET_A, { algorithm: 'HS256' });
  const v = codec.verify(token);
  assert.ok(v.ok);
  assert.equal(v.claims.knd, 'session');
  assert.equal(v.claims.ath, 1_700_000_000_000);
});

test('claims of the wrong type are malformed', () => {
  const codec = new TokenCodec(testKeys());
  for (const bad of [
    { ...claims, sub: 5 },
    { ...claims, jti: '' },
    { ...claims, exp: 'soon' },
    { ...claims, knd: 'root' },
  ]) {
    const v = codec.verify(forge({ alg: 'HS256', kid: codec.kids[0] }, bad, TEST_SECRET_A));
    assert.equal(!v.ok && v.reason, 'malformed', JSON.stringify(bad));
  }
});

test('the logout generation claim lgn survives signing and is validated like the others', () => {
  const codec = new TokenCodec(testKeys());
  const v = codec.verify(codec.sign({ ...claims, lgn: 7 }));
  assert.equal(v.ok && v.claims.lgn, 7);
  const without = codec.verify(codec.sign(claims));
  assert.equal(without.ok && without.claims.lgn, undefined, 'absent stays absent: ordered by the record name');
  for (const lgn of [-1, 1.5, '2', null, Number.MAX_SAFE_INTEGER + 2, 1e300]) {
    const bad = codec.verify(forge({ alg: 'HS256', kid: codec.kids[0] }, { ...claims, lgn }, TEST_SECRET_A));
    assert.equal(!bad.ok && bad.reason, 'malformed', String(lgn));
  }
});
