import { isIP } from 'node:net';
import type { Request, Response } from 'express';
import type { TokensyncBackend } from './backend.js';
import type { IssuedToken, IssueOptions } from '../client/types.js';
import { expiredCookie } from './cookies.js';
import { stateOf } from './tokensync-auth.js';

export interface LoginOptions {
  /** Default: the client of the `tokensyncAuth()` middleware that ran on this request. */
  client?: TokensyncBackend;
  /** Session lifetime (seconds or `45s`, `12h`, `7d`); default: the sidecar's `authentication.token.expiration`. */
  ttl?: IssueOptions['ttl'];
  attributes?: IssueOptions['attributes'];
  /**
   * Bind the token to the user's address (`req.ip`); it is enforced only when the
   * sidecar has `authentication.token.require.consistent.ip=true`. @default true
   */
  bindClientIp?: boolean;
  /** Revoke the token the request already carried (another user's, or an older session of this one). @default true */
  revokePrevious?: boolean;
}

export interface LogoutOptions {
  client?: TokensyncBackend;
  /** Log the subject out on every device and node, not just this token. @default false */
  everywhere?: boolean;
}

/**
 * Issues a session token for `subject` and sets it as the cookie: call it once
 * the application has checked who the user is. Sets `req.auth` too. Needs the
 * sidecar's admin token when the sidecar has one (`adminToken` option).
 */
export async function login(res: Response, subject: string, options: LoginOptions = {}): Promise<IssuedToken> {
  const req = res.req as Request;
  const state = stateOf(req);
  const client = options.client ?? state?.client;
  if (!client) throw new TypeError('tokensync login(): run tokensyncAuth() on this request first, or pass { client }');
  const ip = req.ip;
  const clientIp = (options.bindClientIp ?? true) && ip && isIP(ip) ? ip : undefined;
  const issued = await client.issue(subject, {
    kind: 'session',
    ...(options.ttl !== undefined && { ttl: options.ttl }),
    ...(options.attributes !== undefined && { attributes: options.attributes }),
    ...(clientIp !== undefined && { clientIp }),
  });
  if (state && !issued.setCookie.startsWith(`${state.cookieName}=`)) {
    // Refuse loudly: the browser would get a cookie the middleware never reads, and every next request would look logged out.
    await client.revoke(issued.jti).catch(() => undefined);
    const sidecarCookie = issued.setCookie.slice(0, issued.setCookie.indexOf('='));
    throw new Error(
      `tokensync login(): the sidecar sets cookie "${sidecarCookie}" but tokensyncAuth() reads "${state.cookieName}"; set cookieName to the sidecar's authentication.token.cookie`,
    );
  }
  const previous = req.auth;
  if (previous && (options.revokePrevious ?? true)) await client.revoke(previous.jti);
  res.append('Set-Cookie', issued.setCookie);
  req.auth = { subject: issued.subject, jti: issued.jti, kind: issued.kind, expiresAt: issued.expiresAt };
  return issued;
}

/**
 * Ends the request's session: revokes its token on every node (or, with
 * `everywhere`, every token of its subject) and deletes the cookie. Without
 * a valid token on the request it only deletes the cookie.
 * Returns how many tokens were revoked.
 */
export async function logout(req: Request, res: Response, options: LogoutOptions = {}): Promise<{ revoked: number }> {
  const state = stateOf(req);
  const client = options.client ?? state?.client;
  if (!client) throw new TypeError('tokensync logout(): run tokensyncAuth() on this request first, or pass { client }');
  let revoked = 0;
  const auth = req.auth;
  if (auth) {
    if (options.everywhere) revoked = (await client.logout(auth.subject)).revoked;
    else revoked = (await client.revoke(auth.jti)).revoked ? 1 : 0;
  }
  res.append('Set-Cookie', expiredCookie(state?.cookieName ?? 'tokensync'));
  req.auth = undefined;
  return { revoked };
}
