import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NameParts, decodeJti, encodeJti, expiresAtOf, EXP_NEVER, EXP_UNKNOWN, parseCompactName, shardOfPrefix } from './compact-name.js';
import { newJti, parseRecordName, recordName, shardOf } from '../store/token-record.js';

const parts = new NameParts();

test('a newJti jti decodes to 16 bytes and its kind, and encodes back to itself', () => {
  for (const kind of ['session', 'api', 'onetime'] as const) {
    for (let i = 0; i < 200; i++) {
      const jti = newJti(kind);
      assert.ok(decodeJti(jti, 0, parts) >= 0);
      assert.equal(encodeJti(parts.jti, parts.kind), jti);
      assert.equal(shardOfPrefix(`${jti}~abc`, 24, 4096), shardOf(jti, 4096));
    }
  }
  assert.equal(decodeJti('x.AAAAAAAAAAAAAAAAAAAAAA', 0, parts), -1, 'not a kind letter');
  assert.equal(decodeJti('s.AAAAAAAAAAAAAAAAAAAAAB', 0, parts), -1, 'unused bits set: not canonical');
  assert.equal(decodeJti('s.AAAAAAAAAAAAAAAAAAAA!A', 0, parts), -1);
});

/** What the compact parse makes of a name, in parseRecordName's terms. */
function viaParts(name: string) {
  if (!parseCompactName(name, parts)) return 'general';
  const ref: Record<string, unknown> = {
    jti: encodeJti(parts.jti, parts.kind),
    subject: Buffer.from(parts.subject.subarray(0, parts.subjectLength)).toString(),
  };
  if (parts.gen > 0) ref.gen = parts.gen;
  const expiresAt = expiresAtOf(parts.exp);
  if (expiresAt !== undefined) ref.expiresAt = expiresAt;
  return ref;
}

test('the compact parse agrees with parseRecordName wherever it answers, on real and mangled names', () => {
  const subject = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.emailAddress(), fc.constant('ü@example.com'));
  const tail = fc.oneof(
    fc.constant(''),
    fc.integer({ min: 0, max: 99 }).map((g) => `~${g}`),
    fc
      .tuple(fc.integer({ min: 0, max: 99 }), fc.oneof(fc.constant('-'), fc.integer({ min: 0, max: 4_000_000_000 }).map(String)))
      .map(([g, e]) => `~${g}~${e}`),
    fc.constantFrom('~', '~~', '~01', '~1~', '~1~01', '~x~1', '~1~2~3', '~1~99999999999999'),
  );
  fc.assert(
    fc.property(fc.constantFrom('session', 'api', 'onetime'), subject, tail, (kind, s, t) => {
      const jti = newJti(kind as 'session');
      const name = `${jti}~${Buffer.from(s).toString('base64url')}${t}`;
      const compact = viaParts(name);
      if (compact === 'general') return;
      const general = parseRecordName(name);
      // an expiry of 0 or 1 s after the epoch is kept as 2 s (the words 0 and 1 mean empty and unknown): long past all three
      if (typeof general?.expiresAt === 'number' && general.expiresAt < 2000) general.expiresAt = 2000;
      assert.deepEqual(compact, general, name);
    }),
    { numRuns: 2000 },
  );
});

test('both layouts of an ordinary name take the compact path, with their expiry', () => {
  const jti = newJti('session');
  assert.deepEqual(viaParts(recordName({ jti, subject: 'alice@example.com' })), { jti, subject: 'alice@example.com' });
  assert.deepEqual(viaParts(recordName({ jti, subject: 'bob', gen: 3 })), { jti, subject: 'bob', gen: 3 });
  assert.deepEqual(viaParts(recordName({ jti, subject: 'carol', expiresAt: 1_767_225_600_500 })), {
    jti,
    subject: 'carol',
    expiresAt: 1_767_225_601_000,
  });
  assert.ok(parseCompactName(recordName({ jti, subject: 'dan', expiresAt: null }), parts));
  assert.equal(parts.exp, EXP_NEVER);
  assert.ok(parseCompactName(recordName({ jti, subject: 'erin' }), parts));
  assert.equal(parts.exp, EXP_UNKNOWN);
  assert.equal(viaParts(recordName({ jti: 'my-own-jti-1234', subject: 'x', expiresAt: null })), 'general', 'an application-chosen jti');
  assert.equal(viaParts(recordName({ jti, subject: 'ü' })), 'general', 'a subject that is not plain ASCII');
});
