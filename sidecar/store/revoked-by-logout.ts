import type { TokenRecord } from './token-record.js';

/**
 * Whether a subject's logout marker revokes this record, for what listings show (`tokens list`, `tokens show`,
 * `GET /v1/tokens`): a record first issued before the marker is behind it. The one place listings decide it,
 * over the marker as stores and mirrors hand it out (`revokedBefore`, ms).
 */
export function isRevokedByLogout(record: Pick<TokenRecord, 'issuedAt'>, marker: number | undefined): boolean {
  return marker !== undefined && record.issuedAt < marker;
}
