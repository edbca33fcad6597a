import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError } from 'commander';
import { EXIT_CODES } from './exit-codes.js';
import { exitCodeOf } from './index.js';
import { CliError } from './output.js';
import { ERROR_CODES, TOKEN_ERROR_CODES, type TokensyncErrorCode } from '../sidecar/errors/error-codes.js';
import {
  BadRequestError,
  ConfigError,
  JournalUnavailableError,
  NotFoundError,
  SecretError,
  StoreUnavailableError,
  TokensyncError,
} from '../sidecar/errors/index.js';
import { ZooKeeperStoreError } from '../sidecar/store/zookeeper/zookeeper-store-error.js';
import { REFUSAL_REASONS } from '../sidecar/tokens/token-claims.js';

// The rule exitCodeOf followed before the table, by prefix: the table must give the same answer for every code.
function exitByPrefix(code: string): 1 | 2 {
  if (code.startsWith('config.') || code === 'cli.usage') return 2;
  return code.startsWith('secret.') || code.startsWith('admin.') || code.startsWith('request.') ? 2 : 1;
}

describe('EXIT_CODES', () => {
  it('has exactly one row for each error code', () => {
    assert.deepEqual(Object.keys(EXIT_CODES).sort(), [...ERROR_CODES].sort());
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, 'no code listed twice');
  });

  it('gives every code the exit code the prefix rule gave: 2 for usage, configuration, secrets and requests, else 1', () => {
    for (const code of ERROR_CODES) assert.equal(EXIT_CODES[code], exitByPrefix(code), code);
  });

  it('has a token code for each refusal reason', () => {
    for (const reason of REFUSAL_REASONS) assert.ok((TOKEN_ERROR_CODES as readonly string[]).includes(`token.${reason}`), reason);
  });
});

describe('exitCodeOf', () => {
  const cases: Array<[TokensyncError, TokensyncErrorCode, 1 | 2]> = [
    [new ConfigError('config.unknown_key', 'is not a key', { key: 'k' }), 'config.unknown_key', 2],
    [new BadRequestError('bad'), 'request.invalid', 2],
    [new BadRequestError('token refused (expired): old', 'token.expired'), 'token.expired', 1],
    [new NotFoundError('no such token'), 'token.not_found', 1],
    [new SecretError('weak'), 'secret.invalid', 2],
    [new SecretError('short', 'admin.weak'), 'admin.weak', 2],
    [new StoreUnavailableError('down'), 'store.unavailable', 1],
    [new JournalUnavailableError('disk full'), 'journal.unavailable', 1],
    [new ZooKeeperStoreError('NOAUTH', 'store.zookeeper.noauth'), 'store.zookeeper.noauth', 1],
    [new CliError('same store', 2), 'cli.usage', 2],
    [new CliError('no such token'), 'cli.failed', 1],
  ];

  it('maps each error class through its code', () => {
    for (const [err, code, exit] of cases) {
      assert.ok(err instanceof TokensyncError, `${err.name} extends TokensyncError`);
      assert.equal(err.code, code, err.name);
      assert.equal(exitCodeOf(err), exit, `${err.name} ${code}`);
    }
  });

  it('gives 0 for help and version, 2 for other commander errors and 1 for anything else', () => {
    assert.equal(exitCodeOf(new CommanderError(0, 'commander.helpDisplayed', '')), 0);
    assert.equal(exitCodeOf(new CommanderError(0, 'commander.version', '')), 0);
    assert.equal(exitCodeOf(new CommanderError(1, 'commander.unknownOption', "unknown option '--x'")), 2);
    assert.equal(exitCodeOf(new Error('boom')), 1);
    assert.equal(exitCodeOf('a string'), 1);
  });
});
