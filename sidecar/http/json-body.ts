import type { IncomingMessage } from 'node:http';
import { BadRequestError } from '../errors/bad-request-error.js';

/** Strict: invalid UTF-8 is an error, not replacement characters. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads a JSON body of at most `limit` bytes (`sidecar.max.body`): 413 past it, 400 for malformed JSON or UTF-8. */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(new BadRequestError(`request body larger than ${limit} bytes (sidecar.max.body)`, 'request.too_large', 413));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new BadRequestError(`request body larger than ${limit} bytes (sidecar.max.body)`, 'request.too_large', 413));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (err) => {
      failed = true;
      reject(new BadRequestError(`could not read the request body: ${err.message}`));
    });
    req.on('end', () => {
      if (failed) return;
      let text: string;
      try {
        // Not toString('utf8'): it turns invalid bytes into U+FFFD, so two different subjects would become one.
        text = UTF8.decode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      } catch {
        return reject(new BadRequestError('the body is not valid UTF-8', 'request.malformed_json'));
      }
      if (text.trim() === '') return reject(new BadRequestError('the request needs a JSON body'));
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new BadRequestError('the body is not valid JSON', 'request.malformed_json'));
      }
    });
  });
}
