import { request as httpRequest, Agent } from 'node:http';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read JSON bodies field by field
export interface HttpResult<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** A plain HTTP request (node:http, so any header can be set, Cookie included). JSON bodies are parsed when they parse. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as HttpResult
export function request<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpResult<T>> {
  const url = new URL(path, baseUrl);
  const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        agent,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body as T, text });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.href} timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** The sidecar's API as tests use it. */
export class Api {
  constructor(
    readonly url: string,
    private readonly adminToken?: string,
  ) {}

  private admin(): Record<string, string> {
    return this.adminToken ? { authorization: `Bearer ${this.adminToken}` } : {};
  }

  issue(body: Record<string, unknown>) {
    return request(this.url, 'POST', '/v1/tokens', { body, headers: this.admin() });
  }
  validate(token: string, clientIp?: string) {
    return request(this.url, 'POST', '/v1/validate', { body: clientIp ? { token, clientIp } : { token } });
  }
  consume(token: string) {
    return request(this.url, 'POST', '/v1/tokens/consume', { body: { token } });
  }
  auth(headers: Record<string, string>) {
    return request(this.url, 'GET', '/v1/auth', { headers });
  }
  revoke(jti: string) {
    return request(this.url, 'DELETE', `/v1/tokens/${encodeURIComponent(jti)}`, { headers: this.admin() });
  }
  logout(subject: string) {
    return request(this.url, 'DELETE', `/v1/subjects/${encodeURIComponent(subject)}/tokens`, { headers: this.admin() });
  }
  inspect(jti: string) {
    return request(this.url, 'GET', `/v1/tokens/${encodeURIComponent(jti)}`, { headers: this.admin() });
  }
  list(query = '') {
    return request(this.url, 'GET', `/v1/tokens${query}`, { headers: this.admin() });
  }
  cluster() {
    return request(this.url, 'GET', '/v1/cluster', { headers: this.admin() });
  }
  get(path: string, headers: Record<string, string> = {}) {
    return request(this.url, 'GET', path, { headers });
  }
}
