import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess, writeProperties } from './support/sidecar-process.js';
import { request } from './support/http.js';
import { waitFor, TIME_SCALE } from '../sidecar/util/wait-for.js';

/**
 * The package as users get it: `npm pack` (prepack builds), then a real `npm install` of the tarball into a fresh
 * project (registry reachable, npm's own cache), run from there. Once with the install scripts approved in
 * `allowScripts` (the binding is built and patched: CLI, a sidecar on each store, the client and the middleware),
 * once with them denied (the install succeeds, DIRECTORY works, ZOOKEEPER stops with one line and exit 2, and the
 * command that line names fixes it).
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ALL_PATCHES = 'fd,addwatch,resolve,send,poll,multi';
let work: string;
let tarball: string;
let zk: ZooKeeperCluster | undefined;
const sidecars: SidecarProcess[] = [];

/** npm as a user runs it: none of the npm_* settings of an `npm test` that may be running this file. */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
}

function run(file: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, env: userEnv(), encoding: 'utf8', timeout: timeoutMs * TIME_SCALE, maxBuffer: 32 << 20 },
      (error, out, err) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out, err });
      },
    );
  });
}

/** A fresh project that depends on the tarball, with `allowScripts` for it and for zookeeper set to `allow`. */
async function install(name: string, allow: boolean): Promise<{ dir: string; seconds: number }> {
  const dir = join(work, name);
  mkdirSync(dir);
  // a tarball's identity for allowScripts is its file: spec; from the registry it is the name ("tokensync": true)
  const manifest = {
    name,
    version: '1.0.0',
    private: true,
    type: 'module',
    allowScripts: { [`file:${tarball}`]: allow, zookeeper: allow },
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  const started = Date.now();
  const result = await run('npm', ['install', tarball, 'express@5', '--no-audit', '--no-fund'], dir, 300_000);
  assert.equal(result.code, 0, `npm install (${name}):\n${result.out}\n${result.err}`);
  assert.doesNotMatch(result.err, /not yet covered by allowScripts/, 'every install script is reviewed');
  return { dir, seconds: (Date.now() - started) / 1000 };
}

const tokensync = (dir: string, args: string[]) => run(join(dir, 'node_modules', '.bin', 'tokensync'), args, dir);

async function sidecar(dir: string, nodeId: string, props: Record<string, string | number>): Promise<SidecarProcess> {
  const sc = new SidecarProcess({
    nodeId,
    dir: join(dir, nodeId),
    bin: join(dir, 'node_modules', 'tokensync', 'bin', 'tokensync.js'),
    props: { 'app.data.dir': join(dir, nodeId, 'data'), ...props },
  });
  sidecars.push(sc);
  return sc.start();
}

/** Issues over HTTP and validates the token: the sidecar works end to end. */
async function issueAndValidate(sc: SidecarProcess, subject: string): Promise<void> {
  const issued = await request(sc.url, 'POST', '/v1/tokens', { body: { subject } });
  assert.equal(issued.status, 201, issued.text);
  const valid = await request(sc.url, 'POST', '/v1/validate', { body: { token: issued.body.token } });
  assert.equal(valid.status, 200, valid.text);
  assert.equal(valid.body.subject, subject);
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tokensync-package-'));
  const started = Date.now();
  const packed = await run('npm', ['pack', '--pack-destination', work, '--json'], ROOT, 300_000);
  assert.equal(packed.code, 0, packed.err);
  const [info] = JSON.parse(packed.out.slice(packed.out.indexOf('['))) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string }[];
  }[];
  tarball = join(work, info!.filename);
  console.log(
    `npm pack: ${info!.files.length} files, ${(info!.size / 1024).toFixed(0)} kB packed, ${(info!.unpackedSize / 1024).toFixed(0)} kB unpacked, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
});

after(async () => {
  await Promise.all(sidecars.map((sc) => sc.stop()));
  await zk?.[Symbol.asyncDispose]();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the tarball: every entry point compiled with its typings, the bin, patches and licence; no tests, bench or fixtures', () => {
  const list = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.replace(/^package\//, ''));
  for (const file of [
    'bin/tokensync.js',
    'LICENSE',
    'README.md',
    'package.json',
    'dist/sidecar/index.js',
    'dist/sidecar/index.d.ts',
    'dist/cli/index.js',
    'dist/client/index.js',
    'dist/client/index.d.ts',
    'dist/express/index.js',
    'dist/express/index.d.ts',
    'dist/integration-tests/zookeeper/index.js',
    'dist/integration-tests/zookeeper/index.d.ts',
    'scripts/patch-zookeeper-binding.mjs',
    'scripts/unified-diff.mjs',
    'patches/zookeeper/01-fd.patch',
    'dist/sidecar/console/ui/index.html',
    'dist/sidecar/console/ui/console.css',
    'dist/sidecar/console/ui/main.js',
  ])
    assert.ok(list.includes(file), `${file} is in the tarball`);
  const unwanted = list.filter((file) =>
    /\.test\.|\.map$|^dist\/bench\/|^bench\/|fixtures|\.ts$(?<!\.d\.ts)|^dist\/integration-tests\/(?!zookeeper\/(index|local-zookeeper|zookeeper-container|provider-choice)\.)/.test(
      file,
    ),
  );
  assert.deepEqual(unwanted, []);
});

test('installed with its install scripts approved: CLI, DIRECTORY and ZooKeeper sidecars, client and middleware', async () => {
  const { dir, seconds } = await install('approved', true);
  console.log(`npm install, scripts approved (zookeeper built, then patched and rebuilt): ${seconds.toFixed(1)} s`);

  const version = await tokensync(dir, ['--version']);
  assert.equal(version.code, 0, version.err);
  assert.equal(version.out.trim(), `tokensync 0.1.0 (zookeeper binding 7.3.0, patched: ${ALL_PATCHES})`);
  const npx = await run('npx', ['--no-install', 'tokensync', '--version'], dir);
  assert.equal(npx.out, version.out);

  const directory = await sidecar(dir, 'dir-a', { 'cluster.store.type': 'DIRECTORY' });
  await issueAndValidate(directory, 'alice');
  // the console's files come with the package
  const page = await request(directory.url, 'GET', '/console/');
  assert.equal(page.status, 200);
  assert.match(page.text, /<script type="module" src="main.js">/);
  assert.equal((await request(directory.url, 'GET', '/console/main.js')).status, 200);

  // local processes: a container provider would pull an image from outside this machine
  zk = await startZooKeeper({ servers: 1, provider: 'local' });
  // a ZOOKEEPER member never makes its own secret: made once with the installed CLI, as the README says
  const secretFile = join(dir, 'token_secret');
  const zkProps = {
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': `${zk.connectString}/tokensync-package`,
    'cluster.store.zookeeper.shards': 16,
    'authentication.token.secret.file': secretFile,
  };
  const generated = await tokensync(dir, [
    'secret',
    'generate',
    '--config',
    await writeProperties(join(dir, 'secret.properties'), { 'authentication.token.secret.file': secretFile }),
  ]);
  assert.equal(generated.code, 0, generated.err);
  const onZk = await sidecar(dir, 'zk-a', zkProps);
  await issueAndValidate(onZk, 'bob');
  assert.doesNotMatch(onZk.logs, /lacks tokensync's patches/);
  const status = await writeProperties(join(dir, 'cli.properties'), { ...zkProps, 'app.data.dir': join(dir, 'cli') });
  let members: { nodeId: string; watch?: string }[] = [];
  await waitFor(
    async () => {
      const out = await tokensync(dir, ['cluster', 'status', '--json', '--config', status]);
      members = out.code === 0 ? (JSON.parse(out.out) as { members: typeof members }).members : [];
      return members.some((m) => m.nodeId === 'zk-a');
    },
    'zk-a in `tokensync cluster status`',
    30_000,
  );
  assert.equal(members.find((m) => m.nodeId === 'zk-a')!.watch, 'persistent');
  const table = await tokensync(dir, ['cluster', 'status', '--config', status]);
  assert.match(table.out, /zk-a .*persistent/);

  // a user's module: the client and the middleware, imported by their package names, against the ZooKeeper sidecar
  writeFileSync(
    join(dir, 'app.mjs'),
    `
    import express from 'express';
    import { TokensyncClient } from 'tokensync/client';
    import { tokensyncAuth } from 'tokensync/express';
    const url = process.argv[2];
    const issued = await new TokensyncClient({ url }).issue('carol');
    const app = express();
    app.get('/me', tokensyncAuth({ sidecarUrl: url }), (req, res) => res.json({ subject: req.auth.subject }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = 'http://127.0.0.1:' + server.address().port;
    const withCookie = await fetch(base + '/me', { headers: { cookie: issued.setCookie.split(';')[0] } });
    const without = await fetch(base + '/me');
    server.close();
    console.log(JSON.stringify({ status: withCookie.status, body: await withCookie.json(), without: without.status }));
  `,
  );
  // the other two entry points load by their names too
  const others = await run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    const main = await import('tokensync');
    const harness = await import('tokensync/testing/zookeeper');
    console.log(typeof main.Sidecar, typeof harness.startZooKeeper);`,
    ],
    dir,
  );
  assert.equal(others.out.trim(), 'function function', others.err);
  const app = await run(process.execPath, ['app.mjs', onZk.url], dir);
  assert.equal(app.code, 0, app.err);
  assert.deepEqual(JSON.parse(app.out), { status: 200, body: { subject: 'carol' }, without: 401 });
  // the typings resolve through the exports map, as a TypeScript user's `tsc` sees them
  // (without skipLibCheck: every shipped declaration file must resolve what it imports)
  writeFileSync(
    join(dir, 'typed.ts'),
    [
      "import { TokensyncClient, type IssuedToken } from 'tokensync/client';",
      "import { Sidecar } from 'tokensync';",
      "import { startZooKeeper } from 'tokensync/testing/zookeeper';",
      "export const issue = (c: TokensyncClient): Promise<IssuedToken> => c.issue('dave');",
      'export const parts: [typeof Sidecar.start, typeof startZooKeeper] = [Sidecar.start, startZooKeeper];',
    ].join('\n'),
  );
  const tsc = await run(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--types',
      'node',
      '--typeRoots',
      join(ROOT, 'node_modules', '@types'),
      'typed.ts',
    ],
    dir,
  );
  assert.equal(tsc.code, 0, tsc.out + tsc.err);

  // a build without the stamp counts as unpatched (the stamp is what the patch script writes after its rebuild):
  // --version says so, and a ZOOKEEPER sidecar runs with one warning line naming the fix
  rmSync(join(dir, 'node_modules', 'zookeeper', 'build', 'Release', 'tokensync-patched.stamp'));
  assert.equal((await tokensync(dir, ['--version'])).out.trim(), 'tokensync 0.1.0 (zookeeper binding 7.3.0, unpatched)');
  const warned = await sidecar(dir, 'zk-unstamped', zkProps);
  await issueAndValidate(warned, 'frank');
  const warnings = warned.logs.split('\n').filter((line) => line.includes("lacks tokensync's patches"));
  assert.equal(warnings.length, 1, warned.logs);
  // started from another folder than the project's, the sidecar names the script by its absolute path
  assert.equal(
    JSON.parse(warnings[0]!).message.split('; fix: ')[1],
    `node ${join(dir, 'node_modules', 'tokensync', 'scripts', 'patch-zookeeper-binding.mjs')}`,
  );
});

test('installed with its install scripts denied: the install succeeds, DIRECTORY works, ZOOKEEPER names the fix', async () => {
  const { dir, seconds } = await install('denied', false);
  console.log(`npm install, scripts denied: ${seconds.toFixed(1)} s`);
  assert.equal(existsSync(join(dir, 'node_modules', 'zookeeper', 'build')), false, 'nothing was built');

  const version = await tokensync(dir, ['--version']);
  assert.equal(version.out.trim(), 'tokensync 0.1.0 (zookeeper binding 7.3.0, not built)');

  const directory = await sidecar(dir, 'dir-b', { 'cluster.store.type': 'DIRECTORY' });
  await issueAndValidate(directory, 'erin');

  const data = join(dir, 'zk-b');
  const props = await writeProperties(join(dir, 'zk-b.properties'), {
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': '127.0.0.1:2181',
    'app.data.dir': data,
  });
  const refused = await tokensync(dir, ['sidecar', '--config', props]);
  assert.equal(refused.code, 2, refused.out + refused.err);
  const fix = 'node node_modules/tokensync/scripts/patch-zookeeper-binding.mjs';
  // the sidecar's JSON log lines, then the one line
  const lines = refused.err.trim().split('\n');
  assert.equal(
    lines.pop(),
    `tokensync: cluster.store.type: "ZOOKEEPER" needs the native 'zookeeper' binding, which is not built (npm install scripts blocked?); fix: ${fix}`,
  );
  for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
  assert.doesNotMatch(refused.out + refused.err, /^\s+at /m, 'no stack trace');
  assert.equal(existsSync(data) && readdirSync(data).length > 0, false, 'nothing written before refusing');

  // the one command that line names: unpacks the C client as zookeeper's own install would, patches, builds
  const started = Date.now();
  const fixed = await run('sh', ['-c', fix], dir, 300_000);
  assert.equal(fixed.code, 0, fixed.out + fixed.err);
  console.log(`the fix command (${fix}): ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.equal((await tokensync(dir, ['--version'])).out.trim(), `tokensync 0.1.0 (zookeeper binding 7.3.0, patched: ${ALL_PATCHES})`);
});
