/**
 * The ceiling for any Node HTTP sidecar on this machine: a plain `node:http` server answering 200 with an empty
 * body to every request, with the same keep-alive settings as the sidecar. Run as its own process by the bench;
 * prints `{"port":N}` once listening on 127.0.0.1.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  // drain a body, if any, as a real handler would have to
  req.resume();
  res.writeHead(200, { 'Content-Length': '0' }).end();
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
