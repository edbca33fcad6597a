import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokensyncError } from '../errors/tokensync-error.js';
import { readJsonBody } from './json-body.js';

/** Bodies sent over a real loopback connection to a server that answers what readJsonBody made of them. */

const LIMIT = 64;
let server: Server;
let port: number;

before(async () => {
  server = createServer((req, res) => {
    readJsonBody(req, LIMIT).then(
      (value) => res.end(JSON.stringify({ value })),
      (err: unknown) => {
        const e = err as TokensyncError;
        res.writeHead(e.status).end(JSON.stringify({ status: e.status, code: e.code, message: e.message }));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function post(body: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { connection: 'close', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a JSON body within the limit is parsed, in one chunk or several', async () => {
  assert.deepEqual((await post('{"subject":"alice"}')).body, { value: { subject: 'alice' } });
  assert.deepEqual((await post('[1,2,3]', { 'transfer-encoding': 'chunked' })).body, { value: [1, 2, 3] });
});

test('past the limit: 413, whether declared in Content-Length or only seen while reading', async () => {
  const big = JSON.stringify({ s: 'x'.repeat(LIMIT) });
  const declared = await post(big);
  assert.equal(declared.status, 413);
  assert.equal(declared.body.code, 'request.too_large');
  assert.match(String(declared.body.message), /sidecar\.max\.body/);
  const streamed = await post(big, { 'transfer-encoding': 'chunked' });
  assert.equal(streamed.status, 413);
});

test('invalid UTF-8, malformed JSON and an empty body are 400s that say which', async () => {
  const latin1 = await post(Buffer.from([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d])); // {"s":"\xe9"}
  assert.deepEqual([latin1.status, latin1.body.code, latin1.body.message], [400, 'request.malformed_json', 'the body is not valid UTF-8']);
  const malformed = await post('{"s":');
  assert.deepEqual([malformed.status, malformed.body.message], [400, 'the body is not valid JSON']);
  const empty = await post('  ');
  assert.deepEqual([empty.status, empty.body.message], [400, 'the request needs a JSON body']);
});
