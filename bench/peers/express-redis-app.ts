/**
 * What a user would pick instead of tokensync: an Express 5 app with express-session and connect-redis, each
 * request checking its session in a real Redis server. Run as its own process by the bench:
 *
 *   node dist/bench/peers/express-redis-app.js redis://127.0.0.1:PORT
 *
 * prints `{"port":N}` once listening on 127.0.0.1. `POST /login?user=NAME` creates a session (Set-Cookie);
 * `GET /auth` answers 200 with X-Auth-Subject for a live session, 401 otherwise, like tokensync's forward-auth.
 *
 * The session options are the ones the express-session README recommends (resave false, saveUninitialized
 * false); connect-redis keeps its default `touch`, so a request with a live session costs a GET and an EXPIRE.
 */
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import type { AddressInfo } from 'node:net';

declare module 'express-session' {
  interface SessionData {
    user?: string;
  }
}

const url = process.argv[2] ?? 'redis://127.0.0.1:6379';
const client = createClient({ url });
client.on('error', (err: unknown) => process.stderr.write(`redis client: ${String(err)}\n`));
await client.connect();

const app = express();
app.disable('x-powered-by');
app.use(
  session({
    store: new RedisStore({ client, prefix: 'sess:' }),
    secret: 'bench-only-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    resave: false,
    saveUninitialized: false,
    name: 'connect.sid',
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 7 * 24 * 3600 * 1000 },
  }),
);
app.post('/login', (req, res) => {
  req.session.user = String(req.query.user ?? 'someone');
  res.status(200).end();
});
app.get('/auth', (req, res) => {
  const user = req.session.user;
  if (!user) return void res.status(401).set('Cache-Control', 'no-store').end();
  res.status(200).set({ 'Cache-Control': 'no-store', 'X-Auth-Subject': user }).end();
});

const server = app.listen(0, '127.0.0.1', () => {
  server.keepAliveTimeout = 65_000;
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => void client.quit().finally(() => process.exit(0)));
});
