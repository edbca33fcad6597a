import { randomBytes } from 'node:crypto';
import type { TokenRecord } from './token-record.js';

/**
 * Propagation probes (membership/propagation-probe.ts): records a node writes and deletes through the normal
 * store path to time how long an issue and a revoke take to reach the other members' mirrors. They live among
 * the token records (so they travel exactly as a token's record does) under a jti prefix no tokensync jti has
 * (`newJti` makes `<letter>.<22 chars>`): mirrors, listings, counts and validation leave them out by this prefix.
 */
export const PROBE_JTI_PREFIX = '_tsprobe.';

/**
 * How long a probe record lives at most: one its writer never deleted (it stopped) is reaped by its expiry. Long
 * enough that a member whose clock is ahead (clocks differ) does not take a live probe for expired and reap it.
 */
export const PROBE_TTL_MS = 10 * 60_000;

export function isProbeJti(jti: string): boolean {
  return jti.startsWith(PROBE_JTI_PREFIX);
}

/** Whether a record name (any layout) is a probe's: names start with the jti. */
export const isProbeName = isProbeJti;

/** The subject a node's probes are filed under (one per node, so a member can skip its own). */
export function probeSubject(nodeId: string): string {
  return `tokensync-probe:${nodeId}`;
}

/** A new probe record of `nodeId`: never a token (no token is ever signed for it, and validation refuses its jti). */
export function newProbeRecord(nodeId: string, now: number): TokenRecord {
  const expiresAt = now + PROBE_TTL_MS;
  return {
    jti: PROBE_JTI_PREFIX + randomBytes(12).toString('base64url'),
    subject: probeSubject(nodeId),
    kind: 'session',
    issuedAt: now,
    expiresAt,
    tokenExpiresAt: expiresAt,
    node: nodeId,
  };
}
