import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';

/**
 * Hostile requests and what the hostile-input and fuzz suites check after
 * them: raw bytes on a socket (for what node:http refuses to send), forged
 * JWTs, a seeded generator of random and malformed requests, a fingerprint of
 * the DIRECTORY store, and the RSS of a process. Only ever 127.0.0.1.
 */

export const LOOPBACK = '127.0.0.1';

// ---------------------------------------------------------------- raw HTTP

export interface RawResponse {
  /** 0 when the server closed the connection without an HTTP answer, or we gave up waiting. */
  status: number;
  head: string;
  body: string;
  /** We stopped waiting (`timeoutMs`) before the server answered or closed. */
  timedOut: boolean;
}

/**
 * Writes `data` on a fresh connection to 127.0.0.1:`port` and reads until the
 * server closes it or `timeoutMs` passes; the first response is returned.
 * Requests should say `Connection: close`, or the wait runs to the timeout.
 */
export function rawRequest(port: number, data: string | Buffer | Array<string | Buffer>, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect(port, LOOPBACK);
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ...parseResponse(Buffer.concat(chunks)), timedOut });
    });
    for (const part of Array.isArray(data) ? data : [data]) socket.write(part);
  });
}

export function parseResponse(bytes: Buffer): Omit<RawResponse, 'timedOut'> {
  const text = bytes.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  // An interim answer (100 Continue) is not the response: read past it.
  if (m && m[1]!.startsWith('1') && end >= 0) return parseResponse(bytes.subarray(end + 4));
  let body = end < 0 ? Buffer.alloc(0) : bytes.subarray(end + 4);
  if (/^transfer-encoding:\s*chunked/im.test(head)) body = dechunk(body);
  return { status: m ? Number(m[1]) : 0, head, body: body.toString('utf8') };
}

/** The first response's body from chunked encoding (what follows it, if anything, is dropped). */
function dechunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = bytes.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(bytes.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(bytes.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** A complete HTTP/1.1 request as bytes; Content-Length is added for a body unless a header sets it. */
export function rawHttp(method: string, target: string, headers: Array<[string, string | Buffer]> = [], body?: string | Buffer): Buffer {
  const lines: Buffer[] = [Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: ${LOOPBACK}\r\nConnection: close\r\n`, 'latin1')];
  const hasLength = headers.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n));
  for (const [name, value] of headers)
    lines.push(
      Buffer.concat([
        Buffer.from(`${name}: `, 'latin1'),
        Buffer.from(value as string, typeof value === 'string' ? 'latin1' : undefined),
        Buffer.from('\r\n'),
      ]),
    );
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  if (payload && !hasLength) lines.push(Buffer.from(`Content-Length: ${payload.length}\r\n`));
  lines.push(Buffer.from('\r\n'));
  if (payload) lines.push(payload);
  return Buffer.concat(lines);
}

// ---------------------------------------------------------------- JWTs

export const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A JWT signed with HMAC over exactly these header and payload objects. */
export function forgeJwt(header: object, payload: object, secret: string, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): string {
  const body = `${b64url(header)}.${b64url(payload)}`;
  return `${body}.${createHmac(hash, secret).update(body).digest('base64url')}`;
}

/** Same as tokensync's kidOf(): a hash prefix naming a secret. */
export function kidOfSecret(secret: string): string {
  return createHash('sha256').update('tokensync-kid\0').update(secret).digest('base64url').slice(0, 12);
}

export function decodeJwtPart(token: string, part: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[part]!, 'base64url').toString('utf8'));
}

/** The first (signing) line of a secret file. */
export async function readSigningSecret(path: string): Promise<string> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '' && !l.startsWith('#'))!;
}

// ---------------------------------------------------------------- the store

/**
 * A fingerprint of what a DIRECTORY store holds: every record and logout
 * marker (name and content hash). Members and temp files are left out: they
 * change with every heartbeat.
 */
export async function storeSnapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) await walk(path, `${rel}/${e.name}`);
      else
        out.set(
          `${rel}/${e.name}`,
          createHash('sha256')
            .update(await readFile(path).catch(() => Buffer.alloc(0)))
            .digest('hex')
            .slice(0, 16),
        );
    }
  };
  await walk(join(root, 'tokens'), 'tokens');
  await walk(join(root, 'subjects'), 'subjects');
  return out;
}

/** What differs between two snapshots, for an assertion message. */
export function snapshotDiff(before: Map<string, string>, after: Map<string, string>): string[] {
  const diff: string[] = [];
  for (const [k, v] of after) if (before.get(k) !== v) diff.push(`${before.has(k) ? 'changed' : 'added'} ${k}`);
  for (const k of before.keys()) if (!after.has(k)) diff.push(`removed ${k}`);
  return diff;
}

// ---------------------------------------------------------------- the process

/** Resident set size of a process in KiB, from /proc/<pid>/status (Linux). */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- the fuzzer

/** mulberry32: small, fast, seeded; a failing run is replayed with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Tokens and names of the cluster under test, mixed into random requests. */
export interface FuzzMaterial {
  /** Valid tokens (some get consumed, revoked or logged out along the way; that is fine). */
  tokens: string[];
  jtis: string[];
  subjects: string[];
  secret: string;
  cookieName: string;
}

/**
 * One request. `kind: 'http'` goes through node:http (well-formed HTTP with
 * hostile content); `kind: 'raw'` is bytes on a socket (malformed HTTP).
 */
export type FuzzRequest =
  | { kind: 'http'; method: string; path: string; headers: Record<string, string>; body?: Buffer; label: string }
  | { kind: 'raw'; bytes: Buffer; label: string };

const METHODS = [
  'GET',
  'POST',
  'DELETE',
  'PUT',
  'PATCH',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PROPFIND',
  'SEARCH',
  'M-SEARCH',
  'PURGE',
  'get',
  'FOO',
  'X',
];
const ENDPOINTS = [
  '/v1/auth',
  '/v1/validate',
  '/v1/tokens',
  '/v1/tokens/consume',
  '/v1/cluster',
  '/healthz',
  '/readyz',
  '/metrics',
  '/v1/subjects/x/tokens',
  '/v1/tokens/s.AAAAAAAAAAAAAAAAAAAAAA',
];
const PATH_GARBAGE = [
  '..',
  '%2e%2e',
  '%2E%2E%2F',
  '..%2f',
  '%252e%252e',
  '%00',
  '%',
  '%%',
  '%G0',
  '%ZZ',
  '%e0%a4%a',
  '%C0%AF',
  '%ff%fe',
  '%F0%9F%98%80',
  '//',
  '///',
  '/./',
  '.',
  '~',
  '*',
  'con',
  'nul',
  '..;',
  ';jsessionid=1',
  '?',
  '#',
  '&',
  '=',
  '+',
  '%20',
  '%0d%0a',
  '\\',
  '%5c',
  'ä',
  'etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  'token_secret',
  'appdata/token_secret',
  '%u0000',
  '${jndi:ldap://127.0.0.1/x}',
  '{{7*7}}',
];
const QUERY_KEYS = ['subject', 'kind', 'limit', 'cursor', '__proto__', 'constructor', 'x', '', 'limit[]', 'subject[0]'];
const QUERY_VALUES = [
  '',
  '0',
  '-1',
  '1',
  '1000',
  '1001',
  '1e400',
  'NaN',
  'session',
  'api',
  'onetime',
  'root',
  '__proto__',
  '%',
  '%00',
  'a'.repeat(200),
  '0:',
  '99999999999999999999:z',
  ':',
  'garbage',
  '1:s.A~YQ',
];
const HEADER_NAMES = [
  'X-Forwarded-For',
  'X-Real-IP',
  'Authorization',
  'Cookie',
  'Content-Type',
  'Accept',
  'Accept-Encoding',
  'Expect',
  'Origin',
  'Range',
  'If-None-Match',
  'X-Http-Method-Override',
  'Forwarded',
  'Upgrade',
  'X-Foo',
  'Content-Encoding',
  'Transfer-Encoding',
];
const IPISH = [
  '127.0.0.1',
  '::1',
  '203.0.113.7',
  '10.0.0.1',
  '::%x',
  'fe80::1%eth0',
  '::ffff:127.0.0.1',
  '::1.2.3.4',
  '1.2.3.4.5',
  '256.1.1.1',
  'unknown',
  '',
  ',',
  ', ,',
  'a'.repeat(300),
  '127.0.0.1, ::%x',
  '0.0.0.0/0',
  '[::1]:80',
  '-1',
];
const CONTENT_TYPES = [
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  '*/*',
  '',
];

export class FuzzGenerator {
  private readonly rnd: () => number;

  constructor(
    readonly seed: number,
    private readonly material: FuzzMaterial,
  ) {
    this.rnd = prng(seed);
  }

  private int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  private chance(p: number): boolean {
    return this.rnd() < p;
  }
  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  private bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  private printable(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(0x21 + this.int(94));
    return s;
  }

  /** A token: valid, tampered, forged with any header, or junk. */
  token(): string {
    const m = this.material;
    const valid = m.tokens.length > 0 ? this.pick(m.tokens) : 'x.y.z';
    const now = Math.floor(Date.now() / 1000);
    switch (this.int(12)) {
      case 0:
      case 1:
      case 2:
        return valid;
      case 3: {
        const i = this.int(valid.length);
        return valid.slice(0, i) + this.printable(1) + valid.slice(i + 1);
      }
      case 4:
        return `${b64url({ alg: this.pick(['none', 'None', 'HS512', 'RS256', 'ES256', '']), typ: 'JWT' })}.${valid.split('.')[1]}.${this.chance(0.5) ? '' : valid.split('.')[2]}`;
      case 5:
        return forgeJwt(
          {
            alg: 'HS256',
            typ: 'JWT',
            kid: this.pick(['../../token_secret', '/etc/passwd', '__proto__', 'constructor', kidOfSecret(m.secret), '', 'x'.repeat(100)]),
          },
          { sub: this.pick(m.subjects), jti: this.pick(m.jtis), iat: now, exp: now + 3600 },
          this.chance(0.5) ? m.secret : randomBytes(32).toString('base64url'),
        );
      case 6:
        return forgeJwt({ alg: 'HS256', typ: 'JWT' }, this.claims(now), m.secret);
      case 7:
        return this.printable(this.int(200));
      case 8:
        return `${b64url(this.printable(this.int(50)))}.${b64url(this.printable(this.int(50)))}.${this.printable(this.int(50))}`;
      case 9:
        return valid + '.'.repeat(this.int(3)) + this.printable(this.int(10));
      case 10:
        return 'A'.repeat(this.pick([4095, 4096, 4097, 8000]));
      default:
        return this.bytes(this.int(80)).toString('latin1');
    }
  }

  /** Claims with the right secret but hostile content: expired, not yet valid, wrong types, prototype names. */
  private claims(now: number): Record<string, unknown> {
    const m = this.material;
    const base: Record<string, unknown> = {
      sub: this.pick([...m.subjects, '', 'x'.repeat(300), '\u0000', '__proto__']),
      jti: this.pick([...m.jtis, 'short', '../../x', 'a'.repeat(100)]),
      iat: now,
    };
    switch (this.int(8)) {
      case 0:
        return { ...base, exp: now - 3600 };
      case 1:
        return { ...base, nbf: now + 3600, exp: now + 7200 };
      case 2:
        return { ...base, exp: '1e400', iat: 'yesterday' };
      case 3:
        return JSON.parse(
          `{"sub":"a","jti":"aaaaaaaaaa","iat":${now},"exp":${now + 99},"${this.pick(['constructor', '__proto__', 'toString', 'valueOf'])}":{"polluted":true}}`,
        );
      case 4:
        return { ...base, knd: this.pick(['root', 'api', 'onetime', 'session', 5, null]) };
      case 5:
        return { ...base, exp: 1e308, ath: -1, cip: this.pick(IPISH) };
      case 6:
        return { ...base, lft: -5, idl: 'x' };
      default:
        return base;
    }
  }

  private path(): string {
    if (this.chance(0.5)) {
      const endpoint = this.pick(ENDPOINTS);
      const m = this.material;
      switch (this.int(6)) {
        case 0:
          return endpoint;
        case 1:
          return `/v1/tokens/${this.pick([...m.jtis, ...PATH_GARBAGE])}`;
        case 2:
          return `/v1/subjects/${encodeURIComponent(this.pick(m.subjects))}${this.pick(['', 'x', '%00', '%ff'])}/tokens`;
        case 3:
          return `/v1/tokens?${this.query()}`;
        case 4:
          return `${endpoint}${this.pick(['/', '//', '/..', '?', '?a=%', '#x', '.json', '%00', ';x'])}`;
        default:
          return `${endpoint}?${this.query()}`;
      }
    }
    const segments = Array.from({ length: 1 + this.int(5) }, () =>
      this.pick(this.chance(0.8) ? PATH_GARBAGE : ['v1', 'tokens', 'subjects', 'auth', 'validate']),
    );
    return `/${segments.join('/')}`.replace(/[\u0000-\u0020\u007f-\uffff]/g, (c) => encodeURIComponent(c));
  }

  private query(): string {
    return Array.from(
      { length: this.int(4) },
      () => `${this.pick(QUERY_KEYS)}=${encodeURIComponent(this.pick(QUERY_VALUES)).replace(/%25/g, this.chance(0.3) ? '%' : '%25')}`,
    ).join('&');
  }

  private cookie(): string {
    const name = this.material.cookieName;
    const parts: string[] = [];
    for (let i = 0, n = 1 + this.int(4); i < n; i++) {
      switch (this.int(6)) {
        case 0:
          parts.push(`${name}=${this.token()}`);
          break;
        case 1:
          parts.push(`${name}="${this.token()}"`);
          break;
        case 2:
          parts.push(`${name.toUpperCase()}=${this.token()}`);
          break;
        case 3:
          parts.push(`${this.printable(5).replace(/[;=]/g, '')}=${this.printable(10).replace(/;/g, '')}`);
          break;
        case 4:
          parts.push(this.pick(['', '=', ';', `${name}`, `${name}=`, ` ${name} = x `, `=${name}`]));
          break;
        default:
          parts.push(`${name}=${this.pick(this.material.tokens.length ? this.material.tokens : ['x'])}`);
      }
    }
    return parts.join(this.pick(['; ', ';', ' ; ', ', ']));
  }

  /** A header value node:http will send: visible ASCII, spaces and tabs, or latin-1 bytes. */
  private headerValue(name: string): string {
    switch (name) {
      case 'Cookie':
        return this.cookie();
      case 'Authorization':
        return `${this.pick(['Bearer ', 'bearer ', 'BEARER  ', 'Basic ', 'Bearer', ''])}${this.token()}`.replace(
          /[^\t\x20-\x7e\x80-\xff]/g,
          '',
        );
      case 'X-Forwarded-For':
      case 'X-Real-IP':
        return Array.from({ length: 1 + this.int(3) }, () => this.pick(IPISH)).join(this.pick([', ', ',', ' ']));
      case 'Content-Type':
        return this.pick(CONTENT_TYPES);
      case 'Expect':
        return this.pick(['100-continue', 'x', '']);
      case 'Transfer-Encoding':
        return 'chunked';
      case 'Content-Encoding':
        return this.pick(['gzip', 'br', 'identity', 'x']);
      default:
        return this.chance(0.2)
          ? this.bytes(this.int(40))
              .toString('latin1')
              .replace(/[^\t\x20-\x7e\x80-\xff]/g, '')
          : this.printable(this.int(100));
    }
  }

  private jsonBody(): string {
    const m = this.material;
    const depth = this.pick([1, 2, 10, 100, 2000]);
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    const values: unknown[] = [
      this.token(),
      this.pick(m.subjects),
      '',
      null,
      true,
      0,
      -1,
      1e308,
      'x'.repeat(this.pick([10, 200, 2000])),
      { a: 1 },
      [1],
      '__proto__',
    ];
    const pickValue = () => (this.chance(0.1) ? nested : JSON.stringify(this.pick(values)));
    const numberish = () =>
      this.pick([
        '1e400',
        '-1e400',
        '-0',
        '0.0001',
        '12345678901234567890',
        '1',
        '60',
        '"45s"',
        '"-1s"',
        '"7d"',
        '"forever"',
        'null',
        '[]',
        '{}',
        '3.5',
      ]);
    const fields: string[] = [];
    const names = ['subject', 'token', 'kind', 'ttl', 'clientIp', 'attributes', '__proto__', 'constructor', 'prototype', 'x'];
    for (let i = 0, n = this.int(6); i < n; i++) {
      const name = this.pick(names);
      let value: string;
      if (name === 'ttl') value = numberish();
      else if (name === 'kind') value = JSON.stringify(this.pick(['session', 'api', 'onetime', 'root', '', 5]));
      else if (name === 'clientIp') value = JSON.stringify(this.pick(IPISH));
      else if (name === 'attributes')
        value = this.pick([
          '{"a":1}',
          '{"__proto__":{"polluted":1}}',
          '{"__proto__":"x"}',
          '{"constructor":{"prototype":{"p":1}}}',
          '{"n":1e400}',
          '[]',
          '"x"',
          `{${Array.from({ length: 40 }, (_, k) => `"k${k}":${k}`).join(',')}}`,
          nested,
        ]);
      else value = pickValue();
      fields.push(`${JSON.stringify(name)}:${value}`);
    }
    return `{${fields.join(',')}}`;
  }

  private body(): Buffer | undefined {
    switch (this.int(10)) {
      case 0:
        return undefined;
      case 1:
        return this.bytes(this.int(300));
      case 2:
        return Buffer.from(this.printable(this.int(300)));
      case 3:
        return Buffer.alloc(this.pick([16 * 1024, 16 * 1024 + 1, 40_000]), 0x20);
      case 4: {
        const json = Buffer.from(this.jsonBody());
        // Invalid UTF-8 somewhere inside the JSON text.
        const i = this.int(json.length);
        return Buffer.concat([json.subarray(0, i), Buffer.from([this.pick([0xff, 0xfe, 0xc0, 0x80, 0xed])]), json.subarray(i)]);
      }
      default:
        return Buffer.from(this.jsonBody());
    }
  }

  /** A request aimed at a real route with its own method, hostile in its content: most of the traffic, so most of it reaches the token code. */
  private routeRequest(): { method: string; path: string; body?: Buffer; headers: Record<string, string> } {
    const m = this.material;
    const headers: Record<string, string> = {};
    const tokenBody = () =>
      Buffer.from(
        this.chance(0.7)
          ? JSON.stringify({ token: this.token(), ...(this.chance(0.3) ? { clientIp: this.pick(IPISH) } : {}) })
          : this.jsonBody(),
      );
    const r = this.rnd();
    if (r < 0.3) {
      if (this.chance(0.7)) headers.Cookie = this.cookie();
      if (this.chance(0.4)) headers.Authorization = this.headerValue('Authorization');
      if (this.chance(0.4)) headers['X-Forwarded-For'] = this.headerValue('X-Forwarded-For');
      if (this.chance(0.1)) headers['X-Real-IP'] = this.headerValue('X-Real-IP');
      return { method: this.pick(['GET', 'GET', 'HEAD']), path: '/v1/auth', headers };
    }
    if (r < 0.55) return { method: 'POST', path: '/v1/validate', body: this.chance(0.9) ? tokenBody() : this.body(), headers };
    if (r < 0.65) return { method: 'POST', path: '/v1/tokens/consume', body: tokenBody(), headers };
    if (r < 0.72)
      return {
        method: 'POST',
        path: '/v1/tokens',
        body: this.chance(0.5) ? Buffer.from(JSON.stringify({ token: this.token() })) : this.body(),
        headers,
      };
    if (r < 0.8)
      return {
        method: 'GET',
        path: this.chance(0.5) ? `/v1/tokens/${encodeURIComponent(this.pick(m.jtis))}` : `/v1/tokens?${this.query()}`,
        headers,
      };
    if (r < 0.83)
      return { method: 'DELETE', path: `/v1/tokens/${this.chance(0.2) ? this.pick(m.jtis) : this.pick(PATH_GARBAGE)}`, headers };
    if (r < 0.85)
      return {
        method: 'DELETE',
        path: `/v1/subjects/${encodeURIComponent(this.pick(m.subjects))}${this.pick(['', '', '%ff', '%00'])}/tokens`,
        headers,
      };
    return { method: 'GET', path: this.pick(['/v1/cluster', '/healthz', '/readyz', '/metrics']), headers };
  }

  private httpRequest(): FuzzRequest {
    let method: string;
    let path: string;
    let body: Buffer | undefined;
    let headers: Record<string, string>;
    if (this.chance(0.65)) {
      ({ method, path, body, headers } = this.routeRequest());
    } else {
      method = this.pick(METHODS);
      path = this.path();
      headers = {};
      body = method === 'GET' || method === 'HEAD' ? (this.chance(0.1) ? this.body() : undefined) : this.body();
      if (this.chance(0.4)) headers.Cookie = this.cookie();
    }
    for (let i = 0, n = this.int(4); i < n; i++) {
      const name = this.pick(HEADER_NAMES);
      if (name === 'Transfer-Encoding') continue; // node:http frames the body itself
      headers[name] = this.headerValue(name);
    }
    if (this.chance(0.03)) headers['X-Big'] = 'z'.repeat(this.pick([8_000, 17_000]));
    // What node:http can send at all: no control characters in header values.
    for (const name of Object.keys(headers)) headers[name] = headers[name]!.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
    return { kind: 'http', method, path, headers, ...(body ? { body } : {}), label: `${method} ${path.split('?')[0]!.slice(0, 40)}` };
  }

  /** Malformed HTTP that node:http would refuse to send. */
  private rawRequest(): FuzzRequest {
    const target = this.pick([
      '/healthz',
      '/v1/auth',
      '/v1/validate',
      '/v1/tokens',
      'http://[/',
      'http://x:99999/',
      'http://x%/',
      'http://',
      '*',
      '//evil/healthz',
      'http://127.0.0.1/v1/auth',
      '/v1/tokens/\xff\xfe',
      '/\x00',
      '/a b',
      '/v1/auth#frag',
      '',
    ]);
    const method = this.pick(['GET', 'POST', 'G\x00ET', 'GET ', '', 'CONNECT', 'PRI', '\xff']);
    const version = this.pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1 x', '']);
    const body = Buffer.from(this.jsonBody());
    const eol = this.pick(['\r\n', '\n', '\r\n', '\r\n']);
    const headerLines: string[] = ['Host: 127.0.0.1', 'Connection: close'];
    switch (this.int(10)) {
      case 0:
        headerLines.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`);
        break;
      case 1:
        headerLines.push('Transfer-Encoding: chunked', `Content-Length: ${body.length}`);
        break;
      case 2:
        headerLines.push('Transfer-Encoding: chunked');
        return {
          kind: 'raw',
          bytes: Buffer.from(
            `POST /v1/validate HTTP/1.1${eol}${headerLines.join(eol)}${eol}${eol}${this.pick(['zz', '-1', '1'.repeat(30), 'ffffffffffffffff'])}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`,
            'latin1',
          ),
          label: 'raw bad chunk',
        };
      case 3:
        headerLines.push(`Content-Length: ${this.pick(['-1', 'abc', '1e3', ' 5', '99999999999999999999', '0x10'])}`);
        break;
      case 4:
        headerLines.push(`X-Fold: a${eol} b`, `Cookie: ${this.material.cookieName}=a`, `Cookie: ${this.material.cookieName}=b`);
        break;
      case 5:
        headerLines.push(`Bad\x00Name: x`, `Cookie: ${this.material.cookieName}=\xff\xfe${this.token()}`);
        break;
      case 6:
        return {
          kind: 'raw',
          bytes: Buffer.from(
            this.pick([
              'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
              '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03',
              'GET /\r\n\r\n',
              '\r\n\r\n\r\n',
              'GET / HTTP/1.1\r\n' + 'X: y\r\n'.repeat(3000) + '\r\n',
            ]),
            'latin1',
          ),
          label: 'raw non-HTTP/1.1',
        };
      case 7:
        headerLines.push(`X-Forwarded-For: ${this.pick(IPISH)}`, `Authorization: Bearer ${this.token()}`);
        break;
      case 8:
        headerLines.push(`Content-Length: ${body.length}`);
        break;
      default:
        headerLines.push(`Content-Length: ${body.length}`, 'Expect: 100-continue');
    }
    const head = `${method} ${target} ${version}`.replace(/ +$/, '');
    return {
      kind: 'raw',
      bytes: Buffer.concat([Buffer.from(`${head}${eol}${headerLines.join(eol)}${eol}${eol}`, 'latin1'), body]),
      label: `raw ${JSON.stringify(method).slice(1, -1)} ${JSON.stringify(target).slice(1, 30)}`,
    };
  }

  next(): FuzzRequest {
    return this.chance(0.12) ? this.rawRequest() : this.httpRequest();
  }
}

/** Outcome of one fuzz request: an HTTP status, `closed` (no answer, connection closed) or `timeout`. */
export type FuzzOutcome = number | 'closed' | 'timeout' | 'client-refused';

const fuzzAgent = new Agent({ keepAlive: true, maxSockets: 64 });

/**
 * One request through node:http to 127.0.0.1:`port`, the target passed as
 * written: never parsed as a URL, so `//x/...` cannot become a host name.
 */
export function httpFuzzRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: LOOPBACK,
        port,
        method,
        path,
        agent: fuzzAgent,
        timeout: timeoutMs,
        headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'FUZZ_TIMEOUT' })));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** Sends one fuzz request to 127.0.0.1:`port`. Timeouts are short: a well-formed request is answered at once. */
export async function sendFuzz(port: number, req: FuzzRequest, timeoutMs = 3000): Promise<{ outcome: FuzzOutcome; body: string }> {
  if (req.kind === 'raw') {
    // Some raw requests are incomplete on purpose (a chunk that never ends): the server rightly waits for the rest.
    const res = await rawRequest(port, req.bytes, Math.min(timeoutMs, 1000));
    return { outcome: res.status || (res.timedOut ? 'timeout' : 'closed'), body: res.body };
  }
  try {
    const res = await httpFuzzRequest(port, req.method, req.path, req.headers, req.body, timeoutMs);
    return { outcome: res.status, body: res.body };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    // node:http refusing to send what we built (an invalid header value) is our side, not the sidecar's.
    if (/^ERR_(INVALID_CHAR|INVALID_HTTP_TOKEN|UNESCAPED_CHARACTERS|HTTP_INVALID_HEADER_VALUE|INVALID_ARG_VALUE)/.test(code))
      return { outcome: 'client-refused', body: String(err) };
    if (code === 'FUZZ_TIMEOUT') return { outcome: 'timeout', body: String(err) };
    return { outcome: 'closed', body: `${code} ${String(err)}` };
  }
}
