/**
 * The provider choice, in fresh processes (it is decided once per process and once per run): one line per run,
 * read back by the run's other files, forced by TOKENSYNC_ZK_PROVIDER, and a bad value refused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('./provider-choice.js', import.meta.url));
const CHOICE_FILE = 'zookeeper-provider.json';

/** Runs chooseProvider() `calls` times in a new process; its answers on stdout, its announcements on stderr. */
function choose(env: Record<string, string | undefined>, calls = 1, image?: string) {
  const args = image ? `undefined, ${JSON.stringify(image)}` : '';
  const script =
    `const { chooseProvider } = await import(${JSON.stringify(MODULE)});` +
    `for (let i = 0; i < ${calls}; i++) console.log(JSON.stringify(await chooseProvider(${args})));`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key];
    else childEnv[key] = value;
  }
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: childEnv, encoding: 'utf8' });
  const answers = res.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { provider: string; reason: string });
  const lines = res.stderr.split('\n').filter((line) => line.startsWith('ZooKeeper for this test run:'));
  return { status: res.status, stderr: res.stderr, answers, lines };
}

async function withRunDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tokensync-provider-choice-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('forced by TOKENSYNC_ZK_PROVIDER: one line for the run, written for its other files, which stay silent', async () => {
  await withRunDir(async (dir) => {
    const first = choose({ TOKENSYNC_ZK_PROVIDER: 'local', TOKENSYNC_TEST_RUN_DIR: dir }, 3);
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(
      first.answers.map((a) => a.provider),
      ['local', 'local', 'local'],
    );
    assert.deepEqual(first.lines, ['ZooKeeper for this test run: local processes (LocalZooKeeper) (TOKENSYNC_ZK_PROVIDER=local)']);
    const stored = JSON.parse(await readFile(join(dir, CHOICE_FILE), 'utf8')) as { provider: string };
    assert.equal(stored.provider, 'local');
    const second = choose({ TOKENSYNC_ZK_PROVIDER: 'local', TOKENSYNC_TEST_RUN_DIR: dir });
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.answers[0]!.provider, 'local');
    assert.deepEqual(second.lines, [], 'a later file of the same run says nothing');
  });
});

test("a run's stored choice is used as it is, without probing for a runtime again", async () => {
  await withRunDir(async (dir) => {
    const stored = { provider: 'container', forced: false, reason: 'decided by the first file', image: 'tokensync-test/no-such-image:0' };
    await writeFile(join(dir, CHOICE_FILE), JSON.stringify(stored));
    // An image that is nowhere: were the machine probed, the answer would be 'local'.
    const res = choose({ TOKENSYNC_ZK_PROVIDER: undefined, TOKENSYNC_TEST_RUN_DIR: dir }, 1, 'tokensync-test/no-such-image:0');
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(res.answers, [{ provider: 'container', forced: false, reason: 'decided by the first file' }]);
    assert.deepEqual(res.lines, []);
  });
});

test('without the image (or without a runtime) the run uses local processes, and its one line says why', async () => {
  await withRunDir(async (dir) => {
    const res = choose({ TOKENSYNC_ZK_PROVIDER: undefined, TOKENSYNC_TEST_RUN_DIR: dir }, 2, 'tokensync-test/no-such-image:0');
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(
      res.answers.map((a) => a.provider),
      ['local', 'local'],
    );
    assert.equal(res.lines.length, 1, res.stderr);
    // Which of the two reasons depends on the machine; both are a reason to stay local.
    assert.match(
      res.lines[0]!,
      /local processes \(LocalZooKeeper\) \((no container runtime: .+|a container runtime answers at .+, but image tokensync-test\/no-such-image:0 is not there and none is pulled .+)\)$/,
    );
  });
});

test('a bad TOKENSYNC_ZK_PROVIDER is refused, naming the variable and the value', () => {
  const res = choose({ TOKENSYNC_ZK_PROVIDER: 'podman' });
  assert.notEqual(res.status, 0);
  assert.match(res.stderr, /TOKENSYNC_ZK_PROVIDER must be 'local' or 'container', got 'podman'/);
  assert.deepEqual(res.lines, []);
});
