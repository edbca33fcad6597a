/**
 * `tokensync/express`: authenticate Express requests through the tokensync sidecar.
 *
 * ```ts
 * import express from 'express';
 * import { tokensyncAuth, login, logout } from 'tokensync/express';
 * const app = express();
 * app.set('trust proxy', 'loopback');            // behind a proxy on this machine: req.ip is then the user's address
 * const auth = tokensyncAuth({ sidecarUrl: 'http://127.0.0.1:7468', required: false });
 * const requireAuth = tokensyncAuth({ client: auth.client });   // asks the sidecar nothing more on the same request
 * app.use(auth);
 * app.post('/login', express.urlencoded(), async (req, res) => { await login(res, checkedUser(req)); res.redirect('/'); });
 * app.get('/private', requireAuth, (req, res) => res.send(`hello ${req.auth!.subject}`));
 * app.post('/logout', async (req, res) => { await logout(req, res); res.redirect('/'); });
 * ```
 */
export type { TokensyncAuth } from './auth.js';
export { tokensyncAuth, type TokensyncAuthOptions, type TokensyncMiddleware, type Refusal } from './tokensync-auth.js';
export { login, logout, type LoginOptions, type LogoutOptions } from './session.js';
export { TokensyncClient, TokensyncClientError } from '../client/index.js';
export { tokensyncInProcess } from './in-process-entry.js';
export type { InProcessTokensync, InProcessOptions } from './in-process.js';
export type { TokensyncBackend } from './backend.js';
