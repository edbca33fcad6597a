import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { test } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { BadRequestError } from '../errors/bad-request-error.js';
import { TOKEN_KINDS } from '../store/token-record.js';
import type { IssueRequest } from '../service/token-service.js';
import { asObject, clientIpField, parseIssue, parseKind, parseLimit, tokenField } from './requests.js';

/**
 * Properties of the request-body parsers: a body of any shape is either a
 * well-formed request or a BadRequestError (a 4xx naming the field), never
 * another exception and never a half-checked value. Bodies arrive as text,
 * so they are generated as JSON text as well as JSON values: only text can
 * carry `1e400` or a `__proto__` key the way a client sends them.
 */

const MAX_TTL_MS = 10 * 365 * 24 * 3600 * 1000;

/** Runs `fn` and sorts the outcome: a value, or a BadRequestError checked for shape. Anything else fails the property. */
function valueOrBadRequest<T>(what: unknown, fn: () => T): T | BadRequestError {
  try {
    return fn();
  } catch (error) {
    assert.ok(error instanceof BadRequestError, `${inspect(what, { depth: 4 }).slice(0, 300)} threw ${inspect(error)}`);
    assert.ok(error.status >= 400 && error.status < 500, `status ${error.status}`);
    assert.match(error.code, /^request\.[a-z_A-Z]+$/);
    assert.ok(error.message.length > 0 && error.message.length < 400, error.message);
    return error;
  }
}

/** What a parsed issue request must look like, checked against the body it came from. */
function assertWellFormedIssue(body: Record<string, unknown>, req: IssueRequest): void {
  assert.equal(req.subject, body.subject);
  assert.ok(typeof req.subject === 'string' && req.subject.trim() !== '');
  assert.ok(TOKEN_KINDS.includes(req.kind));
  assert.equal(req.kind, body.kind ?? 'session');
  if (req.ttlMs !== undefined) {
    assert.ok(Number.isFinite(req.ttlMs) && req.ttlMs >= 1000 && req.ttlMs <= MAX_TTL_MS, `ttlMs ${req.ttlMs}`);
  } else {
    assert.ok(body.ttl === undefined || body.ttl === null);
  }
  if (req.clientIp !== undefined) assert.notEqual(isIP(req.clientIp), 0);
  if (req.attributes !== undefined) {
    const given = body.attributes as Record<string, unknown>;
    const entries = Object.entries(req.attributes);
    assert.ok(entries.length <= 32);
    // Every attribute sent is kept, as sent: none dropped, none changed, none added.
    assert.deepEqual(Object.keys(req.attributes).sort(), Object.keys(given).sort(), 'attribute names');
    for (const [key, value] of entries) {
      assert.ok(key.length <= 64);
      assert.ok(
        value === null ||
          typeof value === 'boolean' ||
          (typeof value === 'number' && Number.isFinite(value)) ||
          (typeof value === 'string' && value.length <= 1024),
        `attribute ${key}: ${inspect(value)}`,
      );
      assert.ok(Object.is(value, given[key]), `attribute ${key}: ${inspect(value)} kept as ${inspect(given[key])}`);
      // What is kept survives the JSON the store writes (-0 may come back as 0; Infinity must not come back as null).
      assert.ok(JSON.parse(JSON.stringify(value)) === value, `attribute ${key}: ${inspect(value)} does not survive JSON`);
    }
  }
}

function parseIssueBody(body: unknown): IssueRequest | BadRequestError {
  return valueOrBadRequest(body, () => {
    const req = parseIssue(asObject(body));
    assertWellFormedIssue(body as Record<string, unknown>, req);
    return req;
  });
}

/** JSON text of a number, including the forms JSON.parse turns into Infinity, 0 or a rounded value. */
const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.integer().map(String),
  fc.constantFrom(
    '1e400',
    '-1e400',
    '1e-400',
    '-0',
    '0.0',
    '12345678901234567890123',
    '1E308',
    '4.9e-324',
    '9007199254740993',
    '1.0000000000000001',
    '30',
  ),
);
const stringText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }).map((s) => JSON.stringify(s)),
  fc.constantFrom(
    '"\\ud800"',
    '"\\u0000"',
    '"45s"',
    '"7d"',
    '"-5s"',
    '"0s"',
    '"1ms"',
    '"11d"',
    '"3651d"',
    '"::1"',
    '"127.0.0.1"',
    '"1.2.3.4.5"',
    '"::ffff:10.0.0.1"',
    '"session"',
    '"api"',
    '"onetime"',
    '""',
    '"  "',
  ),
);
const nameText = fc
  .oneof(
    fc.constantFrom(
      'subject',
      'kind',
      'ttl',
      'clientIp',
      'attributes',
      'token',
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      'valueOf',
    ),
    fc.string({ unit: 'binary', maxLength: 70 }),
  )
  .map((k) => JSON.stringify(k));
const { json: jsonText } = fc.letrec<{ json: string; object: string; array: string }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numberText,
    stringText,
    fc.constantFrom('true', 'false', 'null'),
    tie('object'),
    tie('array'),
  ),
  object: fc.array(fc.tuple(nameText, tie('json')), { maxLength: 6 }).map((pairs) => `{${pairs.map(([k, v]) => `${k}:${v}`).join(',')}}`),
  array: fc.array(tie('json'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
}));

/** Issue bodies close enough to valid that every field's checks run, with hostile values mixed in. */
const attributesText = fc
  .array(
    fc.tuple(
      nameText,
      fc.oneof(
        { weight: 4, arbitrary: fc.oneof(numberText, stringText, fc.constantFrom('true', 'false', 'null')) },
        { weight: 1, arbitrary: jsonText },
      ),
    ),
    {
      maxLength: 40,
    },
  )
  .map((pairs) => `{${pairs.map(([k, v]) => `${k}:${v}`).join(',')}}`);
const issueFields: [string, fc.Arbitrary<string>][] = [
  ['subject', fc.oneof({ weight: 4, arbitrary: stringText }, { weight: 1, arbitrary: jsonText })],
  [
    'kind',
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom('"session"', '"api"', '"onetime"', 'null') }, { weight: 1, arbitrary: jsonText }),
  ],
  ['ttl', fc.oneof(numberText, stringText, jsonText)],
  [
    'clientIp',
    fc.oneof(
      fc.ipV4().map((ip) => JSON.stringify(ip)),
      fc.ipV6().map((ip) => JSON.stringify(ip)),
      stringText,
      jsonText,
    ),
  ],
  ['attributes', fc.oneof({ weight: 4, arbitrary: attributesText }, { weight: 1, arbitrary: jsonText })],
  ['__proto__', jsonText],
  ['constructor', jsonText],
];
const issueText = fc
  .tuple(
    ...issueFields.map(([name, value]) =>
      fc.option(
        value.map((v) => `${JSON.stringify(name)}:${v}`),
        { nil: undefined },
      ),
    ),
  )
  .map((fields) => `{${fields.filter((f) => f !== undefined).join(',')}}`);

test('parseIssue on any JSON value: a well-formed IssueRequest or a BadRequestError, nothing else', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (body) => void parseIssueBody(body)),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true }), (body) => void parseIssueBody(body)),
    { numRuns: 500 },
  );
});

test('parseIssue on any JSON text as a client sends it: a well-formed IssueRequest or a BadRequestError', () => {
  fc.assert(
    fc.property(jsonText, (text) => void parseIssueBody(JSON.parse(text))),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(issueText, (text) => void parseIssueBody(JSON.parse(text))),
    { numRuns: 3000 },
  );
});

test('a well-formed issue body round-trips through parseIssue', () => {
  const attributes = fc.dictionary(
    fc.string({ unit: 'binary', maxLength: 64 }).filter((k) => k !== '__proto__'),
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 1024 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
    ),
    { maxKeys: 32 },
  );
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 128 }).filter((s) => s.trim() !== ''),
      fc.constantFrom(...TOKEN_KINDS),
      fc.option(fc.integer({ min: 1, max: 10 * 365 * 24 * 3600 }), { nil: undefined }),
      fc.option(fc.oneof(fc.ipV4(), fc.ipV6()), { nil: undefined }),
      fc.option(attributes, { nil: undefined }),
      (subject, kind, ttl, clientIp, attrs) => {
        const body = JSON.parse(JSON.stringify({ subject, kind, ttl, clientIp, attributes: attrs }));
        const req = parseIssueBody(body);
        assert.ok(!(req instanceof BadRequestError), req instanceof BadRequestError ? req.message : '');
        assert.equal(req.ttlMs, ttl === undefined ? undefined : ttl * 1000);
        assert.equal(req.clientIp, clientIp);
        assert.deepEqual(req.attributes, attrs === undefined ? undefined : JSON.parse(JSON.stringify(attrs)));
      },
    ),
  );
});

test('ttl strings: a duration from 1 s to 10 years, or a BadRequestError', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 12 }), fc.stringMatching(/^\d{1,12}(ms|s|m|h|d)?$/)), (ttl) => {
      const req = parseIssueBody({ subject: 's', ttl });
      if (!(req instanceof BadRequestError)) assert.ok(req.ttlMs! >= 1000 && req.ttlMs! <= MAX_TTL_MS);
      else assert.equal(req.code, 'request.ttl');
    }),
  );
});

test('validate and consume bodies: a token string and an optional address, or a BadRequestError', () => {
  const bodies = fc.oneof(
    fc.jsonValue(),
    jsonText.map((t) => JSON.parse(t)),
    fc.record(
      {
        token: fc.oneof(
          fc.string(),
          jsonText.map((t) => JSON.parse(t)),
        ),
        clientIp: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ unit: 'binary', maxLength: 70 }), fc.jsonValue()),
      },
      { requiredKeys: [] },
    ),
  );
  fc.assert(
    fc.property(bodies, (body) => {
      const outcome = valueOrBadRequest(body, () => {
        const object = asObject(body);
        return { token: tokenField(object), clientIp: clientIpField(object) };
      });
      if (outcome instanceof BadRequestError) return;
      assert.ok(typeof outcome.token === 'string' && outcome.token !== '');
      if (outcome.clientIp !== undefined) assert.notEqual(isIP(outcome.clientIp), 0);
    }),
    { numRuns: 2000 },
  );
});

test('query parameters: limit and kind are in range or a BadRequestError', () => {
  const text = fc.option(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.integer({ min: -10, max: 2000 }).map(String),
      fc.constantFrom('1e3', '0x10', '1.0', ' 5', '5 ', 'Infinity', '-0', '1000', '1001'),
    ),
    { nil: null },
  );
  fc.assert(
    fc.property(text, (value) => {
      const limit = valueOrBadRequest(value, () => parseLimit(value));
      if (!(limit instanceof BadRequestError)) assert.ok(Number.isInteger(limit) && limit >= 1 && limit <= 1000, `${value} -> ${limit}`);
      const kind = valueOrBadRequest(value, () => parseKind(value));
      if (!(kind instanceof BadRequestError)) assert.ok(kind === undefined || TOKEN_KINDS.includes(kind));
    }),
    { numRuns: 1000 },
  );
});
