import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BINDING_PATCH_IDS, zookeeperBindingPatched } from './binding-patch.js';

const SCRIPT = fileURLToPath(new URL('../../../../scripts/patch-zookeeper-binding.mjs', import.meta.url));

test('the sidecar checks for exactly the patch ids the install script stamps', () => {
  const script = readFileSync(SCRIPT, 'utf8');
  const ids = [...script.matchAll(/^const \w*PATCH_ID = '([^']+)';$/gm)].map((m) => m[1]);
  assert.ok(ids.length >= 4, `patch ids found in the script: ${ids.join(', ')}`);
  assert.deepEqual([...ids].sort(), [...BINDING_PATCH_IDS].sort());
  // every id the script defines goes into a group, and so into the stamp
  const groups = /const GROUPS = \[([\s\S]*?)\];/.exec(script)?.[1] ?? '';
  const constants = [...script.matchAll(/^const (\w*PATCH_ID) = /gm)].map((m) => m[1]!);
  for (const name of constants) assert.match(groups, new RegExp(`id: ${name}\\b`), `${name} is applied`);
});

test('the installed binding carries every patch (npm install ran the script)', () => {
  assert.equal(zookeeperBindingPatched(), true, 'run `node scripts/patch-zookeeper-binding.mjs`');
});
