import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT, tempDir } from './support/sidecar-process.js';
import { Api } from './support/http.js';
import { TIME_SCALE } from '../sidecar/util/wait-for.js';

/**
 * The README's two-node quickstart on Debian's ZooKeeper, run as written: its shell blocks are taken from
 * README.md, with the ports moved to free loopback ones, and run by bash in a scratch folder. Then the two
 * nodes must share tokens, a secret, and the keys `cluster status` reports.
 */
const BLOCKS = ['quickstart:debian', 'quickstart:nodes', 'quickstart:try'];
const JARS = ['/usr/share/java/zookeeper.jar', '/usr/share/java/slf4j-log4j12.jar', '/usr/share/java/log4j-1.2.jar'];
let shell: ChildProcess | undefined;

after(async () => {
  await stopGroup(shell);
});

/** The shell block right after each `<!-- name ... -->` marker, in the README's order. */
export function quickstartBlocks(readme: string, names: readonly string[]): string[] {
  return names.map((name) => {
    const at = readme.indexOf(`<!-- ${name}`);
    assert.ok(at >= 0, `README.md has no <!-- ${name} --> marker`);
    const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
    assert.ok(m, `no sh block after <!-- ${name} -->`);
    return m[1]!;
  });
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Everything the script left running (ZooKeeper, two sidecars) shares the shell's process group. */
async function stopGroup(proc: ChildProcess | undefined): Promise<void> {
  if (proc?.pid === undefined) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, sig);
      return true;
    } catch {
      return false; // the group is gone
    }
  };
  if (!signal('SIGTERM')) return;
  const deadline = Date.now() + 10_000 * TIME_SCALE;
  while (Date.now() < deadline && signal(0 as unknown as NodeJS.Signals)) await new Promise((r) => setTimeout(r, 100));
  signal('SIGKILL');
}

test(
  'the README quickstart (Debian ZooKeeper, two nodes, one secret) works as written',
  { skip: JARS.every((j) => existsSync(j)) ? false : "Debian's zookeeper package is not installed" },
  async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const [zk, admin, n1, n2] = await freePorts(4);
    const ports: Record<string, number> = { '2181': zk!, '8081': admin!, '7468': n1!, '7469': n2! };
    const script = quickstartBlocks(readme, BLOCKS)
      .join('\n')
      .replace(/\b(2181|8081|7468|7469)\b/g, (p) => String(ports[p]));
    const dir = await tempDir('tokensync-quickstart-');
    await symlink(join(ROOT, 'bin'), join(dir, 'bin'));
    await writeFile(join(dir, 'quickstart.sh'), `set -e\n${script}`);

    let output = '';
    shell = spawn('bash', ['quickstart.sh'], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    shell.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    shell.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(-1), 120_000 * TIME_SCALE);
      shell!.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    const logs = async () => {
      const read = (f: string) => readFile(join(dir, 'quickstart', f), 'utf8').catch(() => '(none)');
      return `${output}\n--- zookeeper.log (tail) ---\n${(await read('zk/zookeeper.log')).slice(-2000)}\n--- node1.log ---\n${(await read('node1.log')).slice(-2000)}`;
    };
    assert.equal(code, 0, await logs());

    // the README's own checks: validated on node2, and cluster status with both members and the server's mode
    assert.match(output, /^\{"valid":true,"subject":"alice",/m, await logs());
    assert.match(
      output,
      new RegExp(`^127\\.0\\.0\\.1:${zk}\\s+standalone\\s+3\\.`, 'm'),
      'the 4lw whitelist lets cluster status read the mode',
    );
    const members = [...output.matchAll(/^(node[12])\s+127\.0\.0\.1:\d+\s+.*\s(\S{12})\s+\S+ ago$/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(
      members.map((m) => m[0]),
      ['node1', 'node2'],
      output,
    );
    assert.equal(members[0]![1], members[1]![1], 'both nodes report the same signing key');

    // one secret, copied the right way
    const secret = (node: string) => join(dir, 'quickstart', node, 'token_secret');
    assert.equal(await readFile(secret('node2'), 'utf8'), await readFile(secret('node1'), 'utf8'));
    for (const node of ['node1', 'node2']) assert.equal((await stat(secret(node))).mode & 0o777, 0o600, node);

    // and the other way round: issued on node2, valid (then revoked everywhere) on node1
    const [api1, api2] = [new Api(`http://127.0.0.1:${n1}`), new Api(`http://127.0.0.1:${n2}`)];
    const issued = await api2.issue({ subject: 'bob' });
    assert.equal(issued.status, 201, issued.text);
    assert.equal((await api1.validate(issued.body.token)).status, 200);
    assert.equal((await api1.revoke(issued.body.jti)).status, 204);
    assert.equal((await api2.validate(issued.body.token)).body.reason, 'revoked');
  },
);

test('the README says how npm start takes a properties file, and package.json passes it on to the sidecar', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, /`npm start -- --config node1\.properties`/);
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  // npm appends what follows `--` to the script: it must end at the sidecar command for --config to reach it
  assert.match(pkg.scripts.start!, /node bin\/tokensync\.js sidecar$/);
});
