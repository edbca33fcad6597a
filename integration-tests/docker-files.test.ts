import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cp, copyFile, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { ROOT, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { findNginx, localizeConfig, nginxConfigTest, nginxSkipReason } from './support/nginx.js';
import { TIME_SCALE } from '../sidecar/util/wait-for.js';

/**
 * docker/: what can be checked without a container engine. The Dockerfile is
 * parsed and held to its rules; the runtime stage's file layout is rebuilt
 * from its COPY lines and run; the compose file is validated by `docker
 * compose config` where the compose plugin is installed; the nginx config
 * passes `nginx -t`. The images themselves are built, run and walked through
 * on a real engine by scripts/ci-docker.sh.
 */

const DOCKER = join(ROOT, 'docker');

interface Instruction {
  op: string;
  args: string;
  line: number;
}

interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile instructions with continuation lines joined and comments dropped, grouped by stage. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, ' ');
      i++;
      if (!/^\s*#/.test(lines[i]!)) line += lines[i]!.trim();
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    assert.ok(m, `Dockerfile line ${start}: cannot parse "${line}"`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(f, `Dockerfile line ${start}: FROM ${args}`);
      stages.push({ from: f[1]!, name: f[2], instructions: [] });
    } else {
      assert.ok(stages.length > 0, `Dockerfile line ${start}: ${op} before FROM`);
      stages.at(-1)!.instructions.push({ op, args, line: start });
    }
  }
  return stages;
}

const dockerfile = parseDockerfile(await readFile(join(DOCKER, 'Dockerfile'), 'utf8'));
const runtime = dockerfile.at(-1)!;
const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op);

test('Dockerfile: multi-stage, every base image pinned to a Node 20 bookworm release, none "latest"', () => {
  assert.ok(dockerfile.length >= 2, 'multi-stage');
  const names = new Set(dockerfile.map((s) => s.name).filter(Boolean));
  for (const stage of dockerfile) {
    if (names.has(stage.from)) continue; // FROM <an earlier stage>
    assert.match(stage.from, /^node:20\.\d+\.\d+-bookworm(-slim)?(@sha256:[0-9a-f]{64})?$/, `pinned base image: ${stage.from}`);
    assert.doesNotMatch(stage.from, /latest/);
  }
  const bases = dockerfile.filter((s) => !names.has(s.from)).map((s) => s.from.replace(/-bookworm(-slim)?.*$/, ''));
  assert.equal(new Set(bases).size, 1, `one Node release in every stage: ${bases.join(', ')}`);
  const build = dockerfile[0]!;
  assert.match(build.from, /^node:20\.\d+\.\d+-bookworm(@|$)/, 'the build stage has the full image');
  const apt = ops(build, 'RUN')
    .map((r) => r.args)
    .join('\n');
  for (const pkg of ['python3', 'make', 'g++'])
    assert.ok(apt.includes(` ${pkg}`), `build stage installs ${pkg} for the native zookeeper binding`);
  assert.match(runtime.from, /^node:20\.\d+\.\d+-bookworm-slim(@|$)/, 'the runtime stage is slim');
});

test('Dockerfile: the runtime stage runs as a non-root user, with HEALTHCHECK, VOLUME, EXPOSE and the config path', () => {
  const users = ops(runtime, 'USER').map((u) => u.args);
  assert.ok(users.length > 0, 'USER in the runtime stage');
  assert.doesNotMatch(users.at(-1)!, /^(root|0)(:|$)/, 'the last USER is not root');
  const health = ops(runtime, 'HEALTHCHECK');
  assert.equal(health.length, 1);
  assert.match(health[0]!.args, /CMD \["node", "\/app\/docker\/healthcheck\.mjs"\]/);
  assert.ok(!/curl|wget/.test(health[0]!.args), 'no curl or wget in a slim image');
  assert.deepEqual(
    ops(runtime, 'VOLUME').map((v) => v.args),
    ['/var/lib/tokensync'],
  );
  assert.deepEqual(
    ops(runtime, 'EXPOSE').map((v) => v.args),
    ['7468'],
  );
  assert.equal(ops(runtime, 'CMD').at(-1)!.args, '["sidecar", "--config", "/etc/tokensync/tokensync.properties"]');
  assert.ok(ops(runtime, 'COPY').some((c) => c.args === 'docker/tokensync.properties /etc/tokensync/tokensync.properties'));
  for (const stage of dockerfile.filter((s) => s.name === 'example-app')) {
    assert.doesNotMatch(ops(stage, 'USER').at(-1)?.args ?? 'root', /^(root|0)(:|$)/, 'the example app does not run as root either');
  }
});

test('Dockerfile: the build steps are the ones CI runs (npm ci, the native binding check, npm run build)', async () => {
  const run = ops(dockerfile[0]!, 'RUN')
    .map((r) => r.args)
    .join('\n');
  const ci = await readFile(join(ROOT, '.ci', 'run'), 'utf8');
  assert.match(run, /npm ci\b/);
  assert.match(ci, /npm ci\b/);
  assert.match(run, /test -f node_modules\/zookeeper\/build\/Release\/zookeeper\.node/);
  assert.match(ci, /test -f node_modules\/zookeeper\/build\/Release\/zookeeper\.node/);
  // the binding is patched by npm ci's postinstall, which needs the script in the image before npm ci runs
  assert.match(run, /patch-zookeeper-binding\.mjs --check/);
  assert.match(ci, /patch-zookeeper-binding\.mjs --check/);
  assert.match(run, /npm run build/);
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.test!, /npm run build/, 'CI builds the same way (npm test runs npm run build)');
  assert.match(pkg.scripts.postinstall ?? '', /patch-zookeeper-binding\.mjs/, 'npm ci patches the zookeeper binding');
});

test("Dockerfile: npm ci runs after the sources are in (the package's prepare script compiles them)", async () => {
  const build = dockerfile[0]!.instructions;
  const npmCi = build.findIndex((i) => i.op === 'RUN' && /npm ci\b/.test(i.args));
  const copied = build
    .slice(0, npmCi)
    .filter((i) => i.op === 'COPY')
    .map((i) => i.args.split(/\s+/).slice(0, -1))
    .flat();
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  if (/tsc/.test(pkg.scripts.prepare ?? '')) {
    assert.ok(copied.includes('.') || copied.includes('tsconfig.json'), `tsconfig.json and the sources before npm ci: ${copied.join(' ')}`);
  }
  // The legacy builder reads .dockerignore only at the context root (BuildKit also reads <Dockerfile>.dockerignore).
  const ignore = await readFile(join(ROOT, '.dockerignore'), 'utf8');
  for (const line of ['**/node_modules', 'dist', '.git']) assert.ok(ignore.split('\n').includes(line), `.dockerignore: ${line}`);
  assert.ok(!existsSync(join(DOCKER, 'Dockerfile.dockerignore')), 'one .dockerignore, at the root');
});

test('Dockerfile: every file a COPY takes from the build context exists', () => {
  for (const stage of dockerfile) {
    for (const c of ops(stage, 'COPY')) {
      if (/--from=/.test(c.args)) continue;
      const parts = c.args.replace(/--\S+\s+/g, '').split(/\s+/);
      for (const src of parts.slice(0, -1)) {
        if (src === '.') continue;
        assert.ok(existsSync(join(ROOT, src)), `line ${c.line}: COPY ${src}: no such file in the build context`);
      }
    }
  }
});

test("the image's properties file keeps loopback; the compose demo's listens on all interfaces, with an admin token; both pass config check", async () => {
  const image = await readFile(join(DOCKER, 'tokensync.properties'), 'utf8');
  assert.match(image, /^sidecar\.listen=127\.0\.0\.1:7468$/m);
  assert.match(image, /^app\.data\.dir=\/var\/lib\/tokensync$/m);
  const compose = await readFile(join(DOCKER, 'compose', 'tokensync.properties'), 'utf8');
  assert.match(compose, /^sidecar\.listen=0\.0\.0\.0:7468$/m);
  assert.match(compose, /^sidecar\.admin\.token\.file=\S+$/m);
  assert.match(compose, /^cluster\.store\.type=ZOOKEEPER$/m);
  assert.match(compose, /^cluster\.store\.zookeeper\.connect=zk1:2181,zk2:2181,zk3:2181\/tokensync$/m);
  for (const file of [join(DOCKER, 'tokensync.properties'), join(DOCKER, 'compose', 'tokensync.properties')]) {
    const res = await runCli(['config', 'check', '--values-only', '--config', file]);
    assert.equal(res.code, 0, `${file}: ${res.stderr}`);
  }
});

/**
 * The runtime stage's files, gathered here from its COPY lines (build-stage paths under /app are this checkout,
 * built): the CLI must start a sidecar from them alone, and the image's health check must see it.
 */
test("the runtime stage's file layout runs a sidecar, and the image's health check sees it", async () => {
  const app = await tempDir('tokensync-image-layout-');
  const workdir = ops(runtime, 'WORKDIR').at(-1)?.args;
  assert.equal(workdir, '/app');
  for (const c of ops(runtime, 'COPY')) {
    const parts = c.args.replace(/--(?!from=)\S+\s+/g, '').split(/\s+/);
    const from = /^--from=(\S+)$/.exec(parts[0]!)?.[1];
    const [src, dest] = from ? [parts[1]!, parts[2]!] : [parts[0]!, parts[1]!];
    if (dest.startsWith('/') && !dest.startsWith('/app/')) continue; // /etc/tokensync: the config, supplied below
    const source = from ? join(ROOT, relative('/app', src)) : join(ROOT, src);
    let target = join(app, dest.replace(/^\/app\//, '').replace(/^\.\//, ''));
    if (dest.endsWith('/')) target = join(target, basename(source)); // COPY file ./ : into the folder
    assert.ok(existsSync(source), `line ${c.line}: ${source} (build the checkout first)`);
    await mkdir(join(target, '..'), { recursive: true });
    // node_modules is linked (the test's copy is not pruned to production); everything else is copied, so an
    // import reaching outside what the image holds fails here as it would in the image.
    if (src.endsWith('node_modules')) await symlink(source, target);
    else await cp(source, target, { recursive: true });
  }
  const props = await writeProperties(join(app, 'tokensync.properties'), {
    ...Object.fromEntries(
      (await readFile(join(DOCKER, 'tokensync.properties'), 'utf8'))
        .split('\n')
        .filter((l) => /^[a-z]/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ),
    'sidecar.listen': '127.0.0.1:0',
    'app.data.dir': join(app, 'var-lib-tokensync'),
    'node.id': 'image-layout',
  });
  const proc = spawn(process.execPath, [join(app, 'bin', 'tokensync.js'), 'sidecar', '--config', props], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line:\n${output}`)), 30_000 * TIME_SCALE);
      const onData = (c: Buffer) => {
        output += c.toString();
        const m =
          /tokensync ready.*?"listen":"127\.0\.0\.1:(\d+)"/.exec(output) ??
          /"listen":"127\.0\.0\.1:(\d+)","message":"tokensync ready"/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.on('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
    });
    assert.match(output, /token_secret/, 'a first start creates the secret file, and says so');
    const healthy = spawnSync(process.execPath, [join(app, 'docker', 'healthcheck.mjs')], {
      env: { ...process.env, TOKENSYNC_HEALTHCHECK_URL: `http://127.0.0.1:${port}/healthz` },
      encoding: 'utf8',
    });
    assert.equal(healthy.status, 0, healthy.stderr);
  } finally {
    await new Promise((r) => {
      if (proc.exitCode !== null) return r(undefined);
      proc.once('exit', r);
      proc.kill('SIGTERM');
    });
  }
  const down = spawnSync(process.execPath, [join(app, 'docker', 'healthcheck.mjs')], {
    env: { ...process.env, TOKENSYNC_HEALTHCHECK_URL: 'http://127.0.0.1:1/healthz' },
    encoding: 'utf8',
  });
  assert.equal(down.status, 1);
  assert.match(down.stderr, /127\.0\.0\.1:1\/healthz/);
});

const composeText = await readFile(join(DOCKER, 'compose.yaml'), 'utf8');

test('compose.yaml: pinned images, a 3-node ZooKeeper 3.8.4 ensemble, files it mounts exist', async () => {
  const images = [...composeText.matchAll(/^\s*image:\s*(\S+)\s*$/gm)].map((m) => m[1]!);
  for (const image of images) {
    assert.match(image, /:[\w.-]+$/, `${image} has a tag`);
    assert.doesNotMatch(image, /:latest$/, image);
  }
  assert.ok(images.includes('zookeeper:3.8.4'));
  assert.ok(
    images.some((i) => /^nginx:\d+\.\d+\.\d+/.test(i)),
    'nginx pinned to a release',
  );
  assert.match(composeText, /ZOO_SERVERS: server\.1=zk1:2888:3888;2181 server\.2=zk2:2888:3888;2181 server\.3=zk3:2888:3888;2181/);
  for (const id of [1, 2, 3]) assert.match(composeText, new RegExp(`^  zk${id}:\\n(?:    .*\\n)*?      ZOO_MY_ID: ${id}$`, 'm'));
  for (const [, src] of composeText.matchAll(/^\s*- (\.\/[^:\s]+):/gm)) assert.ok(existsSync(join(DOCKER, src!)), `mounted ${src} exists`);
  for (const [, context, file] of composeText.matchAll(/context: (\S+)\n\s*dockerfile: (\S+)/g)) {
    assert.ok(existsSync(join(DOCKER, context!, file!)), `build ${context}/${file} exists`);
  }
  // The paths the init service writes are the paths the sidecars read.
  const props = await readFile(join(DOCKER, 'compose', 'tokensync.properties'), 'utf8');
  for (const key of ['authentication.token.secret.file', 'sidecar.admin.token.file']) {
    const path = new RegExp(`^${key.replace(/\./g, '\\.')}=(\\S+)$`, 'm').exec(props)![1]!;
    assert.ok(composeText.includes(path), `${key}=${path} is what secrets-init writes`);
  }
});

/**
 * The compose plugin validates against the compose schema without an engine. Only v2 (`docker compose`):
 * Debian's docker-compose 1.29 predates parts of the current spec this file uses (top-level `name`).
 */
const composePlugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
test(
  'compose.yaml validates against the compose schema (docker compose config --quiet, offline)',
  { skip: composePlugin ? false : 'the docker client here has no compose plugin (docker compose version fails)' },
  () => {
    const res = spawnSync('docker', ['compose', '-f', join(DOCKER, 'compose.yaml'), 'config', '--quiet'], {
      encoding: 'utf8',
      cwd: DOCKER,
    });
    assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
  },
);

/**
 * Not a package.json dependency: the `yaml` parser testcontainers brings along. Loaded by a computed name so the
 * build does not need it; the test skips, saying so, when it is not there.
 */
type YamlModule = { parse: (text: string, options: { merge: boolean }) => unknown };
const yamlName = 'yaml';
const yaml = (await import(yamlName).catch(() => undefined)) as YamlModule | undefined;

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  hostname?: string;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  ports?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: { test: string[] };
  user?: string;
}

test(
  'compose.yaml, parsed: services, dependencies, volumes, builds and the nginx upstreams fit together',
  { skip: yaml ? false : 'no YAML parser in node_modules (the `yaml` package testcontainers depends on)' },
  async () => {
    const doc = yaml!.parse(composeText, { merge: true }) as {
      name: string;
      services: Record<string, ComposeService>;
      volumes: Record<string, unknown>;
    };
    const services = doc.services;
    assert.deepEqual(Object.keys(services).sort(), ['app1', 'app2', 'nginx', 'secrets-init', 'sidecar1', 'sidecar2', 'zk1', 'zk2', 'zk3']);
    const stages = new Set(dockerfile.map((s) => s.name));
    for (const [name, svc] of Object.entries(services)) {
      assert.ok(svc.image, `${name}: image`);
      for (const dep of Object.keys(svc.depends_on ?? {})) {
        assert.ok(services[dep], `${name} depends on ${dep}, which exists`);
        assert.match(svc.depends_on![dep]!.condition, /^service_(started|healthy|completed_successfully)$/);
      }
      for (const v of svc.volumes ?? []) {
        const src = v.split(':')[0]!;
        if (src.startsWith('.')) assert.ok(existsSync(join(DOCKER, src)), `${name}: ${src} exists`);
        else assert.ok(src in doc.volumes, `${name}: volume ${src} is declared`);
      }
      for (const p of svc.ports ?? []) assert.match(p, /^127\.0\.0\.1:/, `${name}: published on loopback only`);
      if (svc.build) {
        assert.ok(existsSync(join(DOCKER, svc.build.context, svc.build.dockerfile)), `${name}: build file`);
        assert.ok(svc.build.target && stages.has(svc.build.target), `${name}: build target ${svc.build.target} is a stage`);
      }
      // Only the init service runs as root, to hand the secret files to the image's user.
      if (name !== 'secrets-init') assert.ok(svc.user === undefined || !/^(0|root)(:|$)/.test(svc.user), `${name} does not run as root`);
    }
    const zk = ['zk1', 'zk2', 'zk3'].map((n) => services[n]!);
    assert.deepEqual(
      zk.map((z) => z.image),
      ['zookeeper:3.8.4', 'zookeeper:3.8.4', 'zookeeper:3.8.4'],
    );
    assert.deepEqual(
      zk.map((z) => z.environment!.ZOO_MY_ID),
      [1, 2, 3],
    );
    assert.equal(new Set(zk.map((z) => z.environment!.ZOO_SERVERS)).size, 1, 'one ZOO_SERVERS for the ensemble');
    for (const z of zk) assert.deepEqual(z.healthcheck?.test, ['CMD', 'zkServer.sh', 'status']);
    for (const n of ['sidecar1', 'sidecar2']) {
      const svc = services[n]!;
      assert.equal(svc.hostname, n, `${n}: node.id is the host name`);
      assert.ok(svc.volumes!.includes('./compose/tokensync.properties:/etc/tokensync/tokensync.properties:ro'));
      assert.ok(svc.volumes!.includes('secrets:/run/tokensync:ro'));
      assert.equal(svc.depends_on!['secrets-init']!.condition, 'service_completed_successfully');
    }
    for (const [appName, sidecar] of [
      ['app1', 'sidecar1'],
      ['app2', 'sidecar2'],
    ] as const) {
      assert.equal(services[appName]!.environment!.SIDECAR_URL, `http://${sidecar}:7468`, `${appName} talks to its own sidecar`);
    }
    // nginx.conf's upstreams are these services, on the ports they listen on.
    const nginxConf = await readFile(join(DOCKER, 'nginx.conf'), 'utf8');
    const upstreamServers = [...nginxConf.matchAll(/^\s*server\s+([\w.-]+):(\d+);/gm)].map((m) => `${m[1]}:${m[2]}`).sort();
    assert.deepEqual(upstreamServers, ['app1:3000', 'app2:3000', 'sidecar1:7468', 'sidecar2:7468']);
    assert.ok(services.nginx!.volumes!.includes('./nginx.conf:/etc/nginx/nginx.conf:ro'));
  },
);

test(
  'docker/nginx.conf passes nginx -t (a copy with the compose host names mapped to 127.0.0.1)',
  { skip: nginxSkipReason() },
  async () => {
    assert.ok(findNginx());
    const prefix = await tempDir('tokensync-nginx-t-');
    const text = await readFile(join(DOCKER, 'nginx.conf'), 'utf8');
    // nginx resolves upstream host names while it reads the config; sidecar1, app1, ... exist only on the compose network.
    const local = localizeConfig(text, {
      prefix,
      hosts: {
        'sidecar1:7468': '127.0.0.1:7468',
        'sidecar2:7468': '127.0.0.1:7469',
        'app1:3000': '127.0.0.1:3000',
        'app2:3000': '127.0.0.1:3001',
      },
    });
    await mkdir(join(prefix, 'tmp'), { recursive: true });
    await writeFile(join(prefix, 'nginx.conf'), local);
    const res = await nginxConfigTest(join(prefix, 'nginx.conf'), prefix);
    assert.ok(res.ok, res.output);
    assert.match(res.output, /syntax is ok/);
    // And the unlocalized file fails only on the host names, which is why the copy is needed.
    await copyFile(join(DOCKER, 'nginx.conf'), join(prefix, 'raw.conf'));
    const raw = await nginxConfigTest(join(prefix, 'raw.conf'), prefix);
    if (!raw.ok) assert.match(raw.output, /host not found in upstream "(sidecar|app)\d:\d+"/);
  },
);

test(
  "compose.yaml's secrets-init script, run here with its paths moved to a temp folder: creates both files once, mode 0600",
  { skip: yaml ? false : 'no YAML parser in node_modules (the `yaml` package testcontainers depends on)' },
  async () => {
    const doc = yaml!.parse(composeText, { merge: true }) as { services: Record<string, { command: string[]; entrypoint: string[] }> };
    const init = doc.services['secrets-init']!;
    assert.deepEqual(init.entrypoint, ['sh', '-c']);
    const dir = await tempDir('tokensync-secrets-init-');
    const props = await writeProperties(join(dir, 'tokensync.properties'), {
      'authentication.token.secret.file': join(dir, 'run', 'token_secret'),
      'app.data.dir': join(dir, 'appdata'),
    });
    await mkdir(join(dir, 'run'));
    const root = process.getuid?.() === 0;
    const script = init.command[0]!.replaceAll('/run/tokensync', join(dir, 'run'))
      .replaceAll('/etc/tokensync/tokensync.properties', props)
      .replaceAll('node /app/bin/tokensync.js', `${process.execPath} ${join(ROOT, 'bin', 'tokensync.js')}`)
      .replaceAll('node -e', `${process.execPath} -e`)
      // Handing the files to uid 1000 needs root; the modes are checked either way.
      .replace(/^(\s*)chown /m, root ? '$1chown ' : '$1true ');
    const runInit = () => spawnSync('sh', ['-c', script], { encoding: 'utf8' });
    const first = runInit();
    assert.equal(first.status, 0, first.stdout + first.stderr);
    const secret = await readFile(join(dir, 'run', 'token_secret'), 'utf8');
    const admin = await readFile(join(dir, 'run', 'admin_token'), 'utf8');
    assert.match(secret.trim(), /^[A-Za-z0-9_-]{64}$/);
    assert.match(admin, /^[A-Za-z0-9_-]{43}$/);
    for (const f of ['token_secret', 'admin_token']) {
      const st = await stat(join(dir, 'run', f));
      assert.equal(st.mode & 0o777, 0o600, f);
      if (root) assert.equal(st.uid, 1000, `${f} belongs to the image's user`);
    }
    const again = runInit();
    assert.equal(again.status, 0, again.stderr);
    assert.equal(await readFile(join(dir, 'run', 'token_secret'), 'utf8'), secret, 'a restart keeps the secret');
    assert.equal(await readFile(join(dir, 'run', 'admin_token'), 'utf8'), admin);
  },
);
