import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSecretLine, parseSecrets, readSecretFile, writeSecretFile, kidOf } from './secret-file.js';
import { SecretError } from '../errors/secret-error.js';
import { tempDir } from '../util/test-temp-dirs.js';

test('a generated secret file is 0600 and parses; comments and blank lines are skipped', async () => {
  const dir = await tempDir('ts-secret-');
  const path = join(dir, 'token_secret');
  const a = generateSecretLine();
  await writeSecretFile(path, ['# rotated 2026-11-23', a, '', generateSecretLine()]);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  const keys = await readSecretFile(path);
  assert.equal(keys.length, 2);
  assert.equal(keys[0]!.kid, kidOf(a));
});

test('a secret file readable by group or others is refused with the chmod to run', async () => {
  const dir = await tempDir('ts-secret-');
  const path = join(dir, 'token_secret');
  await writeFile(path, generateSecretLine() + '\n');
  await chmod(path, 0o644);
  await assert.rejects(readSecretFile(path), (err: SecretError) => err.code === 'secret.permissions' && err.message.includes('chmod 600'));
});

test('weak, empty and missing secrets are refused without echoing the secret', async () => {
  assert.throws(
    () => parseSecrets('short-secret'),
    (err: SecretError) => err.code === 'secret.weak' && !err.message.includes('short-secret'),
  );
  assert.throws(
    () => parseSecrets('# nothing\n\n'),
    (err: SecretError) => err.code === 'secret.empty',
  );
  await assert.rejects(readSecretFile('/nonexistent/token_secret'), (err: SecretError) => err.code === 'secret.missing');
});

test('kids do not reveal the secret and differ between secrets', () => {
  const a = generateSecretLine();
  const b = generateSecretLine();
  assert.notEqual(kidOf(a), kidOf(b));
  assert.ok(!a.includes(kidOf(a)));
});
