import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { TokensyncClientError } from './tokensync-client-error.js';
import type {
  Health,
  IssueOptions,
  IssuedToken,
  ListQuery,
  LogoutResult,
  MirroredToken,
  RevokeResult,
  TokenPage,
  TokenRecord,
  ValidateOptions,
  Validation,
} from './types.js';

export interface TokensyncClientOptions {
  /** The sidecar's base URL, e.g. `http://127.0.0.1:7468`. */
  url: string | URL;
  /**
   * The contents of the sidecar's `sidecar.admin.token.file`, sent as
   * `Authorization: Bearer` on admin endpoints only (issue, mirror, list,
   * inspect, revoke, logout). A function is called per request, so a rotated
   * file can be re-read.
   */
  adminToken?: string | (() => string | undefined);
  /** Deadline for a whole request, connect to last byte, in ms. @default 5000 */
  timeoutMs?: number;
  /** Most concurrent connections to the sidecar. @default 32 */
  maxSockets?: number;
  /** Bring your own agent; the client then never destroys it. */
  agent?: HttpAgent;
}

export interface CallOptions {
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

interface Call extends CallOptions {
  method: string;
  path: string;
  body?: unknown;
  admin?: boolean;
}

const DEFAULT_TIMEOUT_MS = 5000;
/** The sidecar's answers are small; anything past this is not the sidecar. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * Typed client of a tokensync sidecar's HTTP API, over keep-alive
 * connections.
 *
 * Refused tokens are results (`{valid: false, reason}`); everything else the
 * sidecar refuses, and every call that gets no answer in time, throws a
 * {@link TokensyncClientError}.
 *
 * Caveat: a call that times out may still have been carried out by the
 * sidecar (an issued token nobody received simply expires; a revoke or
 * logout is safe to repeat).
 */
export class TokensyncClient {
  readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly ownsAgent: boolean;
  private readonly timeoutMs: number;
  private readonly adminToken: () => string | undefined;
  private readonly send: typeof httpRequest;
  private readonly basePath: string;

  constructor(options: TokensyncClientOptions) {
    this.url = new URL(options.url);
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:')
      throw new TypeError(`tokensync client: ${this.url.href} is not an http(s) URL`);
    const https = this.url.protocol === 'https:';
    this.send = https ? (httpsRequest as typeof httpRequest) : httpRequest;
    this.basePath = this.url.pathname.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new TypeError('tokensync client: timeoutMs must be positive');
    const admin = options.adminToken;
    this.adminToken = typeof admin === 'function' ? admin : () => admin;
    this.ownsAgent = options.agent === undefined;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 32 };
    this.agent = options.agent ?? (https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions));
  }

  /** Issues a token for `subject` (admin). */
  async issue(subject: string, options: IssueOptions = {}, call: CallOptions = {}): Promise<IssuedToken> {
    const answer = await this.call({ ...call, method: 'POST', path: '/v1/tokens', admin: true, body: { subject, ...options } });
    return this.expect<IssuedToken>(answer, [201], 'POST /v1/tokens');
  }

  /** Mirrors a token the application signed itself with the shared secret (admin). */
  async mirror(token: string, call: CallOptions = {}): Promise<MirroredToken> {
    const answer = await this.call({ ...call, method: 'POST', path: '/v1/tokens', admin: true, body: { token } });
    const record = this.expect<Omit<MirroredToken, 'created'>>(answer, [200, 201], 'POST /v1/tokens');
    return { ...record, created: answer.status === 201 };
  }

  /**
   * Validates a token. A refused token is a result (`valid: false`), not an error. A one-time token is only
   * looked at (`consumed: false`): to let a request through on a token, use {@link authenticate}.
   */
  validate(token: string, options: ValidateOptions = {}, call: CallOptions = {}): Promise<Validation> {
    return this.validation('/v1/validate', token, options, call);
  }

  /** Consumes a one-time token: `valid: true` for exactly one caller in the cluster, `reason: 'consumed'` for the others. */
  consume(token: string, options: ValidateOptions = {}, call: CallOptions = {}): Promise<Validation> {
    return this.validation('/v1/tokens/consume', token, options, call);
  }

  /**
   * The verdict to let a request through on, as `GET /v1/auth` gives it: {@link validate}, and for a one-time
   * token {@link consume} as well, so that at most one request in the cluster gets through on it (the others
   * get `reason: 'consumed'`). One round trip for other tokens, two for a one-time token.
   */
  async authenticate(token: string, options: ValidateOptions = {}, call: CallOptions = {}): Promise<Validation> {
    const checked = await this.validate(token, options, call);
    return checked.valid && checked.kind === 'onetime' ? this.consume(token, options, call) : checked;
  }

  /** Revokes one token (admin). `revoked: false` when no such record exists. */
  async revoke(jti: string, call: CallOptions = {}): Promise<RevokeResult> {
    const path = `/v1/tokens/${segment(jti, 'jti')}`;
    const answer = await this.call({ ...call, method: 'DELETE', path, admin: true });
    if (answer.status === 204) return { revoked: true, replicated: answer.headers['x-replicated'] !== 'false' };
    if (answer.status === 404 && errorCode(answer.body) === 'token.not_found') return { revoked: false, replicated: true };
    throw this.failure(answer, `DELETE ${path}`);
  }

  /** Logs a subject out everywhere (admin): every token it was issued before now is refused on every node. */
  async logout(subject: string, call: CallOptions = {}): Promise<LogoutResult> {
    const path = `/v1/subjects/${segment(subject, 'subject')}/tokens`;
    const answer = await this.call({ ...call, method: 'DELETE', path, admin: true });
    return this.expect<LogoutResult>(answer, [200], `DELETE ${path}`);
  }

  /** One record (admin); `undefined` when there is none. */
  async inspect(jti: string, call: CallOptions = {}): Promise<TokenRecord | undefined> {
    const path = `/v1/tokens/${segment(jti, 'jti')}`;
    const answer = await this.call({ ...call, method: 'GET', path, admin: true });
    if (answer.status === 404 && errorCode(answer.body) === 'token.not_found') return undefined;
    return this.expect<TokenRecord>(answer, [200], `GET ${path}`);
  }

  /** One page of records (admin). */
  async list(query: ListQuery = {}, call: CallOptions = {}): Promise<TokenPage> {
    const params = new URLSearchParams();
    if (query.subject !== undefined) params.set('subject', query.subject);
    if (query.kind !== undefined) params.set('kind', query.kind);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    const qs = params.toString();
    const path = qs ? `/v1/tokens?${qs}` : '/v1/tokens';
    const answer = await this.call({ ...call, method: 'GET', path, admin: true });
    return this.expect<TokenPage>(answer, [200], 'GET /v1/tokens');
  }

  /** Every record matching `query`, fetching page after page as the loop asks for more. */
  async *listAll(query: Omit<ListQuery, 'cursor'> = {}, call: CallOptions = {}): AsyncGenerator<TokenRecord, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...query, ...(cursor !== undefined && { cursor }) }, call);
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** `GET /healthz`: the sidecar is alive (`status: 'degraded'` while its store is unreachable). */
  async health(call: CallOptions = {}): Promise<Health> {
    const answer = await this.call({ ...call, method: 'GET', path: '/healthz' });
    return this.expect<Health>(answer, [200], 'GET /healthz');
  }

  /** `GET /readyz`: true once the sidecar's mirror has loaded. */
  async ready(call: CallOptions = {}): Promise<boolean> {
    const answer = await this.call({ ...call, method: 'GET', path: '/readyz' });
    if (answer.status === 200 || answer.status === 503) return answer.status === 200;
    throw this.failure(answer, 'GET /readyz');
  }

  /** Closes idle keep-alive connections (of the client's own agent; a caller's agent is left alone). */
  close(): void {
    if (this.ownsAgent) this.agent.destroy();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private async validation(path: string, token: string, options: ValidateOptions, call: CallOptions): Promise<Validation> {
    const body = options.clientIp === undefined ? { token } : { token, clientIp: options.clientIp };
    const answer = await this.call({ ...call, method: 'POST', path, body });
    // 401 with {valid:false} is the sidecar's verdict on the token; a 401 without it (a proxy in between) is a failure.
    if (answer.status === 200 || (answer.status === 401 && isObject(answer.body) && answer.body.valid === false)) {
      if (!isObject(answer.body) || typeof answer.body.valid !== 'boolean') throw this.failure(answer, `POST ${path}`);
      return answer.body as unknown as Validation;
    }
    throw this.failure(answer, `POST ${path}`);
  }

  private expect<T>(answer: Answer, statuses: number[], what: string): T {
    if (statuses.includes(answer.status) && isObject(answer.body)) return answer.body as T;
    throw this.failure(answer, what);
  }

  private failure(answer: Answer, what: string): TokensyncClientError {
    const body = answer.body;
    if (isObject(body) && typeof body.error === 'string') {
      const message = typeof body.message === 'string' ? body.message : body.error;
      return new TokensyncClientError(answer.status, body.error, `${what}: ${answer.status} ${message}`, what);
    }
    const text = typeof body === 'string' ? body.slice(0, 200) : '';
    return new TokensyncClientError(
      answer.status,
      'client.bad_response',
      `${what}: unexpected answer ${answer.status}${text ? `: ${text}` : ''}`,
      what,
    );
  }

  private async call(c: Call): Promise<Answer> {
    try {
      return await this.once(c);
    } catch (err) {
      // The sidecar closed an idle keep-alive connection just as this request went out on it: the request
      // never reached it, so sending it again on a fresh connection is safe (Node's documented remedy).
      if (err instanceof ReusedSocketReset) return this.once(c);
      throw err;
    }
  }

  private once(c: Call): Promise<Answer> {
    const what = `${c.method} ${c.path.replace(/\?.*$/, '')}`;
    const payload = c.body === undefined ? undefined : Buffer.from(JSON.stringify(c.body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (c.admin) {
      const token = this.adminToken();
      if (token) headers.authorization = `Bearer ${token}`;
    }
    const options: RequestOptions = {
      protocol: this.url.protocol,
      hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
      port: this.url.port || undefined,
      method: c.method,
      path: this.basePath + c.path,
      headers,
      agent: this.agent,
    };
    const timeoutMs = c.timeoutMs ?? this.timeoutMs;
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, answer?: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        c.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(answer!);
      };
      const req = this.send(options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(
              new TokensyncClientError(
                res.statusCode ?? 0,
                'client.bad_response',
                `${what}: answer larger than ${MAX_RESPONSE_BYTES} bytes`,
                what,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if (/json/i.test(String(res.headers['content-type'] ?? '')) && text !== '') {
            try {
              body = JSON.parse(text);
            } catch {
              return finish(
                new TokensyncClientError(res.statusCode ?? 0, 'client.bad_response', `${what}: answer is not valid JSON`, what),
              );
            }
          }
          finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', (err) => {
          finish(new TokensyncClientError(0, 'client.unreachable', `${what}: the answer broke off: ${err.message}`, what, { cause: err }));
          req.destroy();
        });
      });
      // Settle first, then tear down: once the answer has begun, destroying the request emits no further error.
      const timer = setTimeout(() => {
        finish(new TokensyncClientError(0, 'client.timeout', `${what}: no answer from ${this.url.origin} within ${timeoutMs} ms`, what));
        req.destroy();
      }, timeoutMs);
      const onAbort = () => {
        finish(new TokensyncClientError(0, 'client.aborted', `${what}: aborted`, what, { cause: c.signal?.reason }));
        req.destroy();
      };
      if (c.signal?.aborted) onAbort();
      else c.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof TokensyncClientError) return finish(err);
        if (req.reusedSocket && err.code === 'ECONNRESET') return finish(new ReusedSocketReset(err.message));
        finish(
          new TokensyncClientError(
            0,
            'client.unreachable',
            `${what}: cannot reach the sidecar at ${this.url.origin}: ${err.code ?? err.message}`,
            what,
            { cause: err },
          ),
        );
      });
      req.end(payload);
    });
  }
}

/** Internal: a reset on a reused keep-alive connection, retried once by `call()`. */
class ReusedSocketReset extends Error {}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorCode(body: unknown): string | undefined {
  return isObject(body) && typeof body.error === 'string' ? body.error : undefined;
}

/**
 * A path segment. `.` and `..` cannot be sent: URL parsers (the sidecar's
 * included) resolve them, even percent-encoded, as "this" and "parent" folder.
 */
function segment(value: string, what: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`tokensync client: ${what} must be a non-empty string`);
  if (value === '.' || value === '..') throw new TypeError(`tokensync client: a ${what} of "${value}" cannot be addressed in a URL path`);
  return encodeURIComponent(value);
}
