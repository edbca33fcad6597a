/**
 * tokensync as a library: run a sidecar in-process, or use its pieces
 * (configuration, tokens, stores, mirror) directly.
 */
export { Sidecar } from './sidecar.js';
export type { SidecarDeps } from './sidecar.js';
export { loadConfig, parseProperties, DEFAULT_OPTIONS, KNOWN_KEYS, describeOptions } from './config/index.js';
export type { TokensyncOptions } from './config/index.js';
export { TokenCodec, TokenPolicy, readSecretFile, parseSecrets, generateSecretLine, REFUSAL_REASONS } from './tokens/index.js';
export type { TokenClaims, RefusalReason } from './tokens/index.js';
export { createStore } from './store/create-store.js';
export type { TokenStore, MemberInfo, ListQuery, ListPage } from './store/token-store.js';
export type { BulkCreates, BulkReads, StoreMembership, WithCreateBatches, WithReplayReceipts, WithWatchMode } from './store/token-store.js';
export { hasBulkCreates, hasBulkReads, hasCreateBatches, hasReplayReceipts, hasWatchMode } from './store/token-store.js';
export type { TokenRecord, TokenKind, RecordRef } from './store/token-record.js';
export { Mirror } from './mirror/index.js';
export { TokenService } from './service/token-service.js';
export * from './errors/index.js';
export { VERSION } from './version.js';
