import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  BINDING_PATCH_IDS,
  bindingFixCommand,
  describeBinding,
  missingBindingProblem,
  unpatchedBindingWarning,
  zookeeperBindingPatched,
  zookeeperBindingStatus,
} from './binding-patch.js';

const PATCH_DIR = fileURLToPath(new URL('../../../../patches/zookeeper/', import.meta.url));
const ALL = ['fd', 'addwatch', 'resolve', 'send', 'poll', 'multi'];

test('the sidecar checks for exactly the ids the patch files stamp, in their order', () => {
  const names = readdirSync(PATCH_DIR)
    .filter((name) => name.endsWith('.patch'))
    .sort();
  const stamps = names.map((name) => /^Stamp: (.+)$/m.exec(readFileSync(PATCH_DIR + name, 'utf8'))?.[1]);
  assert.deepEqual(stamps, [...BINDING_PATCH_IDS]);
  // 01-fd.patch stamps 'tokensync fd patch v2': the short names --version prints come from the file names too
  assert.deepEqual(
    names.map((name) => name.replace(/^\d+-|\.patch$/g, '')),
    ALL,
  );
});

test('every patch file says what it changes, why, and which upstream issue it works around', () => {
  for (const name of readdirSync(PATCH_DIR).filter((n) => n.endsWith('.patch'))) {
    const header = readFileSync(PATCH_DIR + name, 'utf8').split('\n--- ')[0]!;
    assert.match(header, /^What it changes/m, name);
    assert.match(header, /^Why: /m, name);
    assert.match(header, /^Upstream: \S/m, name);
  }
  assert.match(
    readFileSync(PATCH_DIR + '01-fd.patch', 'utf8'),
    /^Upstream: https:\/\/github\.com\/yfinkelstein\/node-zookeeper\/issues\/262/m,
  );
});

test('describeBinding: patched, partly patched, unpatched, not built, not installed', () => {
  assert.equal(
    describeBinding({ version: '7.3.0', built: true, patches: ALL }),
    'zookeeper binding 7.3.0, patched: fd,addwatch,resolve,send,poll,multi',
  );
  assert.equal(
    describeBinding({ version: '7.3.0', built: true, patches: ['fd'] }),
    'zookeeper binding 7.3.0, patched: fd (missing: addwatch,resolve,send,poll,multi)',
  );
  assert.equal(describeBinding({ version: '7.3.1', built: true, patches: [] }), 'zookeeper binding 7.3.1, unpatched');
  assert.equal(describeBinding({ version: '7.3.0', built: false, patches: [] }), 'zookeeper binding 7.3.0, not built');
  assert.equal(describeBinding({ built: false, patches: [] }), 'zookeeper binding not installed');
});

test('a binding that cannot load is one line naming the one command that fixes it', () => {
  assert.equal(missingBindingProblem({ version: '7.3.0', built: true, patches: [] }), undefined);
  const unbuilt = missingBindingProblem({ version: '7.3.0', built: false, patches: [] })!;
  assert.match(unbuilt, /not built.*; fix: node \S+patch-zookeeper-binding\.mjs$/);
  // the patch script builds only 7.3.0; another version is rebuilt by npm
  assert.match(missingBindingProblem({ version: '7.4.0', built: false, patches: [] })!, /fix: npm rebuild zookeeper$/);
  assert.match(missingBindingProblem({ built: false, patches: [] })!, /fix: npm install zookeeper@7\.3\.0$/);
  const warning = unpatchedBindingWarning({ version: '7.3.0', built: true, patches: [] });
  assert.doesNotMatch(warning, /\n/);
  assert.ok(warning.endsWith(`fix: ${bindingFixCommand()}`), warning);
  for (const line of [unbuilt, warning]) assert.doesNotMatch(line, /\n/);
});

test('the fix command names the script that exists, relative to the working folder when inside it', () => {
  const script = bindingFixCommand('/proc').replace(/^node /, '');
  assert.ok(script.startsWith('/') && existsSync(script), script);
  assert.equal(bindingFixCommand(fileURLToPath(new URL('../../../../', import.meta.url))), 'node scripts/patch-zookeeper-binding.mjs');
});

test('the installed binding carries every patch (npm install ran the script)', () => {
  assert.deepEqual(zookeeperBindingStatus().patches, ALL, 'run `node scripts/patch-zookeeper-binding.mjs`');
  assert.equal(zookeeperBindingPatched(), true);
});
