import type { IncomingHttpHeaders } from 'node:http';

/**
 * Why a browser's cross-site request is refused, or undefined when the request may proceed.
 *
 * A sidecar on loopback without an admin token trusts whoever can reach it, and a page on another site, open
 * in a browser on the same machine, can reach it: a form or a `text/plain` fetch is a "simple" request that
 * needs no CORS preflight, so `POST /v1/tokens` would run although the page never sees the answer. Browsers
 * mark such requests (`Sec-Fetch-Site`, `Origin`); API clients, proxies and the console (same origin) are
 * not affected. Forward-auth is exempt: a proxy passes on the original request's headers there.
 */
export function crossSiteRefusal(method: string | undefined, headers: IncomingHttpHeaders): string | undefined {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return undefined;
  const site = headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return `a browser request from another site (Sec-Fetch-Site: ${site})`;
  // the browser's own judgement, which a proxy rewriting Host does not disturb; Origin only for older browsers
  if (site === 'same-origin' || site === 'none') return undefined;
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  if (origin === 'null') return 'a browser request from an opaque origin (Origin: null)';
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return 'a malformed Origin header';
  }
  return host === headers.host ? undefined : `a browser request from another origin (${origin})`;
}
