import type { ConfigErrorCode } from './error-codes.js';
import { TokensyncError } from './tokensync-error.js';

export type { ConfigErrorCode };

export interface ConfigErrorDetails {
  /** The properties key at fault, when there is one. */
  key?: string;
  /** The offending value as written. Left out for secrets, which must never be echoed. */
  value?: string;
  cause?: unknown;
}

/**
 * A configuration problem that stops start-up (or `config check`).
 *
 * The message is always one line, `key: "value" problem`, where the problem says
 * what is allowed, so an operator can fix the file from the log line alone.
 * Value parsers throw it without a key; the loader adds the key with {@link withKey}.
 */
export class ConfigError extends TokensyncError {
  override readonly name = 'ConfigError';
  readonly code: ConfigErrorCode;
  readonly key?: string;
  readonly value?: string;
  /** What is wrong and what is allowed, without the key and value. */
  readonly problem: string;

  constructor(code: ConfigErrorCode, problem: string, details: ConfigErrorDetails = {}) {
    super(formatMessage(problem, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.problem = problem;
    if (details.key !== undefined) this.key = details.key;
    if (details.value !== undefined) this.value = details.value;
  }

  /** The same error, attributed to `key`. */
  withKey(key: string): ConfigError {
    return new ConfigError(this.code, this.problem, {
      key,
      ...(this.value === undefined ? {} : { value: this.value }),
      ...(this.cause === undefined ? {} : { cause: this.cause }),
    });
  }
}

function formatMessage(problem: string, { key, value }: ConfigErrorDetails): string {
  const parts: string[] = [];
  if (key !== undefined) parts.push(`${quoteIfOdd(key)}:`);
  // JSON quoting escapes line breaks, which keeps the message on one line.
  if (value !== undefined) parts.push(JSON.stringify(value));
  parts.push(problem.replace(/[\r\n]+/g, ' '));
  return parts.join(' ');
}

function quoteIfOdd(key: string): string {
  return /^[\w.-]+$/.test(key) ? key : JSON.stringify(key);
}
