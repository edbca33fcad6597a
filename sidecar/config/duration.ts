import { ConfigError } from '../errors/config-error.js';

/** What {@link parseDuration} accepts, for error messages. */
export const DURATION_FORMS = '45s, 30m, 12h, 7d or bare seconds';

const UNIT_MS = { d: 86_400_000n, h: 3_600_000n, m: 60_000n, s: 1_000n, ms: 1n } as const;
type Unit = keyof typeof UNIT_MS;
const UNITS_LARGEST_FIRST = Object.keys(UNIT_MS) as Unit[];

const BARE_SECONDS = /^(\d+)(?:\.(\d+))?$/;
const COMPOUND = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const COMPONENT = /(\d+)(?:\.(\d+))?(ms|s|m|h|d)/g;

/**
 * Parses a duration into milliseconds.
 *
 * Accepts `250ms`, `45s`, `30m`, `12h`, `7d`, bare seconds (`90`), and compounds
 * with units largest first (`1h30m`, which {@link formatDuration} prints).
 * Decimals are accepted in every form (`1.5h`, bare `0.5` = 500 ms) as long as
 * the result is a whole number of milliseconds; the arithmetic is exact.
 * Units are lower-case (`1M` is not a minute, nor a month).
 *
 * @throws ConfigError (`config.invalid`, no key) for anything else: empty,
 * negative, unit-less garbage, sub-millisecond precision, or a result above
 * `Number.MAX_SAFE_INTEGER`.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const total = BARE_SECONDS.test(trimmed) ? componentMs(trimmed, 's', text) : compoundMs(trimmed, text);
  if (total > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalid(text, `is too long (at most ${formatDuration(Number.MAX_SAFE_INTEGER)})`);
  }
  return Number(total);
}

function compoundMs(trimmed: string, text: string): bigint {
  if (trimmed === '') throw invalid(text, `is empty (use ${DURATION_FORMS})`);
  if (/^-\s*\d/.test(trimmed)) throw invalid(text, `is negative (use ${DURATION_FORMS})`);
  if (!COMPOUND.test(trimmed)) throw invalid(text, `is not a duration (use ${DURATION_FORMS})`);

  let total = 0n;
  let previous = -1;
  for (const [component, whole, fraction = '', unit] of trimmed.matchAll(COMPONENT)) {
    const rank = UNITS_LARGEST_FIRST.indexOf(unit as Unit);
    // `30m1h` or `1h1h` is far more likely a typo than an intent.
    if (rank <= previous) {
      throw invalid(text, `has "${component}" out of order (write units largest first, e.g. 1h30m)`);
    }
    previous = rank;
    total += componentMs(`${whole}${fraction ? `.${fraction}` : ''}`, unit as Unit, text);
  }
  return total;
}

function componentMs(amount: string, unit: Unit, text: string): bigint {
  const [whole = '', fraction = ''] = amount.split('.');
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(whole + fraction) * UNIT_MS[unit];
  if (scaled % scale !== 0n) throw invalid(text, 'is finer than a millisecond (use whole milliseconds, e.g. 250ms)');
  return scaled / scale;
}

function invalid(value: string, problem: string): ConfigError {
  return new ConfigError('config.invalid', problem, { value });
}

/**
 * Formats milliseconds for people: `7d`, `2m`, `1h30m`, `250ms`, `0s`.
 * The output parses back to the same number with {@link parseDuration}.
 *
 * @throws RangeError when `ms` is not a non-negative safe integer.
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`formatDuration: ${ms} is not a whole, non-negative number of milliseconds`);
  }
  if (ms === 0) return '0s';
  let rest = BigInt(ms);
  let text = '';
  for (const unit of UNITS_LARGEST_FIRST) {
    const count = rest / UNIT_MS[unit];
    rest %= UNIT_MS[unit];
    if (count > 0n) text += `${count}${unit}`;
  }
  return text;
}
