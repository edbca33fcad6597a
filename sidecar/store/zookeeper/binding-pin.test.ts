import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { PATCHED_ZOOKEEPER_VERSION } from './binding-patch.js';

const ROOT = new URL('../../../../', import.meta.url);
const json = (path: string) => JSON.parse(readFileSync(new URL(path, ROOT), 'utf8'));

// The patches are diffs against one zookeeper release: a range in package.json would let npm install a release
// they do not apply to, and a lock file that disagrees with the pin installs something else in CI than for users.
test('package.json pins zookeeper to exactly the version the patches are written against', () => {
  assert.equal(json('package.json').dependencies.zookeeper, PATCHED_ZOOKEEPER_VERSION);
});

test('package-lock.json agrees with the pin', () => {
  const lock = json('package-lock.json');
  assert.equal(lock.packages[''].dependencies.zookeeper, PATCHED_ZOOKEEPER_VERSION, 'run npm install --package-lock-only');
  assert.equal(lock.packages['node_modules/zookeeper'].version, PATCHED_ZOOKEEPER_VERSION, 'run npm install --package-lock-only');
});

test('every patch in patches/zookeeper applies to the pinned version', () => {
  const dir = new URL('patches/zookeeper/', ROOT);
  const names = readdirSync(dir).filter((name) => name.endsWith('.patch'));
  assert.ok(names.length > 0);
  for (const name of names) {
    const target = /^Applies-To: (.+)$/m.exec(readFileSync(new URL(name, dir), 'utf8'))?.[1];
    assert.equal(target, `zookeeper@${PATCHED_ZOOKEEPER_VERSION}`, name);
  }
});
