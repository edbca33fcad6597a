// Over 400 lines: the route table and the paths dispatched before it (forward-auth, validate, issue) stay in one
// file, so that the order a request is matched in can be read in one place.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../util/logger.js';
import type { TokenService, Validation } from '../service/token-service.js';
import type { ClusterView } from '../cluster-view.js';
import type { Metrics } from '../metrics/metrics.js';
import { TokensyncError } from '../errors/tokensync-error.js';
import { BadRequestError } from '../errors/bad-request-error.js';
import { asObject, clientIpField, isoOrNull, parseIssue, parseKind, parseLimit, tokenField } from './requests.js';
import { recordView } from '../store/record-view.js';
import { clientAddress, findToken, headerSubject } from './forward-auth.js';
import { readJsonBody } from './json-body.js';
import { isValidSubject } from '../store/token-record.js';
import { REFUSAL_REASONS, type RefusalReason, type TokenClaims } from '../tokens/token-claims.js';
import { consoleHandler } from '../console/console-route.js';
import { crossSiteRefusal } from './cross-origin.js';

export interface HttpServerOptions {
  service: TokenService;
  metrics: Metrics;
  logger: Logger;
  maxBodyBytes: number;
  trustedProxies: string[];
  cookieName: string;
  /** Bearer token admin endpoints require; none = open (loopback binding is then the protection). */
  adminToken?: () => string | undefined;
  ready: () => boolean;
  health: () => { status: 'ok' | 'degraded'; [k: string]: unknown };
  /** Partial: a server with no cluster behind it (a unit test's) may answer an empty view. */
  cluster: (options: { digest: boolean; servers: boolean }) => Promise<Partial<ClusterView>>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, params: string[]) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  admin: boolean;
  name: string;
  handler: Handler;
}

/** A route dispatched by its exact method and target before the route table: no parameters, no URL. */
interface DirectRoute {
  admin: boolean;
  name: string;
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const SLASH = 0x2f;
const QUESTION_MARK = 0x3f;

/** The 401's headers for each refusal reason, but its length. */
const REFUSAL_HEADERS = new Map<RefusalReason, readonly string[]>(
  REFUSAL_REASONS.map((reason) => [
    reason,
    [
      'Cache-Control',
      'no-store',
      'WWW-Authenticate',
      `Bearer realm="tokensync", error="invalid_token", error_description="${reason}"`,
      'X-Auth-Reason',
      reason,
      'Content-Type',
      JSON_TYPE,
    ],
  ]),
);

function refusalHeaders(reason: RefusalReason): readonly string[] {
  return REFUSAL_HEADERS.get(reason)!;
}
/** Header block limit (Node's default is 16 KiB); larger gets 431 from Node itself. */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * The sidecar's HTTP API (../shared/CONTRACT.md). Plain node:http: the hot
 * path (`GET /v1/auth`, `POST /v1/validate`) is a route match, a cookie split
 * or a small JSON parse, and a local lookup; no framework in between.
 */
export class HttpServer {
  readonly server: Server;
  private readonly routes: Route[];
  /** `POST /v1/tokens`: dispatched before the route table (see handle), and in it. */
  private readonly issueRoute: DirectRoute = { name: 'issue', admin: true, handler: (req, res) => this.postTokens(req, res) };
  private readonly headersOf = new WeakMap<TokenClaims, string[]>();

  constructor(private readonly o: HttpServerOptions) {
    this.routes = this.buildRoutes();
    const limits = { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 65_000 };
    this.server = createServer(limits, (req, res) => {
      void this.handle(req, res);
    });
    this.server.on('clientError', (err, socket) => {
      if (!socket.writable) return socket.destroy();
      const code = (err as NodeJS.ErrnoException).code;
      const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const tooLarge = status === 431;
      const body = JSON.stringify({
        error: tooLarge ? 'request.headers_too_large' : 'request.malformed',
        message: tooLarge ? 'request headers too large' : 'malformed HTTP request',
      });
      const head = `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}`;
      const length = Buffer.byteLength(body);
      socket.end(`${head}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n${body}`);
    });
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting, lets requests in flight finish (up to `graceMs`), then closes idle keep-alive sockets. */
  close(graceMs = 5000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.server.closeAllConnections(), graceMs);
      timer.unref();
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  private buildRoutes(): Route[] {
    const s = this.o.service;
    const r = routeOf;
    // GET /v1/auth (any method, any path below it) is answered by handle() before this table is consulted.
    return [
      r('POST', '/v1/validate', 'validate', false, (req, res) => this.postValidate(req, res)),
      r('POST', '/v1/tokens/consume', 'consume', false, async (req, res) => {
        const body = asObject(await readJsonBody(req, this.o.maxBodyBytes));
        const result = await s.consume(tokenField(body), clientIpField(body));
        this.sendValidation(res, result);
      }),
      r('POST', '/v1/tokens', this.issueRoute.name, this.issueRoute.admin, this.issueRoute.handler),
      r('GET', '/v1/tokens', 'list', true, async (_req, res, url) => {
        const subject = url.searchParams.get('subject');
        if (subject !== null && !isValidSubject(subject)) {
          throw new BadRequestError('subject must be 1 to 128 bytes of text', 'request.subject');
        }
        const page = await s.list({
          subject: subject ?? undefined,
          kind: parseKind(url.searchParams.get('kind')),
          limit: parseLimit(url.searchParams.get('limit')),
          cursor: url.searchParams.get('cursor') ?? undefined,
        });
        this.json(res, 200, { items: page.items.map((r) => recordView(r, s.listingContext(r.subject))), nextCursor: page.nextCursor });
      }),
      r('GET', '/v1/tokens/([^/]+)', 'inspect', true, async (_req, res, _url, [jti]) => {
        const record = await s.inspect(jti!);
        if (!record) return this.json(res, 404, { error: 'token.not_found', message: `no token record with jti ${jti}` });
        this.json(res, 200, recordView(record, s.listingContext(record.subject)));
      }),
      r('DELETE', '/v1/tokens/([^/]+)', 'revoke', true, async (_req, res, _url, [jti]) => {
        const { revoked, replicated } = await s.revoke(jti!);
        if (!revoked) return this.json(res, 404, { error: 'token.not_found', message: `no token record with jti ${jti}` });
        res.setHeader('X-Replicated', String(replicated));
        res.writeHead(204).end();
      }),
      r('DELETE', '/v1/subjects/([^/]+)/tokens', 'logout', true, async (_req, res, _url, [subject]) => {
        const result = await s.logout(subject!);
        this.json(res, 200, {
          revoked: result.revoked,
          replicated: result.replicated,
          gen: result.gen,
          at: new Date(result.at).toISOString(),
          acknowledgedBy: result.acknowledged,
          notYetAcknowledgedBy: result.pending,
        });
      }),
      r('GET', '/v1/cluster', 'cluster', true, async (_req, res, url) =>
        this.json(
          res,
          200,
          await this.o.cluster({ digest: url.searchParams.get('digest') === '1', servers: url.searchParams.get('servers') === '1' }),
        ),
      ),
      r('GET', '/v1/stats', 'stats', true, (_req, res) =>
        this.json(res, 200, { at: new Date().toISOString(), ...this.o.health(), ...this.o.metrics.snapshot() }),
      ),
      r('*', '/console(?:/.*)?', 'console', false, consoleHandler()),
      r('GET', '/healthz', 'healthz', false, (_req, res) => this.json(res, 200, this.o.health())),
      r('GET', '/readyz', 'readyz', false, (_req, res) => {
        const ready = this.o.ready();
        this.json(res, ready ? 200 : 503, { ready, ...this.o.health() });
      }),
      r('GET', '/metrics', 'metrics', false, async (_req, res) => {
        const text = await this.o.metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': this.o.metrics.registry.contentType }).end(text);
      }),
    ];
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // Forward-auth first, before any URL object, route table or timer: it is nearly all of the traffic. Any method
    // and any path below /v1/auth, query or not: Envoy's ext_authz sends the original request's method and, with
    // path_prefix, appends its path.
    const target = req.url;
    if (target !== undefined && target.startsWith('/v1/auth')) {
      const next = target.charCodeAt(8); // NaN past the end
      if (next !== next || next === SLASH || next === QUESTION_MARK) return this.forwardAuth(req, res);
    }
    const refusal = crossSiteRefusal(req.method, req.headers);
    if (refusal !== undefined) {
      this.json(res, 403, { error: 'request.cross_site', message: `refused: ${refusal}; the API takes no writes from other sites' pages` });
      return;
    }
    if (target === '/v1/validate' && req.method === 'POST') {
      this.postValidate(req, res).catch((err: unknown) => this.sendError(res, err));
      return;
    }
    // Issuing: the route the table would match for this exact target, without the URL object and the table walk.
    if (target === '/v1/tokens' && req.method === 'POST') {
      void this.routed(req, res, this.issueRoute);
      return;
    }
    void this.route(req, res);
  }

  /** `POST /v1/tokens`: issue a token for `{subject, ...}`, or mirror `{token}` the application signed itself. */
  private async postTokens(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = asObject(await readJsonBody(req, this.o.maxBodyBytes));
    if (body.token !== undefined) {
      if (body.subject !== undefined) {
        throw new BadRequestError('send either {token} to mirror a token, or {subject, ...} to issue one, not both');
      }
      const { record, replicated, created } = await this.o.service.mirrorToken(tokenField(body));
      return this.json(res, created ? 201 : 200, { ...recordView(record), replicated });
    }
    const issued = await this.o.service.issue(parseIssue(body));
    this.json(res, 201, { ...issued, expiresAt: isoOrNull(issued.expiresAt) });
  }

  /** A route already matched by method and whole target: what route() does once it has matched one. */
  private async routed(req: IncomingMessage, res: ServerResponse, route: DirectRoute): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      if (route.admin && !this.authorized(req)) return this.unauthorized(res);
      await route.handler(req, res);
    } catch (err) {
      this.sendError(res, err);
    } finally {
      this.o.metrics.httpRequest(route.name, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private unauthorized(res: ServerResponse): void {
    res.setHeader('WWW-Authenticate', 'Bearer realm="tokensync-admin"');
    const message = 'this endpoint needs Authorization: Bearer <sidecar.admin.token.file contents>';
    this.json(res, 401, { error: 'admin.unauthorized', message });
  }

  private async postValidate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = asObject(await readJsonBody(req, this.o.maxBodyBytes));
    const result = await this.o.service.validateNow(tokenField(body), clientIpField(body));
    this.sendValidation(res, result);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let routeName = 'unmatched';
    try {
      const url = parseTarget(req.url);
      // Match the raw path: URL resolves dot segments (even %2E%2E), which would turn
      // DELETE /v1/subjects/%2E%2E/tokens (the subject "..") into DELETE /v1/tokens.
      const path = req.url?.startsWith('/') ? req.url.split('?')[0]! : url.pathname;
      const allowed: string[] = [];
      for (const route of this.routes) {
        const m = route.pattern.exec(path);
        if (!m) continue;
        allowed.push(...(route.method === 'GET' ? ['GET', 'HEAD'] : [route.method]));
        if (route.method !== '*' && route.method !== req.method && !(route.method === 'GET' && req.method === 'HEAD')) continue;
        routeName = route.name;
        if (route.admin && !this.authorized(req)) return this.unauthorized(res);
        const params = m.slice(1).map((p) => {
          try {
            return decodeURIComponent(p);
          } catch {
            throw new BadRequestError('malformed percent-encoding in the path');
          }
        });
        await route.handler(req, res, url, params);
        return;
      }
      if (allowed.length > 0) {
        // RFC 9110: a 405 lists the methods the resource does support
        res.setHeader('Allow', allowed.join(', '));
        const message = `${req.method} is not allowed on ${url.pathname} (allowed: ${allowed.join(', ')})`;
        return this.json(res, 405, { error: 'request.method', message });
      }
      this.json(res, 404, { error: 'request.not_found', message: `no such endpoint: ${req.method} ${url.pathname}` });
    } catch (err) {
      this.sendError(res, err);
    } finally {
      if (routeName !== 'validate') this.o.metrics.httpRequest(routeName, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private authorized(req: IncomingMessage): boolean {
    const expected = this.o.adminToken?.();
    if (!expected) return true;
    const header = req.headers.authorization ?? '';
    const given = /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, '').trim() : '';
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * `GET /v1/auth`. Answered in the same tick as the request whenever the mirror settles the token (see
   * {@link TokenService.authenticate}; a one-time token is consumed, which asks the store), with header values
   * worked out once per verified token.
   */
  private forwardAuth(req: IncomingMessage, res: ServerResponse): void {
    req.resume(); // a forwarded POST may carry a body we never read
    let result: Validation | Promise<Validation>;
    try {
      const { token, duplicate } = findToken(req.headers, this.o.cookieName, true);
      if (duplicate) result = { valid: false, reason: 'malformed', message: `more than one ${this.o.cookieName} cookie` };
      else if (!token) {
        result = { valid: false, reason: 'malformed', message: `no ${this.o.cookieName} cookie and no Authorization: Bearer token` };
      } else {
        // The client address costs a few IP parses; only address binding looks at it.
        const ip = this.o.service.usesClientAddress ? clientAddress(req, this.o.trustedProxies) : undefined;
        result = this.o.service.authenticate(token, ip); // consumes a one-time token: it lets one request through
      }
    } catch (err) {
      return this.sendError(res, err);
    }
    if (result instanceof Promise) {
      result.then(
        (settled) => this.sendAuth(res, settled),
        (err: unknown) => this.sendError(res, err),
      );
    } else this.sendAuth(res, result);
  }

  private sendAuth(res: ServerResponse, result: Validation): void {
    try {
      if (!result.valid) {
        const body = JSON.stringify({ valid: false, reason: result.reason, message: result.message });
        res.writeHead(401, [...refusalHeaders(result.reason), 'Content-Length', String(Buffer.byteLength(body))]).end(body);
        return;
      }
      const headers = this.authHeaders(result.claims);
      res.writeHead(200, result.reissued ? [...headers, 'Set-Cookie', result.reissued.setCookie] : headers).end();
    } catch (err) {
      this.sendError(res, err);
    }
  }

  /**
   * The 200's headers for a token's claims (as a flat list, which `writeHead` takes without walking an
   * object). Claims the service shares between requests (frozen: a remembered verified token) keep theirs.
   */
  private authHeaders(claims: TokenClaims): string[] {
    let headers = this.headersOf.get(claims);
    if (headers !== undefined) return headers;
    const subject = headerSubject(claims.sub);
    headers = ['Cache-Control', 'no-store', 'X-Auth-Subject', subject.value, 'X-Auth-Token-Id', claims.jti];
    headers.push('X-Auth-Token-Kind', claims.knd, 'Content-Length', '0');
    if (subject.encoded) headers.push('X-Auth-Subject-Encoding', 'percent');
    // The one request a one-time token lets through: an nginx caching positive answers (docs/stack.md ignores
    // Cache-Control there, on purpose) must not replay it. X-Accel-Expires: 0 forbids storing it.
    if (claims.knd === 'onetime') headers.push('X-Accel-Expires', '0');
    if (Object.isFrozen(claims)) this.headersOf.set(claims, headers);
    return headers;
  }

  private sendValidation(res: ServerResponse, result: Validation): void {
    if (!result.valid) return this.json(res, 401, { valid: false, reason: result.reason, message: result.message });
    const body: Record<string, unknown> = {
      valid: true,
      subject: result.claims.sub,
      jti: result.claims.jti,
      kind: result.claims.knd,
      expiresAt: isoOrNull(result.expiresAt),
    };
    if (result.consumed !== undefined) body.consumed = result.consumed;
    const reissued = result.reissued;
    if (reissued) body.reissued = { token: reissued.token, setCookie: reissued.setCookie, expiresAt: isoOrNull(reissued.expiresAt) };
    this.json(res, 200, body);
  }

  private sendError(res: ServerResponse, err: unknown): void {
    if (err instanceof TokensyncError) {
      if (err.status >= 500) this.o.logger.warn('request failed', { code: err.code, error: err.message });
      return this.json(res, err.status, { error: err.code, message: err.message });
    }
    this.o.logger.error('unexpected error handling a request', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    this.json(res, 500, { error: 'internal', message: 'internal error (see the sidecar log)' });
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    // A flat list (the same header lines in the same order as an object), which writeHead takes without walking an object.
    res.writeHead(status, ['Content-Type', JSON_TYPE, 'Content-Length', String(Buffer.byteLength(text)), 'Cache-Control', 'no-store']);
    res.end(text);
  }
}

function routeOf(method: string, path: string, name: string, admin: boolean, handler: Handler): Route {
  return { method, pattern: new RegExp(`^${path}$`), name, admin, handler };
}

/** The request target as a URL; an absolute form that does not parse (`http://[/`) is the client's error, not ours. */
function parseTarget(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://sidecar');
  } catch {
    throw new BadRequestError('the request target is not a valid URL', 'request.target');
  }
}
