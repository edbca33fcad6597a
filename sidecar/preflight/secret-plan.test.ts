import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseProperties } from '../config/load-config.js';
import { SecretError } from '../errors/secret-error.js';
import { tempDir } from '../util/test-temp-dirs.js';
import { createSecretFile, planSecret } from './secret-plan.js';

async function options(lines: string[] = []) {
  const dir = await tempDir('tokensync-secret-plan-');
  return { dir, options: parseProperties([`node.id=n1`, `app.data.dir=${join(dir, 'appdata')}`, ...lines].join('\n')).options };
}

const refused = (pattern: RegExp) => (err: unknown) =>
  err instanceof SecretError && err.code === 'secret.missing' && pattern.test(err.message);

test('a new single node on an unused DIRECTORY store: create, at the default path only, and nothing is written by the plan', async () => {
  const { dir, options: o } = await options();
  assert.deepEqual(await planSecret(o), { action: 'create', path: join(dir, 'appdata', 'token_secret') });
  assert.deepEqual(await readdir(dir), []);
  const keys = await createSecretFile(join(dir, 'appdata', 'token_secret'));
  const plan = await planSecret(o);
  assert.equal(plan.action, 'use');
  assert.deepEqual(
    plan.action === 'use' && plan.keys.map((k) => k.kid),
    keys.map((k) => k.kid),
  );
});

test('never created for a ZOOKEEPER member, nor at a path set explicitly', async () => {
  const zk = await options(['cluster.store.type=ZOOKEEPER', 'cluster.store.zookeeper.connect=127.0.0.1:9/t']);
  await assert.rejects(
    planSecret(zk.options),
    refused(/no secret file, and this node joins a ZOOKEEPER store whose members must all sign with one secret/),
  );
  const explicit = await options(['authentication.token.secret.file=/nonexistent/token_secret']);
  await assert.rejects(
    planSecret(explicit.options),
    refused(/^authentication\.token\.secret\.file: "\/nonexistent\/token_secret" does not exist; copy the cluster's token_secret/),
  );
});

test('never created on a DIRECTORY store another member uses or that holds tokens', async () => {
  const withMember = await options();
  await mkdir(join(withMember.dir, 'appdata', 'shared', 'members'), { recursive: true });
  await writeFile(join(withMember.dir, 'appdata', 'shared', 'members', 'n1.json'), '{}'); // our own, from an earlier run: fine
  assert.equal((await planSecret(withMember.options)).action, 'create');
  await writeFile(join(withMember.dir, 'appdata', 'shared', 'members', 'n2.json'), '{}');
  await assert.rejects(planSecret(withMember.options), refused(/other members \(n2\) use the DIRECTORY store/));

  const withTokens = await options();
  await mkdir(join(withTokens.dir, 'appdata', 'shared', 'tokens', '0a'), { recursive: true });
  await writeFile(join(withTokens.dir, 'appdata', 'shared', 'tokens', '0a', 's.x~YQ'), '{}');
  await assert.rejects(planSecret(withTokens.options), refused(/already holds tokens, signed with another secret/));
});
