import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../util/logger.js';
import { SecretReloader } from './secret-reloader.js';
import { kidOf, writeSecretFile } from './secret-file.js';
import { TokenCodec } from './token-codec.js';
import { TEST_SECRET_A, TEST_SECRET_B, testKeys } from './test-keys.js';

const roots: string[] = [];
after(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

async function setup() {
  const root = await mkdtemp(join(tmpdir(), 'ts-secret-reload-'));
  roots.push(root);
  const file = join(root, 'token_secret');
  await writeSecretFile(file, [TEST_SECRET_A]);
  const codec = new TokenCodec(testKeys(TEST_SECRET_A));
  let changes = 0;
  const reloader = new SecretReloader(file, codec, silentLogger(), () => changes++);
  return { file, codec, reloader, changes: () => changes };
}

test('a rotated secret file replaces the keys, and the members are told', async () => {
  const { file, codec, reloader, changes } = await setup();
  await writeSecretFile(file, [TEST_SECRET_B, TEST_SECRET_A]);
  await reloader.reload();
  assert.deepEqual(codec.kids, [kidOf(TEST_SECRET_B), kidOf(TEST_SECRET_A)]);
  assert.equal(changes(), 1);
  await reloader.reload(); // the same keys again: nothing to tell
  assert.equal(changes(), 1);
});

test('a broken secret file is refused and the previous keys stay', async () => {
  const { file, codec, reloader, changes } = await setup();
  await writeSecretFile(file, ['short']);
  await reloader.reload();
  assert.deepEqual(codec.kids, [kidOf(TEST_SECRET_A)]);
  assert.equal(changes(), 0);
});
