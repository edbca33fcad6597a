import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

/**
 * A file name the console may serve: one plain name, no folder. An allow-list by form, so that no request
 * (`..`, `%2e%2e`, `\`, NUL, a symlink name with a slash) can name anything outside the folder.
 */
const FILE_NAME = /^[a-z0-9][a-z0-9-]*\.(html|css|js|svg)$/;

/**
 * The console's headers. No inline script or style (`'self'` only), no framing, no other origin: the page talks
 * to the sidecar that served it and nothing else, and `form-action 'none'` keeps a form that JavaScript did not
 * take over from ever sending the admin token anywhere.
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-cache',
};

/**
 * Serves the files of one folder, read-only: GET and HEAD, plain names only ({@link FILE_NAME}), the
 * {@link CONSOLE_HEADERS} on every answer. `name` is the part of the path after the mount point, still
 * percent-encoded as the client sent it; `''` is `index.html`.
 */
export class StaticFiles {
  constructor(private readonly root: string) {}

  async serve(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return this.send(res, 405, 'text/plain; charset=utf-8', `${req.method ?? ''} is not allowed here (allowed: GET, HEAD)\n`, req, {
        Allow: 'GET, HEAD',
      });
    }
    const file = name === '' ? 'index.html' : name;
    if (!FILE_NAME.test(file)) return this.notFound(req, res);
    let body: Buffer;
    try {
      body = await readFile(join(this.root, file));
    } catch {
      return this.notFound(req, res);
    }
    this.send(res, 200, TYPES[file.slice(file.lastIndexOf('.') + 1)]!, body, req);
  }

  private notFound(req: IncomingMessage, res: ServerResponse): void {
    this.send(res, 404, 'text/plain; charset=utf-8', 'no such file in the console\n', req);
  }

  private send(
    res: ServerResponse,
    status: number,
    type: string,
    body: string | Buffer,
    req: IncomingMessage,
    extra: Record<string, string> = {},
  ): void {
    res.writeHead(status, { ...CONSOLE_HEADERS, ...extra, 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
