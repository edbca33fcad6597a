import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PATCHED_ZOOKEEPER_VERSION } from '../sidecar/store/zookeeper/binding-patch.js';

/**
 * scripts/patch-zookeeper-binding.mjs against a pristine zookeeper tarball from the registry (npm's cache): its own
 * diff applier gives what GNU patch gives, finds how many patches are already in, and refuses sources it does not
 * recognise without touching them (one line; exit 0 inside an install). No build here: package-install.test.ts
 * builds the binding for real.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PATCHES = join(ROOT, 'patches', 'zookeeper');
const patchFiles = readdirSync(PATCHES)
  .filter((name) => name.endsWith('.patch'))
  .sort();
let work: string;
let pristine: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'tokensync-binding-patches-'));
  execFileSync('npm', ['pack', `zookeeper@${PATCHED_ZOOKEEPER_VERSION}`, '--pack-destination', work, '--silent'], { stdio: 'ignore' });
  pristine = join(work, 'pristine');
  mkdirSync(pristine);
  execFileSync('tar', ['-xzf', join(work, `zookeeper-${PATCHED_ZOOKEEPER_VERSION}.tgz`), '-C', pristine, '--strip-components=1']);
  // what the binding's own install script does first (a blocked install skips it; the script then does it itself)
  execFileSync('tar', ['-xzf', join(pristine, 'deps', 'zookeeper-client-c.tar.gz'), '-C', join(pristine, 'deps')], { stdio: 'ignore' });
});

after(() => rmSync(work, { recursive: true, force: true }));

/** A project laid out as installed: scripts/ and patches/ beside node_modules/zookeeper (a copy of `from`). */
function project(name: string, from = pristine): { dir: string; binding: string } {
  const dir = join(work, name);
  cpSync(join(ROOT, 'scripts'), join(dir, 'scripts'), { recursive: true });
  cpSync(join(ROOT, 'patches'), join(dir, 'patches'), { recursive: true });
  cpSync(from, join(dir, 'node_modules', 'zookeeper'), { recursive: true });
  return { dir, binding: join(dir, 'node_modules', 'zookeeper') };
}

function run(dir: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const { npm_lifecycle_event: _, ...rest } = process.env;
  const result = spawnSync(process.execPath, [join(dir, 'scripts', 'patch-zookeeper-binding.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...rest, ...env },
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

/** GNU patch, applied the way a reviewer would: the first `count` patch files, in order. */
function gnuPatch(dir: string, count = patchFiles.length): void {
  for (const name of patchFiles.slice(0, count)) execFileSync('patch', ['-p1', '-s', '-d', dir, '-i', join(PATCHES, name)]);
}

const FILES = [
  'src/node-zk.cpp',
  'deps/zookeeper-client-c/include/zookeeper.h',
  'deps/zookeeper-client-c/src/zk_adaptor.h',
  'deps/zookeeper-client-c/src/zk_hashtable.c',
  'deps/zookeeper-client-c/src/zookeeper.c',
];
const snapshot = (binding: string) => FILES.map((file) => readFileSync(join(binding, file), 'utf8'));

test('on pristine sources: every patch applied, the same bytes GNU patch writes; a second run changes nothing', () => {
  const { dir, binding } = project('full');
  const check = run(dir, ['--check']);
  assert.equal(check.code, 1);
  assert.match(check.out, /NOT patched \(missing 01-fd\.patch, .*06-multi\.patch\), NOT built/);

  const first = run(dir, ['--no-build']);
  assert.equal(first.code, 0, first.err);
  assert.match(
    first.out,
    /patched .*: 01-fd\.patch, 02-addwatch\.patch, 03-resolve\.patch, 04-send\.patch, 05-poll\.patch, 06-multi\.patch/,
  );

  const reference = project('gnu').binding;
  gnuPatch(reference);
  const patched = snapshot(binding);
  assert.deepEqual(patched, snapshot(reference));
  assert.notDeepEqual(patched, snapshot(pristine));

  const again = run(dir, ['--no-build']);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /already patched/);
  assert.deepEqual(snapshot(binding), patched);
  const recheck = run(dir, ['--check']);
  assert.equal(recheck.code, 1, 'patched but not built');
  assert.match(recheck.out, /: patched, NOT built/);
});

test('sources holding the first patches get the rest, in order', () => {
  const reference = project('gnu-all').binding;
  gnuPatch(reference);
  for (const count of [1, 3, 5]) {
    const partial = join(work, `partial-${count}`);
    cpSync(pristine, partial, { recursive: true });
    gnuPatch(partial, count);
    const { dir, binding } = project(`from-${count}`, partial);
    const result = run(dir, ['--no-build']);
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, new RegExp(`: ${patchFiles.slice(count).join(', ').replace(/\./g, '\\.')}$`, 'm'));
    assert.deepEqual(snapshot(binding), snapshot(reference), `after ${count} patches`);
  }
});

test('sources it does not recognise: one line, nothing written; exit 1 by hand, 0 inside an install', () => {
  const { dir, binding } = project('changed');
  const file = join(binding, 'src', 'node-zk.cpp');
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace(
      'int rc = zookeeper_interest(zhandle, &fd, &interest, &tv);',
      'int rc = zookeeper_interest(zhandle, &fd, &interest, &tv); /* local */',
    ),
  );
  const before = snapshot(binding);
  const byHand = run(dir, ['--no-build']);
  assert.equal(byHand.code, 1);
  assert.equal(byHand.err.trim().split('\n').length, 1, byHand.err);
  assert.match(byHand.err, /\d\d-[a-z]+\.patch does not apply to src\/node-zk\.cpp .*stays unpatched/);
  const inInstall = run(dir, [], { npm_lifecycle_event: 'postinstall' });
  assert.equal(inInstall.code, 0);
  assert.equal(inInstall.err.trim().split('\n').length, 1, inInstall.err);
  assert.deepEqual(snapshot(binding), before, 'nothing written');
});

test('another zookeeper version: one line naming the pin, exit 0 inside an install, sources untouched', () => {
  const { dir, binding } = project('other-version');
  const manifest = join(binding, 'package.json');
  writeFileSync(manifest, readFileSync(manifest, 'utf8').replace(`"version": "${PATCHED_ZOOKEEPER_VERSION}"`, '"version": "7.3.1"'));
  const result = run(dir, [], { npm_lifecycle_event: 'postinstall' });
  assert.equal(result.code, 0);
  assert.equal(result.out, '');
  assert.match(
    result.err.trim(),
    new RegExp(
      `^patch-zookeeper-binding: zookeeper 7\\.3\\.1 is installed at .*, the patches are written for zookeeper@${PATCHED_ZOOKEEPER_VERSION.replace(/\./g, '\\.')} \\(pin it: npm install zookeeper@[\\d.]+\\); the zookeeper binding stays unpatched[^\\n]*$`,
    ),
  );
  assert.deepEqual(snapshot(binding), snapshot(pristine));
  assert.equal(run(dir, ['--check']).code, 1);
});

test('a source file hard-linked from a package store (pnpm) is replaced, never written through', () => {
  const { dir, binding } = project('hard-linked');
  const store = join(work, 'store-node-zk.cpp');
  cpSync(join(pristine, 'src', 'node-zk.cpp'), store);
  rmSync(join(binding, 'src', 'node-zk.cpp'));
  linkSync(store, join(binding, 'src', 'node-zk.cpp'));
  const result = run(dir, ['--no-build']);
  assert.equal(result.code, 0, result.err);
  assert.equal(readFileSync(store, 'utf8'), readFileSync(join(pristine, 'src', 'node-zk.cpp'), 'utf8'), 'the store copy is pristine');
  assert.notEqual(readFileSync(join(binding, 'src', 'node-zk.cpp'), 'utf8'), readFileSync(store, 'utf8'));
});
