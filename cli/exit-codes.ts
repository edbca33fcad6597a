import type { TokensyncErrorCode } from '../sidecar/errors/error-codes.js';

/** 0 done, 1 tried and failed, 2 bad usage or configuration (nothing was tried). */
export type ExitCode = 0 | 1 | 2;

/**
 * The exit code of each error code. A Record over the closed union: a new code in
 * sidecar/errors/error-codes.ts does not compile until it has a row here.
 */
export const EXIT_CODES: Readonly<Record<TokensyncErrorCode, 1 | 2>> = {
  'config.invalid': 2,
  'config.unknown_key': 2,
  'config.missing': 2,
  'config.unreadable': 2,

  'request.invalid': 2,
  'request.attributes': 2,
  'request.clientIp': 2,
  'request.jti': 2,
  'request.kind': 2,
  'request.limit': 2,
  'request.malformed_json': 2,
  'request.subject': 2,
  'request.target': 2,
  'request.token': 2,
  'request.too_large': 2,
  'request.ttl': 2,

  // a token refused is an answer about that token, not bad usage
  'token.malformed': 1,
  'token.bad_signature': 1,
  'token.expired': 1,
  'token.revoked': 1,
  'token.idle_timeout': 1,
  'token.ip_mismatch': 1,
  'token.consumed': 1,
  'token.not_found': 1,

  'secret.invalid': 2,
  'secret.missing': 2,
  'secret.empty': 2,
  'secret.weak': 2,
  'secret.unreadable': 2,
  'secret.permissions': 2,
  'admin.unreadable': 2,
  'admin.weak': 2,

  'store.unavailable': 1,
  'journal.unavailable': 1,
  'store.zookeeper.failed': 1,
  'store.zookeeper.auth': 1,
  'store.zookeeper.noauth': 1,
  'store.zookeeper.layout': 1,
  'store.zookeeper.corrupt': 1,

  'cli.usage': 2,
  'cli.failed': 1,
};
