import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { request as plainRequest, type Api, type HttpResult } from './support/http.js';
import { LOOPBACK, rawHttp, rawRequest as plainRawRequest, readSigningSecret, snapshotDiff, storeSnapshot } from './support/fuzz.js';
import { waitFor, TIME_SCALE } from '../sidecar/util/wait-for.js';

/**
 * Security properties of one sidecar on the DIRECTORY store: what never leaks
 * (the signing secrets, the admin token, the ZooKeeper password, issued
 * tokens), what is refused at start-up (a secret file others can read, a weak
 * or missing admin token file), who may call the admin endpoints, and where
 * the sidecar listens. Only 127.0.0.1 is ever connected to.
 */

let dir: string;
let secrets: string;
let secretPath: string;
let adminPath: string;
let adminToken: string;
let storeRoot: string;
let props: Record<string, string | number | boolean>;
let sidecar: SidecarProcess;
const ZK_PASSWORD = `zk-pw-${randomBytes(12).toString('hex')}`;

/** Every request this file sends and the status it got, for the figures in docs/reliability.md. */
const tally = { requests: 0, cli: 0, statuses: new Map<number, number>() };
function counted<T extends { status: number }>(res: T): T {
  tally.requests++;
  tally.statuses.set(res.status, (tally.statuses.get(res.status) ?? 0) + 1);
  return res;
}
const request: typeof plainRequest = (...args) => plainRequest(...args).then(counted);
const rawRequest: typeof plainRawRequest = (...args) => plainRawRequest(...args).then(counted);
function countedApi(api: Api): Api {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function'
        ? (...args: unknown[]) => (value as (...a: unknown[]) => Promise<HttpResult>).apply(target, args).then(counted)
        : value;
    },
  });
}

before(async () => {
  dir = await tempDir('tokensync-security-');
  secrets = join(dir, 'secrets');
  await mkdir(secrets, { mode: 0o700 });
  secretPath = join(secrets, 'token_secret');
  adminPath = join(secrets, 'admin_token');
  adminToken = randomBytes(24).toString('base64url');
  await writeFile(adminPath, `${adminToken}\n`, { mode: 0o600 });
  storeRoot = join(dir, 'store');
  props = {
    'app.data.dir': join(dir, 'appdata'),
    'cluster.store.directory.path': storeRoot,
    'authentication.token.secret.file': secretPath,
    'sidecar.admin.token.file': adminPath,
    // Not used by a DIRECTORY store, but read, checked and logged with the rest of the configuration.
    'cluster.store.zookeeper.auth': `digest:tokensync:${ZK_PASSWORD}`,
    'log.level': 'debug',
  };
  const gen = await runCli(['secret', 'generate', '--config', await cliProperties()]);
  assert.equal(gen.code, 0, gen.stderr);
  sidecar = await new SidecarProcess({ nodeId: 'secure', dir: join(dir, 'node'), props, adminToken }).start();
  sidecar.api = countedApi(sidecar.api);
});

after(async () => {
  await sidecar?.stop();
  const statuses = [...tally.statuses]
    .sort(([a], [b]) => a - b)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
  console.log(`security: ${tally.requests} requests; statuses ${statuses}`);
});

async function cliProperties(extra: Record<string, string | number | boolean> = {}): Promise<string> {
  return writeProperties(join(dir, 'cli.properties'), { ...props, 'app.data.dir': join(dir, 'appdata-cli'), ...extra });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function assertAdminRefused(res: HttpResult, what: string): void {
  assert.equal(res.status, 401, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
  assert.equal(res.body.error, 'admin.unauthorized', what);
  assert.match(String(res.headers['www-authenticate']), /^Bearer realm="tokensync-admin"/, what);
}

// ---------------------------------------------------------------- admin endpoints

test('admin endpoints need the admin token: 401 without it, 401 with a wrong one, 2xx with the right one', async () => {
  const before = await storeSnapshot(storeRoot);
  const issued = await sidecar.api.issue({ subject: 'admin-test' });
  assert.equal(issued.status, 201);
  const jti = issued.body.jti as string;
  const own = `${issued.body.token}`; // a token mirrored back is refused as already there (200) or accepted (201)
  const endpoints: Array<[string, string, unknown, number[]]> = [
    ['POST', '/v1/tokens', { subject: 'admin-test-2' }, [201]],
    ['POST', '/v1/tokens', { token: own }, [200, 201]],
    ['GET', '/v1/tokens', undefined, [200]],
    ['GET', '/v1/tokens?subject=admin-test&limit=5', undefined, [200]],
    ['GET', `/v1/tokens/${jti}`, undefined, [200]],
    ['GET', '/v1/cluster', undefined, [200]],
    ['DELETE', '/v1/subjects/admin-test-2/tokens', undefined, [200]],
    ['DELETE', `/v1/tokens/${jti}`, undefined, [204]],
  ];
  const wrong = [
    ['no Authorization', {}],
    ['a wrong token', bearer(randomBytes(24).toString('base64url'))],
    ['the right token with one character changed', bearer(`${adminToken.slice(0, -1)}${adminToken.endsWith('A') ? 'B' : 'A'}`)],
    ['a prefix of the right token', bearer(adminToken.slice(0, -1))],
    ['the right token plus a character', bearer(`${adminToken}x`)],
    ['the right token under Basic', { authorization: `Basic ${adminToken}` }],
    [
      'the right token base64-encoded as Basic credentials',
      { authorization: `Basic ${Buffer.from(`admin:${adminToken}`).toString('base64')}` },
    ],
    ['the right token without a scheme', { authorization: adminToken }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['the right token as a cookie', { cookie: `tokensync=${adminToken}` }],
    ['the right token in X-Admin-Token', { 'x-admin-token': adminToken }],
    ['the signing secret as the admin token', bearer(await readSigningSecret(secretPath))],
  ] as Array<[string, Record<string, string>]>;
  for (const [method, path, body] of endpoints) {
    for (const [what, headers] of wrong) {
      const res = await request(sidecar.url, method, path, { ...(body === undefined ? {} : { body }), headers });
      assertAdminRefused(res, `${method} ${path} with ${what}`);
    }
  }
  // Refused requests changed nothing: only the issue above, by the test itself with the token, did.
  const afterRefusals = await storeSnapshot(storeRoot);
  assert.deepEqual(snapshotDiff(before, afterRefusals).length, 1, 'only the one issued record');
  // Unauthenticated callers cannot even probe input validation.
  assertAdminRefused(
    await request(sidecar.url, 'POST', '/v1/tokens', { rawBody: '{"subject":', headers: { 'content-type': 'application/json' } }),
    'malformed body, no token',
  );
  assertAdminRefused(await request(sidecar.url, 'GET', '/v1/tokens?limit=0'), 'bad limit, no token');
  assertAdminRefused(await request(sidecar.url, 'GET', '/v1/tokens/..%2F..%2Fetc'), 'bad jti, no token');

  for (const [method, path, body, ok] of endpoints) {
    for (const headers of [bearer(adminToken), { authorization: `bearer ${adminToken}` }, { authorization: `BEARER   ${adminToken}  ` }]) {
      const res = await request(sidecar.url, method, path, { ...(body === undefined ? {} : { body }), headers });
      if (method === 'DELETE' && res.status === 404) continue; // already revoked with the previous spelling
      assert.ok(
        ok.includes(res.status),
        `${method} ${path} with ${headers.authorization.slice(0, 7)}: ${res.status} ${res.text.slice(0, 200)}`,
      );
    }
  }
});

test('validate, auth, consume, healthz, readyz and metrics stay open when an admin token is configured', async () => {
  const session = await sidecar.api.issue({ subject: 'open' });
  const once = await sidecar.api.issue({ subject: 'open', kind: 'onetime' });
  assert.equal((await request(sidecar.url, 'POST', '/v1/validate', { body: { token: session.body.token } })).status, 200);
  assert.equal((await request(sidecar.url, 'GET', '/v1/auth', { headers: { cookie: `tokensync=${session.body.token}` } })).status, 200);
  assert.equal((await request(sidecar.url, 'POST', '/v1/tokens/consume', { body: { token: once.body.token } })).status, 200);
  // A one-time token at forward-auth: consumed there without the admin token, one request through.
  const link = await sidecar.api.issue({ subject: 'open', kind: 'onetime' });
  const statuses = [];
  for (let i = 0; i < 3; i++)
    statuses.push((await request(sidecar.url, 'GET', '/v1/auth', { headers: { cookie: `tokensync=${link.body.token}` } })).status);
  assert.deepEqual(statuses, [200, 401, 401]);
  for (const path of ['/healthz', '/readyz', '/metrics']) assert.equal((await request(sidecar.url, 'GET', path)).status, 200, path);
  // And they do not become admin endpoints by carrying a wrong admin token.
  assert.equal(
    (await request(sidecar.url, 'POST', '/v1/validate', { body: { token: session.body.token }, headers: bearer('wrong') })).status,
    200,
  );
});

test('the admin check cannot be sidestepped by path tricks, methods or a second Authorization header', async () => {
  const before = await storeSnapshot(storeRoot);
  const paths: Array<[string, string]> = [
    ['GET', '/v1/tokens/'],
    ['GET', '/v1/./tokens'],
    ['GET', '/v1/x/../tokens'],
    ['GET', '/v1/tokens?'],
    ['GET', '/v1/tokens;x'],
    ['GET', '/v1/%74okens'],
    ['GET', '/V1/TOKENS'],
    ['GET', '/v1/tokens%2F'],
    ['HEAD', '/v1/tokens'],
    ['HEAD', '/v1/cluster'],
    ['OPTIONS', '/v1/tokens'],
    ['POST', '/v1/tokens/'],
    ['POST', '/v1/tokens?kind=api'],
    ['DELETE', '/v1/subjects/open/tokens/'],
    ['DELETE', '/v1/subjects//tokens'],
    ['GET', '/v1/tokens/%2e%2e'],
  ];
  for (const [method, path] of paths) {
    const res = await rawRequest(
      sidecar.port,
      rawHttp(
        method,
        path,
        [
          ['Content-Type', 'application/json'],
          ['X-HTTP-Method-Override', 'GET'],
        ],
        method === 'POST' || method === 'DELETE' ? '{"subject":"sneaky"}' : undefined,
      ),
    );
    assert.ok([401, 404, 405].includes(res.status), `${method} ${path} -> ${res.head.split('\r\n')[0]}`);
  }
  // Two Authorization headers, the wrong one first: node keeps the first, and it is wrong.
  const two = await rawRequest(
    sidecar.port,
    rawHttp('GET', '/v1/cluster', [
      ['Authorization', 'Bearer wrong'],
      ['Authorization', `Bearer ${adminToken}`],
    ]),
  );
  assert.equal(two.status, 401, two.head);
  assert.deepEqual(snapshotDiff(before, await storeSnapshot(storeRoot)), []);
});

// ---------------------------------------------------------------- what never leaks

test('the secrets, the admin token, the ZooKeeper password and issued tokens never appear in logs, answers, metrics, /v1/cluster, CLI output or the store', async () => {
  const answers: string[] = [];
  const keep = (res: HttpResult) => {
    answers.push(`${JSON.stringify(res.headers)}\n${res.text}`);
    return res;
  };
  const api = sidecar.api;
  // Every endpoint, succeeding and failing.
  const tokens: string[] = [];
  for (const body of [
    { subject: 'leak' },
    { subject: 'leak', kind: 'api', attributes: { role: 'x' } },
    { subject: 'leak', kind: 'onetime' },
    { subject: 'leak', clientIp: '203.0.113.7', ttl: '1h' },
  ]) {
    const res = await api.issue(body);
    assert.equal(res.status, 201);
    tokens.push(res.body.token);
  }
  for (const t of tokens) {
    keep(await api.validate(t));
    keep(await api.validate(`${t}x`));
    keep(await api.validate(t, '198.51.100.1'));
    keep(await api.auth({ cookie: `tokensync=${t}` }));
    keep(await api.auth({ cookie: `tokensync=${t}; tokensync=${t}x` }));
    keep(await api.auth(bearer(t)));
    keep(await api.consume(t));
  }
  keep(await api.list('?subject=leak'));
  keep(await api.list('?cursor=garbage'));
  keep(await api.inspect('s.AAAAAAAAAAAAAAAAAAAAAA'));
  keep(await api.revoke('not a jti'));
  keep(await api.logout('leak'));
  keep(await api.cluster());
  keep(await api.get('/healthz'));
  keep(await api.get('/readyz'));
  keep(
    await request(sidecar.url, 'POST', '/v1/tokens', {
      rawBody: '{"subject":',
      headers: { ...bearer(adminToken), 'content-type': 'application/json' },
    }),
  );
  keep(await request(sidecar.url, 'POST', '/v1/tokens', { body: { token: 'a.b.c' }, headers: bearer(adminToken) }));
  keep(await request(sidecar.url, 'GET', '/v1/cluster', { headers: bearer('wrong') }));
  keep(await request(sidecar.url, 'PUT', '/v1/tokens'));
  keep(await request(sidecar.url, 'GET', '/nope'));
  keep(await request(sidecar.url, 'GET', '/healthz', { headers: { 'x-big': 'z'.repeat(20_000) } }));

  // Rotate the secret (the sidecar reloads it), reload on SIGHUP, and refuse a bad reload: each logs kids, never secrets.
  const firstSecret = await readSigningSecret(secretPath);
  const rotated = await runCli(['secret', 'rotate', '--config', await cliProperties(), '--json']);
  assert.equal(rotated.code, 0, rotated.stderr);
  answers.push(rotated.stdout, rotated.stderr);
  await waitFor(() => /signing keys reloaded/.test(sidecar.logs), 'the rotated secret file to be reloaded', 10_000, 50);
  const secondSecret = await readSigningSecret(secretPath);
  assert.notEqual(secondSecret, firstSecret);
  const afterRotation = await api.issue({ subject: 'leak-rotated' });
  tokens.push(afterRotation.body.token);
  keep(await api.validate(afterRotation.body.token));
  process.kill(sidecar.pid!, 'SIGHUP');
  const good = await readFile(secretPath, 'utf8');
  const weakLine = `weak-${randomBytes(6).toString('hex')}`;
  await writeFile(secretPath, `${weakLine}\n${good}`, { mode: 0o600 });
  await waitFor(() => /secret file reload refused/.test(sidecar.logs), 'a weak secret file to be refused on reload', 10_000, 50);
  await writeFile(secretPath, good, { mode: 0o600 });
  assert.equal((await api.validate(afterRotation.body.token)).status, 200, 'the previous keys stayed in use');

  // The CLI on the same store and secret.
  const config = await cliProperties();
  for (const args of [
    ['verify', tokens[0]!, '--json'],
    ['verify', `${tokens[0]}x`],
    ['tokens', 'list', '--json'],
    ['tokens', 'list'],
    ['store', 'stats', '--json'],
    ['cluster', 'status', '--json'],
    ['config', 'check', '--json'],
    ['config', 'check'],
  ]) {
    const out = await runCli([...args, '--config', config]);
    answers.push(out.stdout, out.stderr);
  }
  const metrics = (await api.get('/metrics')).text;
  const cluster = (await api.cluster()).text;
  const stored = await readTree(storeRoot);
  const appData = await readTree(join(dir, 'appdata'));

  const secretsToHide: Array<[string, string]> = [
    ['the first signing secret', firstSecret],
    ['the rotated signing secret', secondSecret],
    ['the admin token', adminToken],
    ['the ZooKeeper password', ZK_PASSWORD],
  ];
  const places: Array<[string, string]> = [
    ['the sidecar log', sidecar.logs],
    ['the HTTP answers and CLI output', answers.join('\n')],
    ['/metrics', metrics],
    ['/v1/cluster', cluster],
    ['the store', stored],
    ['<AppData>', appData],
  ];
  for (const [what, value] of secretsToHide) {
    for (const [where, text] of places) assert.ok(!text.includes(value), `${what} appears in ${where}`);
  }
  assert.ok(!sidecar.logs.includes(weakLine), 'a refused secret line is not echoed');
  // Tokens are answers to the caller, never logged or stored: the store holds records, not tokens.
  for (const t of tokens) {
    const signature = t.split('.')[2]!;
    for (const [where, text] of places.filter(([w]) => w !== 'the HTTP answers and CLI output'))
      assert.ok(!text.includes(signature), `a token appears in ${where}`);
  }
  assert.match(sidecar.logs, /signing keys reloaded/, 'the log the check above looked at is the whole story');
  assert.match(sidecar.logs, /"password":"\*\*\*"/, 'the ZooKeeper password is shown masked');
});

/** Every file under `root` as one string (names and contents). */
async function readTree(root: string): Promise<string> {
  const parts: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else parts.push(p, await readFile(p, 'utf8').catch(() => ''));
    }
  };
  await walk(root);
  assert.ok(parts.length > 0, `${root} holds files`);
  return parts.join('\n');
}

// ---------------------------------------------------------------- start-up refusals

/**
 * Runs `tokensync sidecar` and expects it to refuse to start: exit code 2 and
 * one `tokensync:` line. Should it start after all, it is killed after 20 s
 * (scaled) rather than left to run, and the test fails.
 */
async function refusedToStart(config: string, expected: RegExp): Promise<string> {
  const proc = spawn(process.execPath, [BIN, 'sidecar', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stderr += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000 * TIME_SCALE);
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  clearTimeout(timer);
  assert.equal(code, 2, `exit code ${code}\n${stderr.slice(-1500)}`);
  assert.doesNotMatch(stderr, /tokensync ready/);
  const lines = stderr.split('\n').filter((l) => l.startsWith('tokensync:'));
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, expected);
  return lines[0]!;
}

test('a secret file that group or others can read is refused at start-up: one clear line, exit code 2', async () => {
  const loose = join(dir, 'loose');
  await mkdir(loose, { mode: 0o700 });
  const path = join(loose, 'token_secret');
  const secret = randomBytes(48).toString('base64url');
  const config = await writeProperties(join(loose, 'loose.properties'), {
    'node.id': 'loose',
    'sidecar.listen': `${LOOPBACK}:0`,
    'app.data.dir': join(loose, 'appdata'),
    'authentication.token.secret.file': path,
  });
  for (const mode of [0o644, 0o640, 0o604, 0o660, 0o606, 0o666]) {
    await writeFile(path, `${secret}\n`);
    await chmod(path, mode);
    const line = await refusedToStart(
      config,
      new RegExp(
        `^tokensync: ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: mode ${mode.toString(8)} lets other users read the signing secret; run: chmod 600 `,
      ),
    );
    assert.ok(!line.includes(secret));
    assert.equal((await stat(path)).mode & 0o777, mode, 'the file is left as it was, not silently chmod-ed');
  }
  // The CLI commands that read the secret refuse it the same way.
  await chmod(path, 0o644);
  for (const args of [
    ['verify', 'a.b.c'],
    ['secret', 'rotate'],
  ]) {
    const out = await runCli([...args, '--config', config]);
    assert.equal(out.code, 2, `${args.join(' ')}: ${out.code} ${out.stderr}`);
    assert.match(out.stderr, /lets other users read the signing secret/);
  }
  // A weak line is refused without echoing it.
  const weak = `weak-${randomBytes(4).toString('hex')}`;
  await writeFile(path, `${weak}\n${secret}\n`);
  await chmod(path, 0o600);
  const line = await refusedToStart(config, /line 1 is too weak/);
  assert.ok(!line.includes(weak) && !line.includes(secret), line);
});

test('a weak or unreadable admin token file stops start-up: one line naming it, exit code 2', async () => {
  const base = join(dir, 'admin-refused');
  await mkdir(base, { mode: 0o700 });
  const weakPath = join(base, 'admin_weak');
  await writeFile(weakPath, 'short\n', { mode: 0o600 });
  const common = {
    'node.id': 'admin-refused',
    'sidecar.listen': `${LOOPBACK}:0`,
    'app.data.dir': join(base, 'appdata'),
    'authentication.token.secret.file': secretPath,
  };
  const weak = await writeProperties(join(base, 'weak.properties'), { ...common, 'sidecar.admin.token.file': weakPath });
  const weakLine = await refusedToStart(weak, /admin token must be at least 16 characters/);
  assert.ok(!weakLine.includes('short'), weakLine);
  const missing = await writeProperties(join(base, 'missing.properties'), { ...common, 'sidecar.admin.token.file': join(base, 'nope') });
  await refusedToStart(missing, /nope.*sidecar\.admin\.token\.file/);
});

// ---------------------------------------------------------------- where it listens

/** Addresses `pid` listens on, from /proc/net/tcp{,6} and its open sockets (Linux). */
async function listeningAddresses(pid: number): Promise<string[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]!);
  }
  const out: string[] = [];
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const row of text.split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9]!)) continue; // 0A = LISTEN
      const [hex, port] = f[1]!.split(':');
      out.push(`${v6 ? ipv6FromProc(hex!) : ipv4FromProc(hex!)}:${parseInt(port!, 16)}`);
    }
  }
  return out;
}

function ipv4FromProc(hex: string): string {
  return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
}

function ipv6FromProc(hex: string): string {
  const words: string[] = [];
  for (let w = 0; w < 4; w++) {
    const le = hex.slice(w * 8, w * 8 + 8);
    const be = le.match(/../g)!.reverse().join('');
    words.push(be.slice(0, 4), be.slice(4));
  }
  return words.map((x) => parseInt(x, 16).toString(16)).join(':');
}

test('the sidecar listens on loopback by default, and warns when told to listen beyond it', async () => {
  // The default, without starting anything on the default port (another sidecar may be using it).
  const bare = await writeProperties(join(dir, 'bare.properties'), { 'node.id': 'bare' });
  const check = await runCli(['config', 'check', '--json', '--config', bare]);
  assert.equal(check.code, 0, check.stderr);
  assert.deepEqual(JSON.parse(check.stdout).options.sidecar.listen, { host: '127.0.0.1', port: 7468 });

  // Loopback: bound to 127.0.0.1 only, no warning.
  assert.deepEqual(await listeningAddresses(sidecar.pid!), [`127.0.0.1:${sidecar.port}`]);
  assert.doesNotMatch(sidecar.logs, /listens beyond loopback/);

  // Every interface (0.0.0.0): allowed, with a warning naming the address. Only 127.0.0.1 is connected to.
  const wide = join(dir, 'wide');
  await mkdir(wide, { mode: 0o700 });
  const config = await writeProperties(join(wide, 'wide.properties'), {
    'node.id': 'wide',
    'sidecar.listen': '0.0.0.0:0',
    'app.data.dir': join(wide, 'appdata'),
    'authentication.token.secret.file': secretPath,
  });
  const { proc, output, exited } = spawnSidecar(config);
  try {
    await waitFor(() => /tokensync ready/.test(output()) || proc.exitCode !== null, 'the 0.0.0.0 sidecar to be ready', 30_000, 50);
    const log = output();
    const port = Number(/"listen":"0\.0\.0\.0:(\d+)"/.exec(log)?.[1]);
    assert.ok(port > 0, log.slice(-2000));
    const warning = log.split('\n').find((l) => /listens beyond loopback/.test(l));
    assert.ok(warning, `no warning in:\n${log.slice(-2000)}`);
    const entry = JSON.parse(warning!);
    assert.equal(entry.level, 'warn');
    assert.equal(entry.host, '0.0.0.0');
    assert.match(entry.message, /sidecar\.admin\.token\.file/);
    assert.deepEqual(await listeningAddresses(proc.pid!), [`0.0.0.0:${port}`]);
    assert.equal((await request(`http://${LOOPBACK}:${port}`, 'GET', '/healthz')).status, 200);
  } finally {
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
  // With an admin token the admin endpoints are protected: said at info, not warned about as if they were open.
  const adminFile = join(wide, 'admin_token');
  await writeFile(adminFile, 'an-admin-token-long-enough-to-pass-the-strength-check-0123456789', { mode: 0o600 });
  await writeFile(config, `sidecar.admin.token.file=${adminFile}\n`, { flag: 'a' });
  const { proc: guarded, output: guardedOutput, exited: guardedExit } = spawnSidecar(config);
  try {
    await waitFor(
      () => /tokensync ready/.test(guardedOutput()) || guarded.exitCode !== null,
      'the guarded 0.0.0.0 sidecar to be ready',
      30_000,
      50,
    );
    const guardedLog = guardedOutput();
    const line = guardedLog.split('\n').find((l) => /listens beyond loopback/.test(l));
    assert.ok(line, `no line in:\n${guardedLog.slice(-2000)}`);
    assert.equal(JSON.parse(line!).level, 'info');
    assert.doesNotMatch(line!, /protect the admin endpoints/);
  } finally {
    guarded.kill('SIGTERM');
    assert.equal(await guardedExit, 0);
  }
});

/** A sidecar process on a properties file, its stdout and stderr collected. */
function spawnSidecar(config: string): { proc: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [BIN, 'sidecar', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, output: () => log, exited };
}

test('a secret the sidecar creates for itself is mode 0600 in a folder only its owner can enter', async () => {
  const fresh = join(dir, 'fresh');
  const node = await new SidecarProcess({ nodeId: 'fresh', dir: join(dir, 'fresh-conf'), props: { 'app.data.dir': fresh } }).start();
  try {
    assert.match(node.logs, /created a new signing secret; copy this file to every node/);
    assert.equal((await stat(join(fresh, 'token_secret'))).mode & 0o777, 0o600);
    assert.equal((await stat(fresh)).mode & 0o077, 0, '<AppData> is not open to group or others');
    const secret = await readSigningSecret(join(fresh, 'token_secret'));
    assert.ok(!node.logs.includes(secret));
  } finally {
    await node.stop();
  }
});
