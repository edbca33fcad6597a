import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { TOKEN_KINDS } from '../store/token-record.js';
import type { TokenClaims } from './token-claims.js';
import { MAX_TOKEN_LENGTH, TokenCodec, type Decoded } from './token-codec.js';
import { TEST_SECRET_A, TEST_SECRET_B, testKeys } from './test-keys.js';

/**
 * Properties of the token codec, the first thing every request meets: any
 * input at all is either a verified token or a refusal with one of the two
 * reasons the codec may give, never an exception; signing then verifying
 * gives the claims back; and no single changed character passes.
 */

/** The codec checks form and signature only: the other reasons are the policy's and the mirror's. */
const CODEC_REASONS = ['malformed', 'bad_signature'];

const codec = new TokenCodec(testKeys(TEST_SECRET_A, TEST_SECRET_B));
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : (JSON.stringify(v) ?? 'undefined')).toString('base64url');

function verifyRefused(input: unknown, verifier = codec): Decoded & { ok: false } {
  let result: Decoded;
  try {
    result = verifier.verify(input);
  } catch (error) {
    assert.fail(`verify(${inspect(input).slice(0, 200)}) threw ${inspect(error)}`);
  }
  assert.equal(result.ok, false, `verify(${inspect(input).slice(0, 200)}) accepted it`);
  assert.ok(!result.ok && CODEC_REASONS.includes(result.reason), `reason ${!result.ok && result.reason}`);
  assert.ok(!result.ok && typeof result.message === 'string' && result.message.length > 0);
  return result as Decoded & { ok: false };
}

function forge(header: unknown, payload: unknown, secret = TEST_SECRET_A, hash = 'sha256'): string {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac(hash, secret).update(body).digest('base64url')}`;
}

const subjectArb = fc.string({ unit: 'binary', minLength: 1, maxLength: 64 });
const jtiArb = fc.stringMatching(/^[A-Za-z0-9_.-]{8,64}$/);
const seconds = fc.integer({ min: 1, max: 4_000_000_000 });
const claimsArb: fc.Arbitrary<TokenClaims> = fc
  .record(
    {
      sub: subjectArb,
      jti: jtiArb,
      knd: fc.constantFrom(...TOKEN_KINDS),
      iat: seconds,
      exp: seconds,
      nbf: seconds,
      ath: fc.integer({ min: 0, max: 253_402_300_799_000 }),
      cip: fc.oneof(fc.ipV4(), fc.ipV6()),
      idl: fc.constant(1 as const),
      lft: fc.integer({ min: 1, max: 400 * 86_400 }),
    },
    { requiredKeys: ['sub', 'jti', 'knd', 'iat', 'ath'] },
  )
  .map((c) => c as TokenClaims);

/** Claims an application may add to tokens it signs itself: any JSON, under any name but ours and Object.prototype's. */
const RESERVED = new Set(['sub', 'jti', 'knd', 'iat', 'exp', 'nbf', 'ath', 'cip', 'idl', 'lft']);
const INHERITED = Object.getOwnPropertyNames(Object.prototype);
const extraClaimsArb = fc.dictionary(
  fc.string({ unit: 'binary', maxLength: 12 }).filter((k) => !RESERVED.has(k) && !(k in Object.prototype)),
  fc.jsonValue({ maxDepth: 3 }),
  { maxKeys: 6, noNullPrototype: true },
);

test('any string is refused with malformed or bad_signature, never an exception', () => {
  const arbitraries: fc.Arbitrary<string>[] = [
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: 'binary-ascii', maxLength: 300 }),
    // Three dot-separated parts of base64url alphabet: gets past the first checks.
    fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{0,80}$/), { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.')),
    // base64url of any JSON for header and payload, then anything.
    fc.tuple(fc.jsonValue(), fc.jsonValue(), fc.string({ maxLength: 50 })).map(([h, p, s]) => `${b64(h)}.${b64(p)}.${s}`),
    // base64url of any text (not JSON) as a header.
    fc.tuple(fc.string({ unit: 'binary', maxLength: 40 }), fc.jsonValue()).map(([h, p]) => `${b64(h)}.${b64(p)}.sig`),
    // Around the length limit.
    fc
      .integer({ min: MAX_TOKEN_LENGTH - 2, max: MAX_TOKEN_LENGTH + 2 })
      .map((n) => `${b64({ alg: 'HS256' })}.${'A'.repeat(n)}.x`.slice(0, n)),
  ];
  for (const arbitrary of arbitraries)
    fc.assert(
      fc.property(arbitrary, (s) => void verifyRefused(s)),
      { numRuns: 500 },
    );
});

test('any bytes, read as text in any encoding, are refused the same way', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }),
      fc.constantFrom('utf8', 'latin1', 'base64url', 'hex', 'ascii', 'utf16le') as fc.Arbitrary<BufferEncoding>,
      (bytes, encoding) => {
        verifyRefused(Buffer.from(bytes).toString(encoding));
      },
    ),
    { numRuns: 1000 },
  );
});

test('anything that is not a string is malformed', () => {
  fc.assert(
    fc.property(
      fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }),
      (value) => {
        fc.pre(typeof value !== 'string');
        assert.equal(verifyRefused(value).reason, 'malformed');
      },
    ),
  );
});

test('headers asking for another algorithm, key or type are refused before any key is used', () => {
  const alg = fc.oneof(
    fc.constantFrom(
      'none',
      'None',
      'NONE',
      'HS384',
      'HS512',
      'RS256',
      'ES256',
      'PS256',
      'EdDSA',
      'hs256',
      'HS256 ',
      '',
      null,
      256,
      ['HS256'],
      { alg: 'HS256' },
    ),
    fc.string({ maxLength: 8 }).filter((a) => a !== 'HS256'),
  );
  fc.assert(
    fc.property(
      alg,
      claimsArb,
      fc.constantFrom(TEST_SECRET_A, TEST_SECRET_B, ''),
      fc.constantFrom('sha256', 'sha384', 'sha512'),
      (a, claims, secret, hash) => {
        const token =
          secret === ''
            ? `${b64({ alg: a, typ: 'JWT' })}.${b64(claims)}.`
            : forge({ alg: a, typ: 'JWT', kid: codec.kids[0] }, claims, secret, hash);
        assert.equal(verifyRefused(token).reason, 'bad_signature');
      },
    ),
  );
  // Any kid the codec does not hold, path-like or not, of any JSON type, is refused even with a good signature.
  const kid = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      '../../etc/passwd',
      '/dev/zero',
      'file:///etc/passwd',
      '..\\..\\token_secret',
      '%2e%2e%2f',
      '\u0000',
      '__proto__',
      'constructor',
      'toString',
    ),
    fc.jsonValue({ maxDepth: 2 }),
  );
  fc.assert(
    fc.property(kid, claimsArb, (k, claims) => {
      fc.pre(k !== undefined && !codec.kids.includes(k as string));
      assert.equal(verifyRefused(forge({ alg: 'HS256', typ: 'JWT', kid: k }, claims)).reason, 'bad_signature');
    }),
    { numRuns: 500 },
  );
});

test('a token signed with any other secret is refused as bad_signature', () => {
  const otherSecret = fc.string({ minLength: 1, maxLength: 80 }).filter((s) => s !== TEST_SECRET_A && s !== TEST_SECRET_B);
  fc.assert(
    fc.property(otherSecret, claimsArb, fc.boolean(), (secret, claims, withKid) => {
      const header = withKid ? { alg: 'HS256', typ: 'JWT', kid: codec.kids[0] } : { alg: 'HS256', typ: 'JWT' };
      assert.equal(verifyRefused(forge(header, claims, secret)).reason, 'bad_signature');
    }),
  );
});

test('sign then verify gives back any claims, any subject and any extra claims an application adds', () => {
  fc.assert(
    fc.property(
      claimsArb,
      extraClaimsArb,
      fc.constantFrom('HS256', 'HS384', 'HS512') as fc.Arbitrary<'HS256' | 'HS384' | 'HS512'>,
      (claims, extra, algorithm) => {
        const signer = new TokenCodec(testKeys(TEST_SECRET_B, TEST_SECRET_A), algorithm);
        const all = { ...extra, ...claims };
        const token = signer.sign(all);
        assert.ok(token.length > 0);
        const verified = signer.verify(token);
        assert.ok(verified.ok, !verified.ok ? `${verified.reason}: ${verified.message}` : '');
        assert.deepEqual(verified.claims, JSON.parse(JSON.stringify(all)));
        assert.equal(verified.kid, signer.kids[0]);
        // Any codec that holds the signing secret, first or not, verifies it.
        const rotated = new TokenCodec(testKeys(TEST_SECRET_A, TEST_SECRET_B), algorithm);
        assert.ok(rotated.verify(token).ok);
        // One that does not, refuses it.
        assert.equal(verifyRefused(token, new TokenCodec(testKeys(TEST_SECRET_A), algorithm)).reason, 'bad_signature');
      },
    ),
    { numRuns: 300 },
  );
});

test('whatever verify accepts, sign can sign again (the reissue path), whatever claim names it carries', () => {
  // Claims as an application might write them, as JSON text: names of Object.prototype members included.
  const name = fc.oneof(fc.constantFrom(...INHERITED), fc.string({ unit: 'binary', maxLength: 12 }));
  const extra = fc.array(fc.tuple(name, fc.jsonValue({ maxDepth: 2 })), { maxLength: 4 });
  fc.assert(
    fc.property(claimsArb, extra, (claims, pairs) => {
      const text = `{${[...pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`), ...Object.entries(claims).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)].join(',')}}`;
      const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${Buffer.from(text).toString('base64url')}`;
      const token = `${body}.${createHmac('sha256', TEST_SECRET_A).update(body).digest('base64url')}`;
      const verified = codec.verify(token);
      if (!verified.ok) {
        assert.ok(CODEC_REASONS.includes(verified.reason));
        return;
      }
      assert.doesNotThrow(() => codec.sign(verified.claims), `claims ${text}`);
      assert.ok(codec.verify(codec.sign(verified.claims)).ok);
    }),
    { numRuns: 500 },
  );
  for (const claim of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const token = forge({ alg: 'HS256', typ: 'JWT' }, JSON.parse(`{"sub":"a","jti":"aaaaaaaa","iat":1,${JSON.stringify(claim)}:1}`));
    assert.match(verifyRefused(token).message, new RegExp(`claim name "${claim}"`));
  }
});

test('whatever verify accepts carries times a Date can hold; any other number is malformed', () => {
  // Records, answers and refusal messages print every time with toISOString(), which throws past year 275760.
  const number = fc.oneof(
    fc.double(),
    fc.integer({ min: -1e6, max: 1e6 }),
    fc.constantFrom(0, -1, 253_402_300_799, 253_402_300_800, 8.64e12, 8.64e15, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 1e15),
  );
  const numberText = fc.oneof(
    number.map((n) => JSON.stringify(n)),
    fc.constantFrom('1e400', '-1e400', '"1"', 'null', '[]', '{}'),
  );
  const claim = fc.constantFrom('iat', 'exp', 'nbf', 'ath', 'lft');
  fc.assert(
    fc.property(fc.array(fc.tuple(claim, numberText), { minLength: 1, maxLength: 5 }), (pairs) => {
      const text = `{"sub":"a","jti":"aaaaaaaa",${pairs.map(([k, v]) => `"${k}":${v}`).join(',')}}`;
      const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${Buffer.from(text).toString('base64url')}`;
      const verified = codec.verify(`${body}.${createHmac('sha256', TEST_SECRET_A).update(body).digest('base64url')}`);
      if (!verified.ok) {
        assert.equal(verified.reason, 'malformed', text);
        return;
      }
      const c = verified.claims;
      for (const ms of [
        c.iat * 1000,
        c.exp === undefined ? 0 : c.exp * 1000,
        c.nbf === undefined ? 0 : c.nbf * 1000,
        c.ath,
        c.lft === undefined ? 0 : c.lft * 1000,
      ]) {
        assert.doesNotThrow(() => new Date(ms).toISOString(), `${ms} from ${text}`);
      }
    }),
    { numRuns: 1000 },
  );
});

test('tokens an application signs itself, without kid or our private claims, verify with defaults', () => {
  fc.assert(
    fc.property(subjectArb, jtiArb, seconds, (sub, jti, iat) => {
      const verified = codec.verify(forge({ alg: 'HS256', typ: 'JWT' }, { sub, jti, iat }, TEST_SECRET_B));
      assert.ok(verified.ok);
      assert.equal(verified.claims.knd, 'session');
      assert.equal(verified.claims.ath, iat * 1000);
      assert.equal(verified.kid, undefined);
    }),
  );
});

test('changing any single character of a valid token makes it fail', () => {
  const tamper = fc.record({
    claims: claimsArb,
    position: fc.nat(),
    replacement: fc.oneof(
      fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')),
      fc.constantFrom('.', '=', '+', '/', ' ', '\u0000', '%', '\u00e9', '\ud83d\ude00'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    ),
  });
  fc.assert(
    fc.property(tamper, ({ claims, position, replacement }) => {
      const token = codec.sign(claims);
      const i = position % token.length;
      fc.pre(token[i] !== replacement);
      verifyRefused(token.slice(0, i) + replacement + token.slice(i + 1));
    }),
    { numRuns: 3000 },
  );
});

test('dropping, duplicating or appending a character makes a valid token fail', () => {
  fc.assert(
    fc.property(claimsArb, fc.nat(), fc.constantFrom('drop', 'duplicate', 'append', 'prepend'), (claims, position, edit) => {
      const token = codec.sign(claims);
      const i = position % token.length;
      const edited =
        edit === 'drop'
          ? token.slice(0, i) + token.slice(i + 1)
          : edit === 'duplicate'
            ? token.slice(0, i) + token[i] + token.slice(i)
            : edit === 'append'
              ? `${token}A`
              : `A${token}`;
      verifyRefused(edited);
    }),
    { numRuns: 1000 },
  );
});

test('a payload swapped in from another valid token keeps no signature', () => {
  fc.assert(
    fc.property(claimsArb, claimsArb, (mine, theirs) => {
      const [h1, p1, s1] = codec.sign(mine).split('.');
      const [, p2] = codec.sign(theirs).split('.');
      fc.pre(p1 !== p2);
      assert.equal(verifyRefused(`${h1}.${p2}.${s1}`).reason, 'bad_signature');
    }),
  );
});
