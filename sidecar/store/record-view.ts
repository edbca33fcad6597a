import type { TokenRecord } from './token-record.js';
import type { LogoutMarker } from './logout-marker.js';
import { isRevokedByLogout } from './revoked-by-logout.js';

/** What a listing knows beyond the record: the subject's logout marker and whether session tokens slide. */
export interface RecordViewContext {
  /** The subject's logout marker, as the store or mirror hands it out; `undefined`: none. */
  marker: LogoutMarker | undefined;
  /** `authentication.token.sliding` (or an idle timeout): a session token in use is reissued with a later expiry. */
  sliding: boolean;
}

/**
 * Record as the API and the CLI show it, times as ISO 8601. `expiresAt` and `retainedUntil` are the record's
 * retention (the latest any token of it can be valid); `tokenExpiresAt` is the token's own expiry where known
 * (session tokens issued by this version, one-time tokens; `null`: api tokens never expire). With a
 * `context`, also whether a logout revoked it and whether a session token slides.
 */
export function recordView(record: TokenRecord, context?: RecordViewContext): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const tokenExpiresAt = record.kind === 'api' ? null : record.kind === 'onetime' ? record.expiresAt : record.tokenExpiresAt;
  return {
    ...record,
    issuedAt: iso(record.issuedAt),
    expiresAt: iso(record.expiresAt),
    ...(tokenExpiresAt !== undefined && { tokenExpiresAt: iso(tokenExpiresAt) }),
    retainedUntil: iso(record.expiresAt),
    ...(context && record.kind === 'session' && { sliding: context.sliding }),
    ...(context && { revokedByLogout: isRevokedByLogout(record, context.marker) }),
  };
}
