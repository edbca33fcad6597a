import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * One secret per cluster: a node joining others never makes a secret of its own, and a member that signs with
 * other keys than the rest (a secret file copied wrong) is flagged by `cluster status`, failed by `--check`
 * and logged as an error by the sidecars.
 */
const started: SidecarProcess[] = [];
after(async () => {
  await Promise.all(started.map((s) => s.stop()));
});

test('a ZOOKEEPER node without the secret file stops (exit 2) saying where the secret comes from, and creates none', async () => {
  const dir = await tempDir('tokensync-secret-zk-');
  const config = await writeProperties(join(dir, 'n3.properties'), {
    'node.id': 'n3',
    'app.data.dir': join(dir, 'appdata'),
    'cluster.store.type': 'ZOOKEEPER',
    // refused before any connection: nothing listens here
    'cluster.store.zookeeper.connect': '127.0.0.1:9/tokensync',
  });
  const run = await runCli(['sidecar', '--config', config]);
  assert.equal(run.code, 2, run.stderr);
  const lines = run.stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('tokensync:'));
  assert.equal(lines.length, 1, run.stderr);
  assert.match(
    lines[0]!,
    /no secret file, and this node joins a ZOOKEEPER store whose members must all sign with one secret: copy the cluster's token_secret from a running node/,
  );
  assert.deepEqual(await readdir(join(dir, 'appdata')).catch(() => []), [], 'no secret (nor anything else) was written');

  // the config check says the same, without starting anything
  const check = await runCli(['config', 'check', '--config', config]);
  assert.equal(check.code, 2, check.stdout + check.stderr);
  assert.match(check.stderr, /no secret file, and this node joins a ZOOKEEPER store/);
});

test('DIRECTORY: a brand-new single node creates its secret; a node joining it does not, and stops with exit 2', async () => {
  const dir = await tempDir('tokensync-secret-dir-');
  const store = join(dir, 'store');
  const first = new SidecarProcess({
    nodeId: 'first',
    dir: join(dir, 'first'),
    props: { 'app.data.dir': join(dir, 'first', 'appdata'), 'cluster.store.directory.path': store },
  });
  started.push(await first.start());
  assert.match(first.logs, /created a new signing secret; copy this file to every node before starting them/);
  assert.deepEqual(await readdir(join(dir, 'first', 'appdata')).then((n) => n.includes('token_secret')), true);

  const config = await writeProperties(join(dir, 'second.properties'), {
    'node.id': 'second',
    'app.data.dir': join(dir, 'second'),
    'cluster.store.directory.path': store,
    'sidecar.listen': '127.0.0.1:0',
  });
  const run = await runCli(['sidecar', '--config', config]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(
    run.stderr,
    /^tokensync: .*token_secret: no secret file, and other members \(first\) use the DIRECTORY store .*, whose tokens are all signed with one secret: copy the cluster's token_secret/m,
  );
  assert.deepEqual(await readdir(join(dir, 'second')).catch(() => []), [], 'second made no secret');

  // the first node gone, its tokens stay in the store: a node without the secret still makes none
  assert.equal((await first.api.issue({ subject: 'alice' })).status, 201);
  await first.stop();
  const later = await runCli(['sidecar', '--config', config]);
  assert.equal(later.code, 2, later.stderr);
  assert.match(
    later.stderr,
    /^tokensync: .*token_secret: no secret file, and the DIRECTORY store .* already holds tokens, signed with another secret: copy the cluster's token_secret/m,
  );
  assert.deepEqual(await readdir(join(dir, 'second')).catch(() => []), []);
});

test('a member with another secret is flagged by cluster status, fails --check, and the sidecars log an error', async () => {
  const dir = await tempDir('tokensync-secret-split-');
  const store = join(dir, 'store');
  const node = (id: string) => ({
    'app.data.dir': join(dir, id),
    'cluster.store.directory.path': store,
    'authentication.token.secret.file': join(dir, id, 'token_secret'),
  });
  for (const id of ['a', 'odd']) {
    const made = await runCli(['secret', 'generate', '--config', await writeProperties(join(dir, `${id}-cli.properties`), node(id))]);
    assert.equal(made.code, 0, made.stderr);
  }
  // a and b share one secret, copied the right way (copyFile keeps mode 0600); odd has a secret of its own
  await mkdir(join(dir, 'b'), { mode: 0o700 });
  await copyFile(join(dir, 'a', 'token_secret'), join(dir, 'b', 'token_secret'));
  const cli = join(dir, 'a-cli.properties');

  const a = new SidecarProcess({ nodeId: 'a', dir: join(dir, 'pa'), props: node('a') });
  const b = new SidecarProcess({ nodeId: 'b', dir: join(dir, 'pb'), props: node('b') });
  started.push(await a.start(), await b.start());
  const agreed = await runCli(['cluster', 'status', '--check', '--config', cli]);
  assert.equal(agreed.code, 0, agreed.stdout + agreed.stderr);
  assert.doesNotMatch(agreed.stdout, /DIFFERS/);

  const odd = new SidecarProcess({ nodeId: 'odd', dir: join(dir, 'podd'), props: node('odd') });
  started.push(await odd.start());
  const status = await runCli(['cluster', 'status', '--check', '--config', cli]);
  assert.equal(status.code, 1, status.stdout + status.stderr);
  assert.match(status.stdout, /^odd .* DIFFERS/m);
  assert.match(
    status.stdout,
    /keys differ on odd: signs with \S+ and accepts \S+; most members sign with \S+ .*its tokens are refused by a, b; it refuses tokens of a, b\): give it the cluster's secret file/,
  );
  assert.match(status.stderr, /^tokensync: 1 member sign or accept other keys than the rest: odd$/m);
  const json = JSON.parse((await runCli(['cluster', 'status', '--json', '--config', cli])).stdout) as {
    members: Array<{ nodeId: string; signingKid: string; acceptedKids: string[] }>;
    keyDisagreements: Array<{ nodeId: string }>;
  };
  assert.deepEqual(
    json.keyDisagreements.map((d) => d.nodeId),
    ['odd'],
  );
  assert.equal(json.members.find((m) => m.nodeId === 'a')!.signingKid, json.members.find((m) => m.nodeId === 'b')!.signingKid);
  // ids only: no member report carries a secret
  const secretA = (await readFile(join(dir, 'a', 'token_secret'), 'utf8')).trim();
  assert.ok(!status.stdout.includes(secretA) && !JSON.stringify(json).includes(secretA));

  for (const n of [a, odd]) {
    await waitFor(
      () => /"level":"error","member":"odd","message":"a cluster member signs or accepts other keys than the rest/.test(n.logs),
      `${n.spec.nodeId} logs an error naming odd:\n${n.logs.slice(-2000)}`,
      20_000,
    );
  }
});
