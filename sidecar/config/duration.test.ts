import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../errors/config-error.js';
import { formatDuration, parseDuration } from './duration.js';

test('parseDuration accepts each unit, bare seconds and surrounding whitespace', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('45s'), 45_000);
  assert.equal(parseDuration('30m'), 1_800_000);
  assert.equal(parseDuration('12h'), 43_200_000);
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration('90'), 90_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('0s'), 0);
  assert.equal(parseDuration('  7d\t'), 604_800_000);
});

test('parseDuration accepts decimals that come to whole milliseconds, exactly', () => {
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('0.5'), 500);
  assert.equal(parseDuration('1.1h'), 3_960_000); // 1.1 * 3600000 is not exact in floating point
  assert.equal(parseDuration('0.001'), 1);
});

test('parseDuration accepts compounds, largest unit first', () => {
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1d2h3m4s5ms'), 93_784_005);
  assert.equal(parseDuration('1m500ms'), 60_500);
});

test('parseDuration rejects everything else with a one-line ConfigError naming the value', () => {
  const cases: [string, RegExp][] = [
    ['', /is empty/],
    ['   ', /is empty/],
    ['-5s', /is negative/],
    ['-5', /is negative/],
    ['7 days', /is not a duration \(use 45s, 30m, 12h, 7d or bare seconds\)/],
    ['45 s', /is not a duration/],
    ['NaN', /is not a duration/],
    ['Infinity', /is not a duration/],
    ['1e3', /is not a duration/],
    ['+5s', /is not a duration/],
    ['.5s', /is not a duration/],
    ['5M', /is not a duration/],
    ['1w', /is not a duration/],
    ['30m1h', /out of order/],
    ['1h1h', /out of order/],
    ['0.0001', /finer than a millisecond/],
    ['1.5ms', /finer than a millisecond/],
    ['9007199254740992ms', /is too long/],
    ['999999999999999999999d', /is too long/],
  ];
  for (const [text, problem] of cases) {
    assert.throws(
      () => parseDuration(text),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, text);
        assert.equal(error.code, 'config.invalid');
        assert.equal(error.value, text);
        assert.equal(error.key, undefined);
        assert.match(error.message, problem);
        assert.ok(error.message.startsWith(JSON.stringify(text)), error.message);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
    );
  }
});

test('parseDuration accepts the largest safe integer', () => {
  assert.equal(parseDuration(`${Number.MAX_SAFE_INTEGER}ms`), Number.MAX_SAFE_INTEGER);
});

test('formatDuration prints the compact form people write', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(120_000), '2m');
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(604_800_000), '7d');
  assert.equal(formatDuration(93_784_005), '1d2h3m4s5ms');
});

test('formatDuration output parses back to the same number', () => {
  for (const ms of [0, 1, 999, 1000, 61_001, 86_400_000, 90_061_001, Number.MAX_SAFE_INTEGER]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
});

test('formatDuration rejects what is not a duration', () => {
  for (const ms of [-1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1]) {
    assert.throws(() => formatDuration(ms), RangeError);
  }
});
