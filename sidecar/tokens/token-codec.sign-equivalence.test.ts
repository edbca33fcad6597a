import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { test } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { TOKEN_KINDS, newJti } from '../store/token-record.js';
import { ManualClock } from '../util/clock.js';
import type { SigningKey } from './secret-file.js';
import type { TokenClaims } from './token-claims.js';
import { TokenCodec, normalizeClaims, type Algorithm } from './token-codec.js';
import { TokenPolicy, type TokenPolicyOptions } from './token-policy.js';
import { TEST_SECRET_A, TEST_SECRET_B, testKeys } from './test-keys.js';

/**
 * TokenCodec.sign writes tokens with node:crypto rather than jsonwebtoken. These properties hold it to
 * jsonwebtoken byte for byte: `reference` below is the codec's sign as it was, and for every claims object
 * the service can sign (issued by the policy for every kind and option, reissued, decoded from tokens an
 * application signed itself with any extra claims, frozen) both must write the same token, or both throw.
 */

/** The codec's sign as it was before node:crypto. */
function reference(claims: unknown, keys: SigningKey[], algorithm: Algorithm): string {
  return jwt.sign(claims as object, keys[0]!.key, { algorithm, keyid: keys[0]!.kid });
}

interface Setup {
  algorithm: Algorithm;
  codec: TokenCodec;
  keys: SigningKey[];
}

const SETUPS: Setup[] = (['HS256', 'HS384', 'HS512'] as const).flatMap((algorithm) =>
  [testKeys(TEST_SECRET_A), testKeys(TEST_SECRET_A, TEST_SECRET_B), testKeys(TEST_SECRET_B, TEST_SECRET_A)].map((keys) => ({
    algorithm,
    codec: new TokenCodec(keys, algorithm),
    keys,
  })),
);

/** Runs `fn` with Date.now() fixed (jsonwebtoken and the codec both read it for a missing or zero iat). */
function atFixedNow<T>(ms: number, fn: () => T): T {
  const real = Date.now;
  Date.now = () => ms;
  try {
    return fn();
  } finally {
    Date.now = real;
  }
}

type Outcome = { token: string } | { threw: true };

function outcome(fn: () => string): Outcome {
  try {
    return { token: fn() };
  } catch {
    return { threw: true };
  }
}

function sameToken(setup: Setup, claims: unknown, nowMs = 1_765_000_000_123): void {
  const where = `${setup.algorithm} with ${setup.keys.length} key(s), claims ${inspect(claims).slice(0, 300)}`;
  const before = JSON.stringify(claims);
  const expected = atFixedNow(nowMs, () => outcome(() => reference(claims, setup.keys, setup.algorithm)));
  const actual = atFixedNow(nowMs, () => outcome(() => setup.codec.sign(claims as TokenClaims)));
  assert.deepEqual(actual, expected, where);
  assert.equal(JSON.stringify(claims), before, `sign changed the claims: ${where}`);
}

const setupArb = fc.constantFrom(...SETUPS);

const optionsArb: fc.Arbitrary<TokenPolicyOptions> = fc.record({
  expirationMs: fc.integer({ min: 1_000, max: 30 * 86_400_000 }),
  sliding: fc.boolean(),
  absoluteLifetimeMs: fc.integer({ min: 1_000, max: 90 * 86_400_000 }),
  idleTimeoutMs: fc.oneof(fc.constant(0), fc.integer({ min: 1_000, max: 86_400_000 })),
  onetimeExpirationMs: fc.integer({ min: 1_000, max: 3_600_000 }),
  requireConsistentIp: fc.boolean(),
  clockSkewMs: fc.integer({ min: 0, max: 60_000 }),
});

/** Subjects of every sort: JSON escapes, non-ASCII, astral characters, lone surrogates. */
const subjectArb = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
  fc.constantFrom('alice', 'bench-writer@example.com', 'a"b\\c', '\u2028\u2029', 'é', '\ud83d\ude00', '\ud800', 'x\udfffy', '</script>'),
);

const issueArb = fc.record({
  options: optionsArb,
  kind: fc.constantFrom(...TOKEN_KINDS),
  subject: subjectArb,
  nowMs: fc.integer({ min: 0, max: 253_402_300_799_000 - 100 * 86_400_000 }),
  ttlMs: fc.option(fc.integer({ min: 1_000, max: 10 * 365 * 86_400_000 }), { nil: undefined }),
  clientIp: fc.option(fc.oneof(fc.ipV4(), fc.ipV6()), { nil: undefined }),
  laterMs: fc.integer({ min: 0, max: 60 * 86_400_000 }),
});

test('issued and reissued claims, every kind and option: the same token as jsonwebtoken', () => {
  fc.assert(
    fc.property(setupArb, issueArb, (setup, t) => {
      const clock = new ManualClock(t.nowMs);
      const policy = new TokenPolicy(t.options, clock);
      const { claims } = policy.issue(t.kind, t.subject, newJti(t.kind), {
        ttlMs: t.kind === 'api' ? undefined : t.ttlMs,
        clientIp: t.clientIp,
      });
      sameToken(setup, claims, t.nowMs + 5_000);
      clock.advance(t.laterMs);
      const next = policy.reissue(claims, clock.now());
      if (next) sameToken(setup, next, clock.now());
      sameToken(setup, Object.freeze({ ...claims }));
    }),
    { numRuns: 1500 },
  );
});

/** Claims an application may put in a token it signs itself: anything JSON holds. */
const extraClaimsArb = fc.dictionary(
  fc.oneof(
    fc.string({ maxLength: 10 }),
    fc.constantFrom('aud', 'iss', 'nbf', 'exp', 'iat', 'ath', 'lft', '0', '1', '10', '-1', 'é', 'a b'),
  ),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 6 },
);

test('claims decoded from tokens an application signed itself, with any extra claims: the same token as jsonwebtoken, or both throw', () => {
  fc.assert(
    fc.property(
      setupArb,
      extraClaimsArb,
      fc.record({ sub: subjectArb, jti: fc.stringMatching(/^[A-Za-z0-9_.-]{8,40}$/) }),
      fc.integer({ min: 0, max: 4_000_000_000_000 }),
      (setup, extra, base, nowMs) => {
        // extra claims first and last: the key order is the token's
        const raw = JSON.parse(JSON.stringify({ ...extra, ...base, ...extra, sub: base.sub, jti: base.jti })) as unknown;
        sameToken(setup, raw, nowMs);
        const claims = normalizeClaims(raw);
        if (typeof claims === 'string') return;
        sameToken(setup, claims, nowMs);
        sameToken(setup, Object.freeze(claims), nowMs);
      },
    ),
    { numRuns: 2000 },
  );
});

test('a missing, zero or falsy iat becomes now, as jsonwebtoken made it; a number of any other value is kept', () => {
  const claims = { sub: 'alice', jti: 'aaaaaaaa', knd: 'session', ath: 1000 };
  for (const setup of SETUPS) {
    for (const iat of [undefined, 0, -0, NaN, 1, -1, 1.5, 1e21, Number.MAX_SAFE_INTEGER, 4_102_444_800]) {
      sameToken(setup, iat === undefined ? claims : { ...claims, iat }, 1_765_000_000_999);
      sameToken(setup, iat === undefined ? claims : { iat, ...claims }, 0);
    }
    const signed = atFixedNow(1_765_000_000_999, () => setup.codec.sign({ ...claims, iat: 0 } as TokenClaims));
    assert.equal(JSON.parse(Buffer.from(signed.split('.')[1]!, 'base64url').toString()).iat, 1_765_000_000);
  }
});

test('claims jsonwebtoken refused to sign are refused too', () => {
  const base = { sub: 'alice', jti: 'aaaaaaaa', knd: 'session', iat: 1, ath: 1000 };
  const refused: unknown[] = [
    null,
    [],
    Object.create({ inherited: 1 }) as unknown,
    new (class Claims {
      sub = 'alice';
    })(),
    { ...base, iat: '1' },
    { ...base, exp: null },
    { ...base, nbf: {} },
    { ...base, exp: [1] },
    JSON.parse('{"sub":"a","jti":"aaaaaaaa","iat":1,"__proto__":{}}'),
    { ...base, constructor: 1 },
    { ...base, toString: 'x' },
    { ...base, hasOwnProperty: 1 },
    { valueOf: 1, ...base },
  ];
  for (const setup of SETUPS) {
    for (const claims of refused) {
      assert.throws(() => reference(claims, setup.keys, setup.algorithm), Error, `jsonwebtoken signs ${inspect(claims)}`);
      assert.throws(() => setup.codec.sign(claims as TokenClaims), Error, `the codec signs ${inspect(claims)}`);
    }
    // and what it accepted: a null prototype, a Number object as a time
    sameToken(setup, Object.assign(Object.create(null) as object, base));
    sameToken(setup, { ...base, exp: new Number(5) });
  }
});

test('the signing key is the first, and follows setKeys; any key id is written as jws wrote it', () => {
  const codec = new TokenCodec(testKeys(TEST_SECRET_A, TEST_SECRET_B));
  const claims: TokenClaims = { sub: 'alice', jti: 'aaaaaaaa', knd: 'session', iat: 1_765_000_000, ath: 1_765_000_000_123 };
  assert.equal(codec.sign(claims), reference(claims, testKeys(TEST_SECRET_A), 'HS256'));
  codec.setKeys(testKeys(TEST_SECRET_B, TEST_SECRET_A));
  assert.equal(codec.sign(claims), reference(claims, testKeys(TEST_SECRET_B), 'HS256'));
  for (const kid of ['kid', '', 'é', 'a"b', '\u2028', 'ÿ']) {
    const keys = [{ kid, key: createSecretKey(Buffer.from(TEST_SECRET_A)) }];
    for (const algorithm of ['HS256', 'HS384', 'HS512'] as const) {
      assert.equal(new TokenCodec(keys, algorithm).sign(claims), reference(claims, keys, algorithm), `kid ${inspect(kid)} ${algorithm}`);
    }
  }
});
