export { ERROR_CODES, type TokensyncErrorCode } from './error-codes.js';
export { TokensyncError } from './tokensync-error.js';
export { StoreUnavailableError } from './store-unavailable-error.js';
export { JournalUnavailableError } from './journal-unavailable-error.js';
export { BadRequestError } from './bad-request-error.js';
export { NotFoundError } from './not-found-error.js';
export { SecretError } from './secret-error.js';
export { ConfigError } from './config-error.js';
