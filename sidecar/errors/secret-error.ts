import type { SecretErrorCode } from './error-codes.js';
import { TokensyncError } from './tokensync-error.js';

/** The signing secret file is missing, too weak or readable by others. */
export class SecretError extends TokensyncError {
  override readonly name = 'SecretError';
  readonly code: SecretErrorCode;
  constructor(message: string, code: SecretErrorCode = 'secret.invalid') {
    super(message);
    this.code = code;
  }
}
