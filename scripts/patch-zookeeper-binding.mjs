#!/usr/bin/env node
// Applies tokensync's patches (patches/zookeeper/NN-name.patch, in order; each file's header says what it changes,
// why, and which upstream issue it works around) to the installed `zookeeper` binding and the ZooKeeper C client it
// bundles, rebuilds it with node-gyp, and stamps the build with the patches' ids.
//
// Run by `npm install` (tokensync's postinstall), and by hand to fix an install whose scripts were blocked. Never
// fails an install: as a postinstall it prints one line and exits 0 when it cannot patch (another zookeeper version,
// sources it does not recognise, no compiler); a ZOOKEEPER sidecar then warns, or stops naming this command.
// By hand it exits 1 then. Idempotent: the sources are recognised as pristine plus the first k patches, for any k.
// `--check` only reports (exit 1 unless every patch is in the sources and in the build's stamp); `--rebuild` rebuilds
// even when nothing changed; `--no-build` patches the sources only.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyHunks, parsePatch } from './unified-diff.mjs';

const PATCH_DIR = fileURLToPath(new URL('../patches/zookeeper/', import.meta.url));
const STAMP = join('build', 'Release', 'tokensync-patched.stamp');
const checkOnly = process.argv.includes('--check');
const inInstall = process.env.npm_lifecycle_event === 'postinstall';
const log = (line) => console.log(`patch-zookeeper-binding: ${line}`);
/** The one line a user sees when the binding stays unpatched; exit 0 inside an install, so the install succeeds. */
function giveUp(line) {
  console.error(`patch-zookeeper-binding: ${line}; the zookeeper binding stays unpatched (a DIRECTORY store does not need it)`);
  process.exit(inInstall ? 0 : 1);
}

const patches = readdirSync(PATCH_DIR)
  .filter((name) => name.endsWith('.patch'))
  .sort()
  .map((name) => {
    const parsed = parsePatch(readFileSync(join(PATCH_DIR, name), 'utf8'));
    if (!parsed.fields.Stamp || !parsed.fields['Applies-To']) throw new Error(`${name}: the header needs "Stamp:" and "Applies-To:"`);
    return { name, ...parsed };
  });
const target = patches[0].fields['Applies-To'];
const ids = patches.map((patch) => patch.fields.Stamp);

// The binding tokensync itself loads: resolved from this script's folder, as the sidecar resolves it from dist/.
let dir;
try {
  dir = dirname(createRequire(import.meta.url).resolve('zookeeper/package.json'));
} catch {
  log('the zookeeper package is not installed; nothing to patch');
  process.exit(0);
}
const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
if (`zookeeper@${version}` !== target) {
  giveUp(`zookeeper ${version} is installed at ${dir}, the patches are written for ${target} (pin it: npm install ${target})`);
}

// With install scripts blocked, zookeeper's own install never unpacked its C client: do what it does.
const cClient = join(dir, 'deps', 'zookeeper-client-c');
if (!existsSync(cClient) && !checkOnly) {
  try {
    execFileSync(process.execPath, ['scripts/prepublish.js'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    giveUp(
      `could not unpack the C client in ${dir} (${String(error.stderr ?? error.message)
        .trim()
        .split('\n')
        .pop()})`,
    );
  }
}

// The sources hold pristine plus the first k patches for exactly one k: find it by undoing patches k..1.
const files = new Map();
const read = (path) => {
  if (!files.has(path)) files.set(path, existsSync(join(dir, path)) ? readFileSync(join(dir, path), 'utf8') : undefined);
  return files.get(path);
};
function undo(texts, patch) {
  for (const file of patch.files) {
    const text = texts.get(file.path) ?? read(file.path);
    const before = text === undefined ? undefined : applyHunks(text, file.hunks, { reverse: true });
    if (before === undefined) return false;
    texts.set(file.path, before);
  }
  return true;
}
let applied = patches.length;
for (; applied > 0; applied--) {
  const texts = new Map();
  if (
    patches
      .slice(0, applied)
      .reverse()
      .every((patch) => undo(texts, patch))
  )
    break;
}
const pending = patches.slice(applied);
const changed = new Map();
for (const patch of pending) {
  for (const file of patch.files) {
    const text = changed.get(file.path) ?? read(file.path);
    const after = text === undefined ? undefined : applyHunks(text, file.hunks);
    if (after === undefined) {
      if (checkOnly) break;
      giveUp(`${patch.name} does not apply to ${file.path} in ${dir} (sources changed since the ${target} tarball?)`);
    }
    changed.set(file.path, after);
  }
}

const stamp = existsSync(join(dir, STAMP)) ? readFileSync(join(dir, STAMP), 'utf8') : '';
const built = existsSync(join(dir, 'build', 'Release', 'zookeeper.node')) && ids.every((id) => stamp.includes(id));
if (checkOnly) {
  const state = pending.length === 0 ? 'patched' : `NOT patched (missing ${pending.map((p) => p.name).join(', ')})`;
  log(`zookeeper ${version} at ${dir}: ${state}, ${built ? 'built' : 'NOT built'} (${ids.join(', ')})`);
  process.exit(pending.length === 0 && built ? 0 : 1);
}
if (pending.length > 0) {
  // a new file renamed over the old: pnpm hard-links package files from its store, which must stay pristine
  for (const [path, text] of changed) {
    writeFileSync(join(dir, `${path}.tokensync-new`), text);
    renameSync(join(dir, `${path}.tokensync-new`), join(dir, path));
  }
  log(`patched ${dir}: ${pending.map((p) => p.name).join(', ')}`);
}
if (pending.length === 0 && (process.argv.includes('--no-build') || (built && !process.argv.includes('--rebuild')))) {
  log(`zookeeper ${version} already patched${built ? ' and built' : ''}`);
  process.exit(0);
}
if (process.argv.includes('--no-build')) process.exit(0);

// npm sets npm_config_node_gyp for lifecycle scripts; by hand, use the node-gyp that ships inside npm.
const gyp = [
  process.env.npm_config_node_gyp,
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].find((path) => path && existsSync(path));
if (!gyp) giveUp('node-gyp not found (it ships with npm), cannot build the binding');
// A full rebuild (configure, the C client, the addon): a plain `build` keeps paths to objects that may be gone.
const args = ['rebuild'];
// By hand, build against the running Node's own headers when it has them, as npm does when nodedir is set.
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node.h'))) args.push(`--nodedir=${prefix}`);
const started = Date.now();
try {
  execFileSync(process.execPath, [gyp, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
} catch (error) {
  process.stderr.write(String(error.stderr ?? ''));
  giveUp(`node-gyp rebuild failed in ${dir} (needs python3, make and a C++ compiler)`);
}
writeFileSync(join(dir, STAMP), `${ids.join(', ')}: zookeeper ${version}, ${new Date().toISOString()}\n`);
log(`rebuilt the binding with ${patches.length} patches (node-gyp rebuild, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
