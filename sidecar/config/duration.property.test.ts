import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../errors/config-error.js';
import { formatDuration, parseDuration } from './duration.js';

/**
 * Properties of the duration parser: every formatted duration parses back
 * exactly, and any other text is either a duration or a one-line ConfigError,
 * never another exception. A seed printed by a failure reproduces it with
 * `fc.assert(..., { seed, path })`.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;

/** Runs `parseDuration` and sorts the outcome: a number, or a ConfigError checked for shape. Anything else fails the property. */
function parseOrConfigError(text: string): number | ConfigError {
  try {
    const ms = parseDuration(text);
    assert.ok(Number.isSafeInteger(ms) && ms >= 0, `${JSON.stringify(text)} parsed to ${ms}`);
    return ms;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `${JSON.stringify(text)} threw ${String(error)}`);
    assert.equal(error.code, 'config.invalid');
    assert.doesNotMatch(error.message, /[\r\n]/, 'one line');
    assert.equal(error.value, text, 'the error names the value as written');
    return error;
  }
}

test('parse(format(ms)) === ms for every whole, non-negative, safe number of milliseconds', () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), (ms) => {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }),
    { numRuns: 2000 },
  );
  // The small and the unit-aligned values a person actually writes.
  fc.assert(
    fc.property(fc.nat({ max: 10_000 }), fc.constantFrom(...Object.values(UNIT_MS)), (n, unit) => {
      assert.equal(parseDuration(formatDuration(n * unit)), n * unit);
    }),
  );
});

test('format(ms) is canonical: units largest first, each at most once, no zero components', () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), (ms) => {
      const text = formatDuration(ms);
      assert.match(text, /^(?:0s|(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?)$/, text);
      if (ms > 0) assert.doesNotMatch(text, /(^|[a-z])0+[a-z]/, `${text} has a zero component`);
    }),
  );
});

test('whitespace around a duration is ignored', () => {
  const space = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), maxLength: 4 });
  fc.assert(
    fc.property(fc.maxSafeNat(), space, space, (ms, before, after) => {
      assert.equal(parseDuration(`${before}${formatDuration(ms)}${after}`), ms);
    }),
  );
});

test('bare whole seconds are seconds', () => {
  fc.assert(
    fc.property(fc.nat({ max: Math.floor(Number.MAX_SAFE_INTEGER / 1000) }), (seconds) => {
      assert.equal(parseDuration(String(seconds)), seconds * 1000);
    }),
  );
});

test('a compound written largest unit first is the exact sum of its parts', () => {
  const part = fc.option(fc.nat({ max: 100_000 }), { nil: undefined });
  fc.assert(
    fc.property(part, part, part, part, part, (d, h, m, s, ms) => {
      const parts: [number | undefined, keyof typeof UNIT_MS][] = [
        [d, 'd'],
        [h, 'h'],
        [m, 'm'],
        [s, 's'],
        [ms, 'ms'],
      ];
      const written = parts.filter(([n]) => n !== undefined);
      fc.pre(written.length > 0);
      const text = written.map(([n, unit]) => `${n}${unit}`).join('');
      const expected = written.reduce((sum, [n, unit]) => sum + n! * UNIT_MS[unit], 0);
      assert.equal(parseDuration(text), expected, text);
    }),
  );
});

test('a compound with a unit repeated or out of order is refused', () => {
  const unit = fc.constantFrom(...(Object.keys(UNIT_MS) as (keyof typeof UNIT_MS)[]));
  const order = Object.keys(UNIT_MS);
  fc.assert(
    fc.property(fc.nat({ max: 1000 }), unit, fc.nat({ max: 1000 }), unit, (a, first, b, second) => {
      fc.pre(order.indexOf(second) <= order.indexOf(first));
      const outcome = parseOrConfigError(`${a}${first}${b}${second}`);
      assert.ok(outcome instanceof ConfigError);
      assert.match(outcome.message, /out of order/);
    }),
  );
});

test('decimals: exact when they come to whole milliseconds, refused otherwise', () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 1_000_000 }),
      fc.stringMatching(/^\d{1,9}$/),
      fc.constantFrom(...(Object.keys(UNIT_MS) as (keyof typeof UNIT_MS)[])),
      (whole, fraction, unit) => {
        const text = `${whole}.${fraction}${unit}`;
        // The exact value in BigInt: (whole.fraction) * unit, in ms.
        const scaled = BigInt(`${whole}${fraction}`) * BigInt(UNIT_MS[unit]);
        const scale = 10n ** BigInt(fraction.length);
        const outcome = parseOrConfigError(text);
        if (scaled % scale === 0n) assert.equal(outcome, Number(scaled / scale), text);
        else assert.ok(outcome instanceof ConfigError && /finer than a millisecond/.test(outcome.message), text);
      },
    ),
  );
});

test('any text at all is a duration or a one-line ConfigError naming it, nothing else', () => {
  // Arbitrary code points, and strings built from the parser's own alphabet, where the edge cases are.
  const alphabet = fc.constantFrom(...'0123456789..msdhMSDH- \t+eE_,'.split(''), 'ms', '\u00a0', '\ufeff', '٣');
  const arbitraries = [
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: alphabet, maxLength: 30 }),
    fc.stringMatching(/^-?\d{0,25}(\.\d{0,25})?(ms|s|m|h|d|[A-Za-z]{0,3})?$/),
  ];
  for (const arbitrary of arbitraries) {
    fc.assert(
      fc.property(arbitrary, (text) => void parseOrConfigError(text)),
      { numRuns: 500 },
    );
  }
});

test('garbage is a ConfigError, never a duration', () => {
  // Text with any character the grammar has no use for cannot be a duration.
  const foreign = fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }).filter((s) => /[^0-9.msdh\s]/.test(s));
  const durationish = fc.string({ unit: fc.constantFrom(...'0123456789.msdh'.split('')), maxLength: 10 });
  fc.assert(
    fc.property(durationish, foreign, durationish, (before, junk, after) => {
      const outcome = parseOrConfigError(`${before}${junk}${after}`);
      assert.ok(outcome instanceof ConfigError, `${JSON.stringify(before + junk + after)} parsed to ${String(outcome)}`);
    }),
    { numRuns: 1000 },
  );
  for (const text of ['-1s', '-0', '1e3', '0x10', 'Infinity', 'NaN', '1,5s', '1_000', '+5s', '.5s', '5.s', '1M', '1H', '٣s']) {
    assert.ok(parseOrConfigError(text) instanceof ConfigError, text);
  }
});

test('long inputs are answered at once (no catastrophic backtracking)', () => {
  const long = fc.string({ unit: fc.constantFrom('1', '0', '.', 'm', 's', 'h', 'd', 'x'), minLength: 1000, maxLength: 5000 });
  fc.assert(
    fc.property(long, (text) => {
      const started = process.hrtime.bigint();
      parseOrConfigError(text);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.ok(ms < 200, `${ms.toFixed(1)} ms for ${text.length} characters`);
    }),
    { numRuns: 200 },
  );
});

test('format refuses what is not a whole, non-negative, safe number of milliseconds', () => {
  const bad = fc.oneof(
    fc.double({ noInteger: true }),
    fc.integer({ max: -1 }),
    fc.constantFrom(Number.MAX_SAFE_INTEGER + 1, Infinity, -Infinity, NaN),
  );
  fc.assert(
    fc.property(bad, (ms) => {
      assert.throws(() => formatDuration(ms), RangeError);
    }),
  );
});
