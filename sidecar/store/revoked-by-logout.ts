import { loggedOut, type LogoutMarker } from './logout-marker.js';
import type { TokenRecord } from './token-record.js';

/**
 * Whether a subject's logout marker revokes this record, for what listings show (`tokens list`, `tokens show`,
 * `GET /v1/tokens`): the record's logout generation is below the marker's (the rule validation applies, by
 * generation, never by clock; `issuedAt` counts only against a marker written before generations existed).
 */
export function isRevokedByLogout(record: Pick<TokenRecord, 'issuedAt' | 'gen'>, marker: LogoutMarker | undefined): boolean {
  return loggedOut(marker, undefined, record.gen ?? 0, record.issuedAt);
}
