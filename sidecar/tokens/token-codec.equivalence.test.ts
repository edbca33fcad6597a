import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { TOKEN_KINDS } from '../store/token-record.js';
import type { SigningKey } from './secret-file.js';
import type { TokenClaims } from './token-claims.js';
import { MAX_TOKEN_LENGTH, TokenCodec, normalizeClaims, type Algorithm, type Decoded } from './token-codec.js';
import { TEST_SECRET_A, TEST_SECRET_B, testKeys } from './test-keys.js';

/**
 * TokenCodec.verify checks signatures with node:crypto rather than jsonwebtoken. These properties hold it to
 * jsonwebtoken's verdict: `reference` below is the codec as it was with `jwt.verify` (same header checks
 * first, the algorithm pinned, then the same claim checks), and for every token generated (valid, tampered, re-signed with another
 * algorithm or `none`, signed with another secret, malformed in every part) both must accept with the same
 * claims and kid, or both refuse with the same reason.
 */

// ---------------------------------------------------------------------------------------------- the reference

type Reference = { ok: true; claims: unknown; kid: string | undefined } | { ok: false; reason: 'malformed' | 'bad_signature' };

/** The codec's verify as it was before node:crypto: header checks, then `jwt.verify`, then the same claim checks. */
function reference(token: unknown, keys: SigningKey[], algorithm: Algorithm): Reference {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const dot = token.indexOf('.');
  if (dot <= 0 || token.indexOf('.', dot + 1) < 0) return { ok: false, reason: 'malformed' };
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (header === null || typeof header !== 'object') return { ok: false, reason: 'malformed' };
  if (header.alg !== algorithm) return { ok: false, reason: 'bad_signature' };
  let candidates = keys;
  if (header.kid !== undefined) {
    const key = typeof header.kid === 'string' ? keys.find((k) => k.kid === header.kid) : undefined;
    if (!key) return { ok: false, reason: 'bad_signature' };
    candidates = [key];
  }
  let payload: unknown;
  let lastError: unknown;
  for (const candidate of candidates) {
    try {
      payload = jwt.verify(token, candidate.key, { algorithms: [algorithm], ignoreExpiration: true, ignoreNotBefore: true });
      break;
    } catch (err) {
      lastError = err;
      // the key that matches found something else wrong (a payload jsonwebtoken cannot read): that is the verdict,
      // not the next key's "invalid signature"
      if (!(err instanceof Error && err.message === 'invalid signature')) break;
    }
  }
  if (payload === undefined) {
    return { ok: false, reason: lastError instanceof Error && lastError.message === 'invalid signature' ? 'bad_signature' : 'malformed' };
  }
  const claims = normalizeClaims(payload);
  if (typeof claims === 'string') return { ok: false, reason: 'malformed' };
  return { ok: true, claims, kid: typeof header.kid === 'string' ? header.kid : undefined };
}

// ---------------------------------------------------------------------------------------------- the set-up

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : (JSON.stringify(v) ?? 'undefined')).toString('base64url');
const rawB64 = (text: string) => Buffer.from(text).toString('base64url');
const HASH = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512', none: '' } as const;

function sig(body: string, alg: keyof typeof HASH, secret: string): string {
  return alg === 'none' ? '' : createHmac(HASH[alg], secret).update(body).digest('base64url');
}

interface Setup {
  algorithm: Algorithm;
  codec: TokenCodec;
  keys: SigningKey[];
}

const SETUPS: Setup[] = (['HS256', 'HS384', 'HS512'] as const).flatMap((algorithm) =>
  [testKeys(TEST_SECRET_A), testKeys(TEST_SECRET_A, TEST_SECRET_B)].map((keys) => {
    return { algorithm, codec: new TokenCodec(keys, algorithm), keys };
  }),
);

function sameVerdict(setup: Setup, token: unknown): void {
  let actual: Decoded;
  try {
    actual = setup.codec.verify(token);
  } catch (error) {
    assert.fail(`verify(${inspect(token).slice(0, 200)}) threw ${inspect(error)}`);
  }
  const expected = reference(token, setup.keys, setup.algorithm);
  const where = `${setup.algorithm} with ${setup.keys.length} key(s), token ${inspect(token).slice(0, 300)}`;
  if (expected.ok) {
    assert.ok(
      actual.ok,
      `jsonwebtoken accepts, the codec refuses (${!actual.ok && actual.reason}: ${!actual.ok && actual.message}): ${where}`,
    );
    assert.deepEqual(actual.claims, expected.claims, where);
    assert.equal(actual.kid, expected.kid, where);
  } else {
    assert.ok(!actual.ok, `jsonwebtoken refuses (${expected.reason}), the codec accepts: ${where}`);
    assert.equal(actual.reason, expected.reason, `${where}: ${actual.message}`);
  }
}

const setupArb = fc.constantFrom(...SETUPS);
const secretArb = fc.constantFrom(TEST_SECRET_A, TEST_SECRET_B, 'another-secret-0123456789abcdefghijklmnopqrstuvwxyz');
const algArb = fc.constantFrom<keyof typeof HASH>('HS256', 'HS384', 'HS512', 'none');
const claimsArb: fc.Arbitrary<TokenClaims> = fc
  .record(
    {
      sub: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
      jti: fc.stringMatching(/^[A-Za-z0-9_.-]{8,40}$/),
      knd: fc.constantFrom(...TOKEN_KINDS),
      iat: fc.integer({ min: 1, max: 4_000_000_000 }),
      exp: fc.integer({ min: 1, max: 4_000_000_000 }),
      ath: fc.integer({ min: 0, max: 253_402_300_799_000 }),
      cip: fc.ipV4(),
    },
    { requiredKeys: ['sub', 'jti', 'iat'] },
  )
  .map((c) => c as TokenClaims);
/** Payloads jsonwebtoken sees: our claims, any JSON at all, or text that is not JSON. */
const payloadTextArb = fc.oneof(
  claimsArb.map((c) => JSON.stringify(c)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.constantFrom(
    'null',
    '1',
    '"text"',
    '[]',
    '{}',
    '{"sub":"a","jti":"aaaaaaaa","iat":1,"constructor":1}',
    '{"sub":"a","jti":"aaaaaaaa","exp":"1"}',
    '{',
    'not json',
    '',
  ),
  fc.string({ unit: 'binary', maxLength: 60 }),
);
/** Headers: ours, near misses of ours, and anything. */
function headerTextArb(setup: Setup): fc.Arbitrary<string> {
  const kid = fc.oneof(fc.constantFrom(...setup.keys.map((k) => k.kid)), fc.constantFrom(undefined, 'unknown-kid', 1, null, ''));
  const typ = fc.constantFrom(undefined, 'JWT', 'jwt', 'JOSE', 1);
  const alg = fc.oneof(fc.constant(setup.algorithm), algArb as fc.Arbitrary<string>, fc.constantFrom('RS256', 'hs256', '', null));
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ alg, typ, kid }).map((h) => JSON.stringify(h)) },
    // ours with other spacing, order or extra members: another header segment, same meaning
    {
      weight: 1,
      arbitrary: fc.record({ alg, typ, kid }).map((h) => JSON.stringify({ kid: h.kid, x: 'é', typ: h.typ, alg: h.alg }, null, 1)),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  );
}

// ---------------------------------------------------------------------------------------------- the properties

test("tokens the codec signs, and tokens an application signs itself with any header, get jsonwebtoken's verdict", () => {
  fc.assert(
    fc.property(setupArb, claimsArb, (setup, claims) => {
      sameVerdict(setup, setup.codec.sign(claims));
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      setupArb.chain((setup) => fc.tuple(fc.constant(setup), headerTextArb(setup), payloadTextArb, algArb, secretArb)),
      ([setup, header, payload, alg, secret]) => {
        const body = `${rawB64(header)}.${rawB64(payload)}`;
        sameVerdict(setup, `${body}.${sig(body, alg, secret)}`);
      },
    ),
    { numRuns: 3000 },
  );
});

test('re-signed with another algorithm (none, HS384 or HS512 for HS256, ...) and the right secret: the same refusal', () => {
  fc.assert(
    fc.property(setupArb, claimsArb, algArb, fc.boolean(), fc.boolean(), (setup, claims, alg, withKid, withSignature) => {
      fc.pre(alg !== setup.algorithm);
      const header = { alg, typ: 'JWT', ...(withKid ? { kid: setup.keys[0]!.kid } : {}) };
      const body = `${b64(header)}.${b64(claims)}`;
      const signature = alg === 'none' ? (withSignature ? sig(body, 'HS256', TEST_SECRET_A) : '') : sig(body, alg, TEST_SECRET_A);
      sameVerdict(setup, `${body}.${signature}`);
      // and the header of a valid token swapped in, the signature of the other algorithm kept
      const [ownHeader] = setup.codec.sign(claims).split('.');
      sameVerdict(setup, `${ownHeader}.${b64(claims)}.${signature}`);
    }),
    { numRuns: 1000 },
  );
});

test('tampered tokens: any character replaced, dropped, duplicated or added, parts swapped: the same verdict', () => {
  const replacement = fc.oneof(
    fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')),
    fc.constantFrom('.', '=', '+', '/', ' ', '\n', '\u0000', '%', '\u00e9', '\ud83d\ude00'),
  );
  fc.assert(
    fc.property(
      setupArb,
      claimsArb,
      fc.nat(),
      replacement,
      fc.constantFrom('replace', 'drop', 'duplicate', 'insert', 'append'),
      (setup, claims, position, ch, edit) => {
        const token = setup.codec.sign(claims);
        const i = position % token.length;
        const edited =
          edit === 'replace'
            ? token.slice(0, i) + ch + token.slice(i + 1)
            : edit === 'drop'
              ? token.slice(0, i) + token.slice(i + 1)
              : edit === 'duplicate'
                ? token.slice(0, i) + token[i] + token.slice(i)
                : edit === 'insert'
                  ? token.slice(0, i) + ch + token.slice(i)
                  : token + ch;
        sameVerdict(setup, edited);
      },
    ),
    { numRuns: 4000 },
  );
  fc.assert(
    fc.property(setupArb, claimsArb, claimsArb, (setup, mine, theirs) => {
      const [h1, p1, s1] = setup.codec.sign(mine).split('.');
      const [h2, p2, s2] = setup.codec.sign(theirs).split('.');
      for (const token of [
        `${h1}.${p2}.${s1}`,
        `${h2}.${p1}.${s1}`,
        `${h1}.${p1}.${s2}`,
        `${h1}.${p1}.${s1}.${s1}`,
        `${h1}.${p1}`,
        `${h1}.${p1}.`,
        `${h1}..${s1}`,
        `.${p1}.${s1}`,
      ]) {
        sameVerdict(setup, token);
      }
    }),
    { numRuns: 300 },
  );
});

test("the signature must be the canonical base64url of the HMAC: other spellings of the same bytes get jsonwebtoken's refusal", () => {
  fc.assert(
    fc.property(
      setupArb,
      claimsArb,
      fc.constantFrom('base64', 'padded', 'last-bits', 'truncated', 'extended'),
      (setup, claims, spelling) => {
        const token = setup.codec.sign(claims);
        const last = token.lastIndexOf('.');
        const body = token.slice(0, last);
        const raw = Buffer.from(token.slice(last + 1), 'base64url');
        let signature: string;
        if (spelling === 'base64') signature = raw.toString('base64').replace(/=+$/, '');
        else if (spelling === 'padded') signature = raw.toString('base64');
        else if (spelling === 'truncated') signature = token.slice(last + 1, -1);
        else if (spelling === 'extended') signature = `${token.slice(last + 1)}A`;
        else {
          // the unused low bits of the last character set: decodes to the same bytes
          const s = token.slice(last + 1);
          const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
          signature = s.slice(0, -1) + alphabet[alphabet.indexOf(s.at(-1)!) | 1];
        }
        sameVerdict(setup, `${body}.${signature}`);
      },
    ),
    { numRuns: 500 },
  );
});

test('malformed input of every kind: the same refusal', () => {
  const anything = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.array(fc.stringMatching(/^[A-Za-z0-9_=+/-]{0,60}$/), { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.')),
    fc.tuple(fc.jsonValue(), fc.jsonValue(), fc.string({ maxLength: 50 })).map(([h, p, s]) => `${b64(h)}.${b64(p)}.${s}`),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => `${Buffer.from(bytes).toString('base64url')}.${b64({ sub: 'a' })}.x`),
    fc
      .integer({ min: MAX_TOKEN_LENGTH - 2, max: MAX_TOKEN_LENGTH + 2 })
      .map((n) => `${b64({ alg: 'HS256', typ: 'JWT' })}.${'A'.repeat(n)}.x`.slice(0, n)),
  );
  fc.assert(
    fc.property(setupArb, anything, (setup, token) => sameVerdict(setup, token)),
    { numRuns: 3000 },
  );
  for (const setup of SETUPS)
    for (const value of [undefined, null, 1, {}, [], Buffer.from('a.b.c'), '', '.', '..', 'a.b.c']) sameVerdict(setup, value);
});

test('the header segments the codec recognises without parsing are the ones jsonwebtoken writes', () => {
  for (const setup of SETUPS) {
    for (const [i, key] of setup.keys.entries()) {
      const signer = new TokenCodec([key, ...setup.keys.filter((_, j) => j !== i)], setup.algorithm);
      const [header] = signer.sign({ sub: 'a', jti: 'aaaaaaaa', knd: 'session', iat: 1, ath: 1000 }).split('.');
      assert.deepEqual(JSON.parse(Buffer.from(header!, 'base64url').toString()), { alg: setup.algorithm, typ: 'JWT', kid: key.kid });
      assert.equal(header, b64({ alg: setup.algorithm, typ: 'JWT', kid: key.kid }));
    }
  }
});

test('a payload of JSON null, signed with the first of two secrets: malformed, as jsonwebtoken judges it with that secret', () => {
  for (const setup of SETUPS.filter((s) => s.keys.length === 2)) {
    const body = `${rawB64(JSON.stringify({ alg: setup.algorithm, typ: 'JWT' }))}.${rawB64('null')}`;
    const token = `${body}.${sig(body, setup.algorithm, TEST_SECRET_A)}`;
    sameVerdict(setup, token);
    assert.equal((setup.codec.verify(token) as { reason?: string }).reason, 'malformed');
  }
});
