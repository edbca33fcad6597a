// An Express app protected by tokensync: log in on one node, stay logged in on every node, log out everywhere.
//
// Run one instance per node, each beside its own sidecar (see README.md here):
//   PORT=3001 SIDECAR_URL=http://127.0.0.1:7471 NODE_NAME=node1 node examples/express-app/server.mjs
//
// There are NO passwords here: POST /login logs in whoever is named. A real app checks the user first
// (password, SSO, ...) and then calls login(res, user) exactly as below.
//
// Or with no sidecar at all, tokensync inside the app process against the cluster's store (in-process mode):
//   PORT=3001 TOKENSYNC_CONFIG=/etc/tokensync/tokensync.properties NODE_NAME=node1 node examples/express-app/server.mjs
//
// Environment:
//   PORT (3000), HOST (127.0.0.1; 0.0.0.0 in a container), NODE_NAME (shown on every page),
//   SIDECAR_URL (http://127.0.0.1:7468), TOKENSYNC_ADMIN_TOKEN_FILE (when the sidecar has sidecar.admin.token.file),
//   TOKENSYNC_CONFIG (a tokensync .properties file: validate in this process instead of through SIDECAR_URL),
//   TOKENSYNC_NODE_ID (in-process mode: this app's node.id in the cluster; default the file's node.id + "-app"),
//   COOKIE_NAME (tokensync; the sidecar's authentication.token.cookie),
//   TRUST_PROXY (unset; e.g. "loopback" or "172.16.0.0/12" when a proxy in front sets X-Forwarded-For)
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import express from 'express';
import { TokensyncClientError, login, logout, tokensyncAuth, tokensyncInProcess } from 'tokensync/express';

const env = process.env;
const port = Number(env.PORT ?? 3000);
const host = env.HOST ?? '127.0.0.1';
const nodeName = env.NODE_NAME ?? hostname();
const adminTokenFile = env.TOKENSYNC_ADMIN_TOKEN_FILE;

const app = express();
app.disable('x-powered-by');
// req.ip is the user's address only when Express trusts the proxy that says so; tokens bound to an address use it.
if (env.TRUST_PROXY) app.set('trust proxy', env.TRUST_PROXY);

// In-process mode: the store, the mirror and the token service run here; no sidecar hop per request.
const inProcess = env.TOKENSYNC_CONFIG
  ? await tokensyncInProcess({ config: env.TOKENSYNC_CONFIG, ...(env.TOKENSYNC_NODE_ID && { nodeId: env.TOKENSYNC_NODE_ID }) })
  : undefined;

// App-wide: who is this (req.auth), without refusing anyone. Pages that need a user add `requireAuth`.
const auth = tokensyncAuth({
  ...(inProcess ? { client: inProcess } : { sidecarUrl: env.SIDECAR_URL ?? 'http://127.0.0.1:7468' }),
  // Read per call, so a rotated admin token file is picked up.
  adminToken: adminTokenFile ? () => readFileSync(adminTokenFile, 'utf8').trim() : undefined,
  cookieName: env.COOKIE_NAME ?? inProcess?.cookieName ?? 'tokensync',
  required: false,
});
// Same client: on a request the app-wide middleware already saw, this asks the sidecar nothing more.
const requireAuth = tokensyncAuth({ client: auth.client, cookieName: auth.cookieName });
// Pages: a browser without a valid session goes to the login form instead of a JSON 401.
const requirePage = tokensyncAuth({
  client: auth.client,
  cookieName: auth.cookieName,
  onRefused: (_req, res, refusal) => res.redirect(303, `/?refused=${encodeURIComponent(refusal.reason)}`),
});

app.use(express.urlencoded({ extended: false, limit: '4kb' }));
app.use(express.json({ limit: '4kb' }));

app.get('/healthz', (_req, res) => {
  res.json({ ok: true, node: nodeName });
});

app.use(auth);

app.get('/', (req, res) => {
  const refused =
    typeof req.query.refused === 'string'
      ? `<p class="refused">Please log in (your session was refused: ${escape(req.query.refused)}).</p>`
      : '';
  const body = req.auth
    ? `<p>Signed in as <b>${escape(req.auth.subject)}</b>.</p>
       <p><a href="/private">Private page</a> · <a href="/api/me">/api/me</a></p>
       <form method="post" action="/logout"><button>Log out</button></form>
       <form method="post" action="/logout"><input type="hidden" name="everywhere" value="1"><button>Log out everywhere</button></form>`
    : `${refused}<form method="post" action="/login">
         <label>User name <input name="username" autofocus required maxlength="64"></label>
         <button>Log in</button>
       </form>
       <p><small>Demo: no password is asked; a real app checks one before calling login().</small></p>`;
  res.type('html').send(page('tokensync example', body));
});

app.post('/login', async (req, res, next) => {
  try {
    const username = typeof req.body?.username === 'string' ? req.body.username.trim() : '';
    if (!/^[\x21-\x7e]{1,64}$/.test(username)) {
      return res.status(400).json({ error: 'username', message: 'username: 1 to 64 printable characters without spaces' });
    }
    const issued = await login(res, username);
    if (wantsJson(req)) return res.json({ subject: issued.subject, jti: issued.jti, expiresAt: issued.expiresAt, node: nodeName });
    res.redirect(303, '/private');
  } catch (err) {
    next(err);
  }
});

app.get('/private', requirePage, (req, res) => {
  const viaProxy = req.get('x-auth-subject');
  res.type('html').send(
    page(
      'private',
      `<p>Hello <b>${escape(req.auth.subject)}</b>: this page needs a session.</p>
       <p>Token <code>${escape(req.auth.jti)}</code>, expires ${escape(String(req.auth.expiresAt))}.</p>
       ${viaProxy ? `<p>The proxy's auth_request said: X-Auth-Subject = ${escape(viaProxy)}</p>` : ''}
       <p><a href="/">Home</a></p>`,
    ),
  );
});

app.get('/api/me', requireAuth, (req, res) => {
  res.json({ ...req.auth, node: nodeName, proxySubject: req.get('x-auth-subject') ?? null });
});

app.post('/logout', async (req, res, next) => {
  try {
    const everywhere = req.body?.everywhere === '1' || req.body?.everywhere === true || req.query.everywhere === '1';
    const { revoked } = await logout(req, res, { everywhere });
    if (wantsJson(req)) return res.json({ revoked, node: nodeName });
    res.redirect(303, '/');
  } catch (err) {
    next(err);
  }
});

// The sidecar unreachable (or refusing the app's admin calls), or in-process the store unreachable under the
// `reject` outage policy (a 503 error): not the user's fault, and never a pass.
app.use((err, _req, res, _next) => {
  const unavailable = err instanceof TokensyncClientError || err?.status === 503;
  if (!unavailable || err.status !== 0) console.error(`[${nodeName}]`, err);
  res.status(unavailable ? 503 : 500).json({ error: unavailable ? err.code : 'internal', node: nodeName });
});

const server = app.listen(port, host, () => {
  const a = server.address();
  const via = inProcess ? `in-process, node.id ${inProcess.nodeId}` : `sidecar ${auth.client.url.origin}`;
  console.log(`example app ${nodeName} listening on http://${a.address}:${a.port} (${via})`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close(() => void auth.client.close());
    server.closeIdleConnections();
  });
}

function wantsJson(req) {
  return req.is('application/json') === 'application/json' || req.accepts(['html', 'json']) === 'json';
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><h1>${escape(title)}</h1><p><small>served by ${escape(nodeName)}</small></p>${body}</body></html>`;
}
