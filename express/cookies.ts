import type { IncomingHttpHeaders } from 'node:http';

export interface FoundToken {
  token?: string;
  source?: 'cookie' | 'bearer';
  /** Two different cookies of our name were sent. */
  duplicate?: boolean;
}

/**
 * The request's token, by the sidecar's own rules (`GET /v1/auth`): the
 * cookie first, else `Authorization: Bearer`. Two different cookies of our
 * name are refused rather than guessed between: that is a cookie planted from
 * a sibling domain (cookie tossing), or a stale one.
 */
export function findToken(headers: IncomingHttpHeaders, cookieName: string, acceptBearer: boolean): FoundToken {
  const header = headers.cookie;
  if (header) {
    let found: string | undefined;
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== cookieName) continue;
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (found !== undefined && found !== value) return { duplicate: true };
      found = value;
    }
    if (found) return { token: found, source: 'cookie' };
  }
  const auth = headers.authorization;
  if (acceptBearer && auth && /^bearer\s+/i.test(auth)) {
    const token = auth.replace(/^bearer\s+/i, '').trim();
    if (token) return { token, source: 'bearer' };
  }
  return {};
}

/** A `Set-Cookie` value that deletes the cookie the sidecar sets (same name, same Path, no Domain). */
export function expiredCookie(cookieName: string): string {
  return `${cookieName}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0`;
}
