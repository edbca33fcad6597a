import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newJti } from '../store/token-record.js';
import { TokenCodec } from '../tokens/token-codec.js';
import { TEST_SECRET_A, TEST_SECRET_B, testKeys } from '../tokens/test-keys.js';
import { VerifiedTokens } from './verified-tokens.js';

/** The verified-token memory answers like the codec, only without a second HMAC for the same bytes. */

/** A codec that counts its verifications, so a test can tell a remembered answer from a fresh one. */
function counting(codec: TokenCodec): { codec: TokenCodec; calls: () => number } {
  let calls = 0;
  const verify = codec.verify.bind(codec);
  codec.verify = (token: unknown) => {
    calls++;
    return verify(token);
  };
  return { codec, calls: () => calls };
}

function token(codec: TokenCodec, sub = 'alice'): string {
  const now = Math.floor(Date.now() / 1000);
  return codec.sign({ jti: newJti('session'), sub, knd: 'session', iat: now, ath: now, exp: now + 600 });
}

test('the same token is verified once, then answered from memory with the same frozen claims', () => {
  const { codec, calls } = counting(new TokenCodec(testKeys(TEST_SECRET_A)));
  const verified = new VerifiedTokens(codec);
  const t = token(codec);
  const first = verified.verify(t);
  const second = verified.verify(`${t}`);
  assert.ok(first.ok && second.ok);
  assert.equal(calls(), 1);
  assert.equal(first.claims, second.claims);
  assert.ok(Object.isFrozen(first.claims));
});

test('refusals are not remembered, and a different token with the same tail is verified afresh', () => {
  const { codec, calls } = counting(new TokenCodec(testKeys(TEST_SECRET_A)));
  const verified = new VerifiedTokens(codec);
  const t = token(codec);
  assert.ok(verified.verify(t).ok);
  const forged = `x${t}`;
  assert.equal(verified.verify(forged).ok, false);
  assert.equal(verified.verify(forged).ok, false);
  assert.equal(verified.verify(42).ok, false);
  assert.equal(calls(), 4);
  assert.equal(verified.size, 1);
});

test('a remembered token stops verifying once its key is retired', () => {
  const codec = new TokenCodec(testKeys(TEST_SECRET_A, TEST_SECRET_B));
  const verified = new VerifiedTokens(codec);
  const t = token(codec);
  assert.ok(verified.verify(t).ok);
  codec.setKeys(testKeys(TEST_SECRET_B));
  const after = verified.verify(t);
  assert.equal(after.ok, false);
  assert.equal(!after.ok && after.reason, 'bad_signature');
});

test('memory is bounded by two generations; a token of the older one is still a hit and moves forward', () => {
  const { codec, calls } = counting(new TokenCodec(testKeys(TEST_SECRET_A)));
  const verified = new VerifiedTokens(codec, 4);
  const tokens = Array.from({ length: 5 }, (_, i) => token(codec, `user${i}`));
  for (const t of tokens) assert.ok(verified.verify(t).ok);
  assert.ok(verified.size <= 4);
  const before = calls();
  assert.ok(verified.verify(tokens[4]!).ok); // newest generation
  assert.ok(verified.verify(tokens[2]!).ok); // older generation, still remembered
  assert.equal(calls(), before);
  assert.ok(verified.verify(tokens[0]!).ok); // dropped with the generation before: verified again
  assert.equal(calls(), before + 1);
});
