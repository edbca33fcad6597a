export * from './token-claims.js';
export * from './token-codec.js';
export * from './token-policy.js';
export * from './secret-file.js';
