import { TokensyncError } from './tokensync-error.js';

/** The signing secret file is missing, too weak or readable by others. */
export class SecretError extends TokensyncError {
  override readonly name = 'SecretError';
  readonly code: string;
  constructor(message: string, code = 'secret.invalid') {
    super(message);
    this.code = code;
  }
}
