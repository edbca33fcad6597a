import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { ipInRanges, normalizeIp } from '../util/ip.js';

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
    // One cookie (what a proxy forwarding only ours sends): no split.
    for (const part of header.indexOf(';') < 0 ? [header] : header.split(';')) {
      const value = cookieValue(part, cookieName);
      if (value === undefined) continue;
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

/** The value of one `name=value` part of a Cookie header when its name is `cookieName` (quotes removed). */
function cookieValue(part: string, cookieName: string): string | undefined {
  const eq = part.indexOf('=');
  if (eq < 0 || part.slice(0, eq).trim() !== cookieName) return undefined;
  const value = part.slice(eq + 1).trim();
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

/**
 * The client's address: the connection's peer unless that peer is a trusted
 * proxy, in which case the right-most address in X-Forwarded-For that is not
 * itself a trusted proxy (or X-Real-IP). Headers from anyone else are ignored,
 * or a client could choose its own address.
 */
export function clientAddress(req: IncomingMessage, trustedProxies: string[]): string | undefined {
  const peer = req.socket.remoteAddress ? normalizeIp(req.socket.remoteAddress) : undefined;
  if (!peer || !ipInRanges(peer, trustedProxies)) return peer;
  const xff = req.headers['x-forwarded-for'];
  if (xff) {
    const hops = (Array.isArray(xff) ? xff.join(',') : xff)
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeIp(hops[i]!);
      if (!ipInRanges(hop, trustedProxies)) return hop;
    }
    if (hops.length > 0) return normalizeIp(hops[0]!);
  }
  const real = req.headers['x-real-ip'];
  if (typeof real === 'string' && real.trim()) return normalizeIp(real);
  return peer;
}

/** Header-safe subject: as is when printable ASCII, else percent-encoded (X-Auth-Subject-Encoding says so). */
export function headerSubject(subject: string): { value: string; encoded: boolean } {
  return /^[\x20-\x7e]*$/.test(subject) ? { value: subject, encoded: false } : { value: encodeURIComponent(subject), encoded: true };
}
