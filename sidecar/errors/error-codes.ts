/**
 * Every code a {@link TokensyncError} can carry: a closed set, so the CLI's exit-code table and the API's
 * statuses cover each one and a new code does not compile until it is placed there.
 */
export const CONFIG_ERROR_CODES = ['config.invalid', 'config.unknown_key', 'config.missing', 'config.unreadable'] as const;

export const REQUEST_ERROR_CODES = [
  'request.invalid',
  'request.attributes',
  'request.clientIp',
  'request.jti',
  'request.kind',
  'request.limit',
  'request.malformed_json',
  'request.subject',
  'request.target',
  'request.token',
  'request.too_large',
  'request.ttl',
] as const;

/** `token.<refusal reason>` (tokens/token-claims.ts) for a token refused as sent, and a jti not found. */
export const TOKEN_ERROR_CODES = [
  'token.malformed',
  'token.bad_signature',
  'token.expired',
  'token.revoked',
  'token.idle_timeout',
  'token.ip_mismatch',
  'token.consumed',
  'token.not_found',
] as const;

export const SECRET_ERROR_CODES = [
  'secret.invalid',
  'secret.missing',
  'secret.empty',
  'secret.weak',
  'secret.unreadable',
  'secret.permissions',
  'admin.unreadable',
  'admin.weak',
] as const;

export const STORE_ERROR_CODES = [
  'store.unavailable',
  'journal.unavailable',
  'store.zookeeper.failed',
  'store.zookeeper.auth',
  'store.zookeeper.noauth',
  'store.zookeeper.layout',
  'store.zookeeper.corrupt',
] as const;

/** The CLI's own: `cli.usage` for bad usage (exit 2), `cli.failed` for a command that tried and failed. */
export const CLI_ERROR_CODES = ['cli.usage', 'cli.failed'] as const;

export const ERROR_CODES = [
  ...CONFIG_ERROR_CODES,
  ...REQUEST_ERROR_CODES,
  ...TOKEN_ERROR_CODES,
  ...SECRET_ERROR_CODES,
  ...STORE_ERROR_CODES,
  ...CLI_ERROR_CODES,
] as const;

export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[number];
export type RequestErrorCode = (typeof REQUEST_ERROR_CODES)[number];
export type TokenErrorCode = (typeof TOKEN_ERROR_CODES)[number];
export type SecretErrorCode = (typeof SECRET_ERROR_CODES)[number];
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];
export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];
export type TokensyncErrorCode = (typeof ERROR_CODES)[number];
