/**
 * `tokensync/client`: a typed Node client of the sidecar's HTTP API.
 *
 * ```ts
 * import { TokensyncClient } from 'tokensync/client';
 * const tokensync = new TokensyncClient({ url: 'http://127.0.0.1:7468', adminToken: process.env.TOKENSYNC_ADMIN_TOKEN });
 * const { setCookie } = await tokensync.issue('alice');
 * const v = await tokensync.validate(token);
 * if (!v.valid) console.log(v.reason);
 * ```
 */
export { TokensyncClient, type TokensyncClientOptions, type CallOptions } from './tokensync-client.js';
export { TokensyncClientError } from './tokensync-client-error.js';
export type * from './types.js';
