import { isIP } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { TokensyncClient } from '../client/tokensync-client.js';
import type { RefusalReason } from '../client/types.js';
import type { TokensyncAuth } from './auth.js';
import type { TokensyncBackend } from './backend.js';
import { expiredCookie, findToken } from './cookies.js';

export interface TokensyncAuthOptions<C extends TokensyncBackend = TokensyncClient> {
  /** The sidecar's base URL (`http://127.0.0.1:7468`); or pass `client`. */
  sidecarUrl?: string;
  /**
   * A `TokensyncClient` to share between middlewares and the app (the middleware then makes none of its own), or
   * an `InProcessTokensync` (`tokensyncInProcess()`) to validate in this process against the store, without a sidecar.
   */
  client?: C;
  /** With `sidecarUrl`: the sidecar's admin token, which `login()` and `logout()` need when the sidecar has one. */
  adminToken?: string | (() => string | undefined);
  /** Must be the sidecar's `authentication.token.cookie`. @default 'tokensync' */
  cookieName?: string;
  /**
   * `true`: a request without a valid token is answered 401 here.
   * `false`: it goes on with `req.auth` undefined.
   * @default true
   */
  required?: boolean;
  /** Accept `Authorization: Bearer <token>` when there is no cookie. @default true */
  bearer?: boolean;
  /**
   * The end user's address, for tokens bound to one
   * (`authentication.token.require.consistent.ip`). Default: `req.ip`, which
   * is the proxy's address unless Express's `trust proxy` names the proxy.
   */
  clientIp?: (req: Request) => string | undefined;
  /** Delete a refused cookie in the browser, so it is not sent (and checked) again. @default true */
  clearRefusedCookie?: boolean;
  /**
   * Answer a refusal yourself when `required` (redirect a browser to the
   * login page, say). Default: 401 JSON `{error: 'unauthorized', reason, message}`.
   */
  onRefused?: (req: Request, res: Response, refusal: Refusal) => void;
}

/** Why a request was not authenticated. `reason` is the sidecar's (`malformed` also when no token was sent). */
export interface Refusal {
  reason: RefusalReason;
  message: string;
  /** True when the request carried no token at all. */
  missing: boolean;
}

/** The middleware, with the client it uses (for `login()`, `logout()` and the app's own calls). */
export type TokensyncMiddleware<C extends TokensyncBackend = TokensyncClient> = RequestHandler & {
  readonly client: C;
  readonly cookieName: string;
};

/** What the first tokensync middleware on a request found, kept so a second one (optional app-wide, required per route) asks the sidecar nothing. */
export interface RequestState {
  client: TokensyncBackend;
  cookieName: string;
  outcome?: Promise<{ auth?: TokensyncAuth; refusal?: Refusal }>;
}

const STATE = Symbol.for('tokensync.express');

export function stateOf(req: Request): RequestState | undefined {
  return (req as unknown as Record<symbol, RequestState | undefined>)[STATE];
}

function setState(req: Request, state: RequestState): void {
  (req as unknown as Record<symbol, RequestState>)[STATE] = state;
}

/**
 * Express middleware that authenticates a request through the tokensync
 * sidecar: the token from the cookie (or `Authorization: Bearer`) is
 * validated by the sidecar, `req.auth` is set, and a session token the
 * sidecar reissued (sliding expiry) is written back as `Set-Cookie`. A
 * one-time token is consumed: it authenticates one request in the cluster,
 * later ones are refused as `consumed`.
 *
 * A sidecar that cannot be reached is an error (`next(err)`, a
 * `TokensyncClientError`), never a silent pass or a 401: the app's error
 * handler decides, typically 503.
 */
export function tokensyncAuth<C extends TokensyncBackend = TokensyncClient>(options: TokensyncAuthOptions<C>): TokensyncMiddleware<C> {
  if (!options.client && !options.sidecarUrl) throw new TypeError('tokensyncAuth: pass sidecarUrl or client');
  if (options.client && typeof options.client.authenticate !== 'function') {
    throw new TypeError(
      'tokensyncAuth: the client has no authenticate() (a one-time token must be consumed, not just validated); pass a TokensyncClient or tokensyncInProcess()',
    );
  }
  const client = (options.client ?? new TokensyncClient({ url: options.sidecarUrl!, adminToken: options.adminToken })) as C;
  const cookieName = options.cookieName ?? 'tokensync';
  const required = options.required ?? true;
  const acceptBearer = options.bearer ?? true;
  const clientIpOf = options.clientIp ?? ((req: Request) => req.ip);
  const clearRefused = options.clearRefusedCookie ?? true;

  const authenticate = async (req: Request, res: Response): Promise<{ auth?: TokensyncAuth; refusal?: Refusal }> => {
    const found = findToken(req.headers, cookieName, acceptBearer);
    if (found.duplicate) {
      return { refusal: { reason: 'malformed', message: `more than one ${cookieName} cookie`, missing: false } };
    }
    if (!found.token) {
      const how = acceptBearer ? ` and no Authorization: Bearer token` : '';
      return { refusal: { reason: 'malformed', message: `no ${cookieName} cookie${how}`, missing: true } };
    }
    const ip = clientIpOf(req);
    // authenticate, not validate: a one-time token is consumed, so it lets one request through in the cluster.
    const v = await client.authenticate(found.token, ip && isIP(ip) ? { clientIp: ip } : {});
    if (!v.valid) {
      if (clearRefused && found.source === 'cookie') res.append('Set-Cookie', expiredCookie(cookieName));
      return { refusal: { reason: v.reason, message: v.message, missing: false } };
    }
    // A reissued token goes back where the token came from: a cookie. A bearer client would not read it.
    if (v.reissued && found.source === 'cookie') res.append('Set-Cookie', v.reissued.setCookie);
    const expiresAt = v.reissued && found.source === 'cookie' ? v.reissued.expiresAt : v.expiresAt;
    return { auth: { subject: v.subject, jti: v.jti, kind: v.kind, expiresAt } };
  };

  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    let state = stateOf(req);
    if (!state || state.cookieName !== cookieName) {
      state = { client, cookieName };
      setState(req, state);
    }
    state.outcome ??= authenticate(req, res);
    state.outcome.then(
      ({ auth, refusal }) => {
        req.auth = auth;
        if (auth || !required) return next();
        refuse(req, res, refusal!, options.onRefused);
      },
      (err: unknown) => {
        // Not remembered: a later middleware on the same request may try again.
        if (state.outcome) state.outcome = undefined;
        next(err);
      },
    );
  };
  return Object.assign(middleware, { client, cookieName });
}

function refuse(req: Request, res: Response, refusal: Refusal, onRefused: TokensyncAuthOptions<TokensyncBackend>['onRefused']): void {
  if (onRefused) return onRefused(req, res, refusal);
  // RFC 6750 section 3.1: no error code when the request carried no credentials at all.
  const challenge = refusal.missing
    ? 'Bearer realm="tokensync"'
    : `Bearer realm="tokensync", error="invalid_token", error_description="${refusal.reason}"`;
  res
    .status(401)
    .set({ 'WWW-Authenticate': challenge, 'Cache-Control': 'no-store' })
    .json({ error: 'unauthorized', reason: refusal.reason, message: refusal.message });
}
