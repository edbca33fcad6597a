// The sidecar's own rules for finding a token (GET /v1/auth), so the middleware and the sidecar never disagree.
export { findToken, type FoundToken } from '../sidecar/http/forward-auth.js';

/** A `Set-Cookie` value that deletes the cookie the sidecar sets (same name, same Path, no Domain). */
export function expiredCookie(cookieName: string): string {
  return `${cookieName}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0`;
}
