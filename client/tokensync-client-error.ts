/**
 * A call the sidecar refused or that never got an answer. A token that fails
 * validation is NOT this: `validate()`, `authenticate()` and `consume()` return
 * `{valid: false, reason}` for that.
 *
 * `code` is the sidecar's stable `error` field (`request.ttl`,
 * `admin.unauthorized`, `store.unavailable`, ...) when it answered, else one
 * of the client's own:
 * - `client.timeout`: no complete answer within the request timeout;
 * - `client.unreachable`: the connection failed (refused, reset, DNS);
 * - `client.aborted`: the caller's `AbortSignal` fired;
 * - `client.bad_response`: an answer that is not what the API promises.
 */
export class TokensyncClientError extends Error {
  override readonly name = 'TokensyncClientError';

  constructor(
    /** HTTP status of the sidecar's answer; `0` when there was none. */
    readonly status: number,
    readonly code: string,
    message: string,
    /** `METHOD /path` of the call, for logs. */
    readonly request: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** True for failures worth retrying later: no answer, or the sidecar's store unreachable (503). */
  get retryable(): boolean {
    return this.status === 0 ? this.code !== 'client.aborted' : this.status === 503;
  }
}
