import type { RequestErrorCode, TokenErrorCode } from './error-codes.js';
import { TokensyncError } from './tokensync-error.js';

/** Input that can never succeed as sent; answered with a 4xx and changes nothing. */
export class BadRequestError extends TokensyncError {
  override readonly name = 'BadRequestError';
  readonly code: RequestErrorCode | TokenErrorCode;
  override readonly status: number;
  constructor(message: string, code: RequestErrorCode | TokenErrorCode = 'request.invalid', status = 400) {
    super(message);
    this.code = code;
    this.status = status;
  }
}
