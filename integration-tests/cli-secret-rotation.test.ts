import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SidecarProcess, runCli, startSidecars, tempDir, writeProperties } from './support/sidecar-process.js';
import { DirectoryStore } from '../sidecar/store/directory/directory-store.js';
import { silentLogger } from '../sidecar/util/logger.js';
import { newJti } from '../sidecar/store/token-record.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Rotating the shared secret under two running sidecars with the CLI, as the README tells an operator to:
 * nobody is logged out, new tokens carry the new kid, and `--retire` drops only what nothing needs.
 */
let dir: string;
let config: string;
let secretPath: string;
let a: SidecarProcess;
let b: SidecarProcess;

before(async () => {
  dir = await tempDir('tokensync-rotation-');
  secretPath = join(dir, 'secret', 'token_secret');
  const common = {
    'cluster.store.directory.path': join(dir, 'store'),
    'cluster.store.directory.shards': 16,
    'cluster.store.directory.rescan.interval': '1s',
    'authentication.token.secret.file': secretPath,
  };
  config = await writeProperties(join(dir, 'cli.properties'), { ...common, 'app.data.dir': join(dir, 'cli'), 'node.id': 'cli' });
  const gen = await runCli(['secret', 'generate', '--config', config]);
  assert.equal(gen.code, 0, gen.stderr);
  [a, b] = await startSidecars([
    { nodeId: 'a', dir: join(dir, 'a'), props: { ...common, 'app.data.dir': join(dir, 'a') } },
    { nodeId: 'b', dir: join(dir, 'b'), props: { ...common, 'app.data.dir': join(dir, 'b') } },
  ]);
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

function kidOf(token: string): string {
  return String((JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: unknown }).kid);
}

async function rotate(
  ...extra: string[]
): Promise<{ signing: string; kids: string[]; retired: string[]; stillNeeded: Array<{ kid: string; apiTokens: number }> }> {
  const r = await runCli(['secret', 'rotate', '--config', config, '--json', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Both sidecars logged that they accept exactly `kids` (the reload line names them, signing first). */
async function reloaded(kids: string[]): Promise<void> {
  const line = `"kids":${JSON.stringify(kids)}`;
  await waitFor(() => a.logs.includes(line) && b.logs.includes(line), `both sidecars reload ${kids.join(',')}`, 10_000, 20);
}

async function validOnBoth(token: string): Promise<void> {
  for (const node of [a, b]) {
    const v = await node.api.validate(token);
    assert.equal(v.status, 200, `${node.spec.nodeId}: ${v.text}`);
  }
}

test('rotate under two running sidecars: old tokens stay valid, new ones carry the new kid, nobody is logged out', async () => {
  const before = await Promise.all([a.api.issue({ subject: 'alice' }), b.api.issue({ subject: 'bob', kind: 'api' })]);
  const oldKid = kidOf(before[0].body.token);
  assert.equal(kidOf(before[1].body.token), oldKid);

  const rotated = await rotate();
  assert.deepEqual(rotated.kids, [rotated.signing, oldKid]);
  assert.notEqual(rotated.signing, oldKid);
  assert.equal(((await import('node:fs')).statSync(secretPath).mode & 0o777).toString(8), '600');
  await reloaded(rotated.kids);

  for (const issued of before) await validOnBoth(issued.body.token);
  const after = await a.api.issue({ subject: 'alice' });
  assert.equal(kidOf(after.body.token), rotated.signing);
  await validOnBoth(after.body.token);

  // SIGHUP reloads too (and does not stop the process, as it would without a handler)
  process.kill(b.pid!, 'SIGHUP');
  await validOnBoth(after.body.token);
  for (const issued of before) await validOnBoth(issued.body.token);

  // verify names the kid: an older secret that verifies but no longer signs
  const v = await runCli(['verify', before[0].body.token, '--config', config]);
  assert.equal(v.code, 0, v.stdout);
  assert.match(v.stdout, new RegExp(`^ok {6}kid: ${oldKid}, secret 2 of 2 \\(verifies; no longer signs\\)$`, 'm'));
});

/** Pretends `kid` stopped signing `days` ago (the history file `rotate` keeps beside the secret file). */
async function stoppedSigning(kid: string, days: number): Promise<number> {
  const history = JSON.parse(await readFile(`${secretPath}.history`, 'utf8')) as Record<string, number>;
  history[kid] = Date.now() - days * 86_400_000;
  await writeFile(`${secretPath}.history`, JSON.stringify(history), { mode: 0o600 });
  return history[kid];
}

/** An api token record issued at `issuedAt`, straight into the shared store (no token needed for the check). */
async function fileApiRecord(issuedAt: number): Promise<string> {
  const store = new DirectoryStore({
    root: join(dir, 'store'),
    shards: 16,
    rescanIntervalMs: 60_000,
    logger: silentLogger(),
    nodeId: 'test',
  });
  await store.start();
  const jti = newJti('api');
  assert.equal(await store.create({ jti, subject: 'robot', kind: 'api', issuedAt, expiresAt: null, node: 'a' }), true);
  await store.close();
  return jti;
}

test('--retire keeps a secret a live api token still needs; --force drops it, and its tokens are refused', async () => {
  const alice = await a.api.issue({ subject: 'alice' });
  const kids = (await rotate()).kids; // [new, alice's, older...]
  await reloaded(kids);
  const aliceKid = kidOf(alice.body.token);
  assert.equal(aliceKid, kids[1]);
  const k0 = kids[kids.length - 1]!; // the first test's original secret
  const carol = await b.api.issue({ subject: 'carol' });
  const k1 = kidOf(carol.body.token);
  assert.equal(k1, kids[0]);
  // k-alice stopped signing 40 days ago (longer than the 30 d absolute lifetime), and an api token was issued back then
  const stopped = await stoppedSigning(aliceKid, 40);
  await stoppedSigning(k0, 50); // older secrets stopped earlier still
  await fileApiRecord(stopped - 86_400_000);

  const kept = await rotate('--retire');
  assert.deepEqual(kept.retired, [k0]); // signed nothing live: it goes
  // --retire only retires: no new secret, the same one signs
  assert.deepEqual(
    kept.kids,
    kids.filter((k) => k !== k0),
  );
  assert.equal((kept as unknown as { added: unknown }).added, null);
  assert.deepEqual(kept.stillNeeded, [{ kid: aliceKid, apiTokens: 1 }]);
  assert.ok(kept.kids.includes(aliceKid));
  const human = await runCli(['secret', 'rotate', '--config', config, '--retire']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(
    human.stdout,
    new RegExp(`^kept ${aliceKid}: 1 live api token was issued while it signed \\(revoke them, or --retire --force\\)$`, 'm'),
  );
  assert.match(human.stdout, /^retired nothing from .*token_secret$/m);
  assert.match(human.stdout, new RegExp(`^kept ${kids[0]}: signing$`, 'm'));
  assert.match(human.stdout, new RegExp(`^no secret added \\(--retire only retires\\); signing with ${kids[0]}$`, 'm'));

  const forced = await rotate('--retire', '--force');
  assert.deepEqual(forced.retired, [aliceKid]);
  await reloaded(forced.kids);
  for (const node of [a, b]) {
    const v = await node.api.validate(alice.body.token);
    assert.equal(v.status, 401);
    assert.equal(v.body.reason, 'bad_signature');
  }
  await validOnBoth(carol.body.token);
  assert.equal(kidOf(carol.body.token), k1);
  const verify = await runCli(['verify', alice.body.token, '--config', config]);
  assert.equal(verify.code, 1);
  assert.match(
    verify.stdout,
    new RegExp(
      `^FAIL {4}kid: ${aliceKid} is not one of the \\d+ secrets of .*token_secret \\(retired, or signed with another cluster's secret\\)$`,
      'm',
    ),
  );
});

test('--retire drops the secret once the api tokens that needed it are revoked', async () => {
  const current = await rotate();
  await reloaded(current.kids);
  const oldest = current.kids[current.kids.length - 1]!;
  const stopped = await stoppedSigning(oldest, 45);
  const jti = await fileApiRecord(stopped - 1_000);
  assert.deepEqual(
    (await rotate('--retire')).stillNeeded.find((s) => s.kid === oldest),
    { kid: oldest, apiTokens: 1 },
  );
  const revoke = await runCli(['tokens', 'revoke', jti, '--config', config]);
  assert.equal(revoke.code, 0, revoke.stderr);
  const retired = await rotate('--retire');
  assert.ok(retired.retired.includes(oldest), JSON.stringify(retired));
  assert.ok(!retired.kids.includes(oldest));
});
