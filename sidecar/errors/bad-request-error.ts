import { TokensyncError } from './tokensync-error.js';

/** Input that can never succeed as sent; answered with a 4xx and changes nothing. */
export class BadRequestError extends TokensyncError {
  override readonly name = 'BadRequestError';
  readonly code: string;
  override readonly status: number;
  constructor(message: string, code = 'request.invalid', status = 400) {
    super(message);
    this.code = code;
    this.status = status;
  }
}
