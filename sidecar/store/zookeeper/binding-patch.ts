import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The patches scripts/patch-zookeeper-binding.mjs (run by `npm install`) applies to the `zookeeper` binding and its
 * C client (patches/zookeeper/*.patch), by the ids it writes into the build's stamp file: the fd patch (a broken
 * connection could stall the process's other sockets and abort it, node-zookeeper#262), the persistent recursive
 * watch, the host-name resolution delay, the gathered sends, the poll left running and `a_multi`.
 */
export const BINDING_PATCH_IDS = [
  'tokensync fd patch v2',
  'tokensync addwatch patch v1',
  'tokensync resolve patch v1',
  'tokensync send patch v1',
  'tokensync poll patch v1',
  'tokensync multi patch v2',
] as const;

/** The `zookeeper` version the patches are written against: package.json pins exactly this one. */
export const PATCHED_ZOOKEEPER_VERSION = '7.3.0';

/** What is installed, read from files only: the DIRECTORY store and `--version` never load the native module. */
export interface BindingStatus {
  /** The installed `zookeeper` version; `undefined` when the package is not installed. */
  version?: string;
  /** Whether `build/Release/zookeeper.node` exists (install scripts blocked: it does not). */
  built: boolean;
  /** Short names (`fd`, `addwatch`, ...) of the patches the build's stamp lists, in {@link BINDING_PATCH_IDS} order. */
  patches: string[];
}

export function zookeeperBindingStatus(): BindingStatus {
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve('zookeeper/package.json'));
  } catch {
    return { built: false, patches: [] };
  }
  const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  const built = existsSync(join(dir, 'build', 'Release', 'zookeeper.node'));
  const stampPath = join(dir, 'build', 'Release', 'tokensync-patched.stamp');
  const stamp = built && existsSync(stampPath) ? readFileSync(stampPath, 'utf8') : '';
  return { version, built, patches: BINDING_PATCH_IDS.filter((id) => stamp.includes(id)).map(shortName) };
}

/**
 * Whether the installed `zookeeper` binding was rebuilt with every tokensync patch ({@link BINDING_PATCH_IDS}).
 * `undefined` when the package cannot be found (the store then fails to load it anyway).
 */
export function zookeeperBindingPatched(): boolean | undefined {
  const status = zookeeperBindingStatus();
  if (status.version === undefined) return undefined;
  return status.built && status.patches.length === BINDING_PATCH_IDS.length;
}

/** For `tokensync --version`: `zookeeper binding 7.3.0, patched: fd,addwatch,...` | `unpatched` | `not built`. */
export function describeBinding(status: BindingStatus = zookeeperBindingStatus()): string {
  if (status.version === undefined) return 'zookeeper binding not installed';
  const head = `zookeeper binding ${status.version}`;
  if (!status.built) return `${head}, not built`;
  if (status.patches.length === 0) return `${head}, unpatched`;
  const missing = BINDING_PATCH_IDS.map(shortName).filter((name) => !status.patches.includes(name));
  return `${head}, patched: ${status.patches.join(',')}${missing.length > 0 ? ` (missing: ${missing.join(',')})` : ''}`;
}

/** The one command that patches, and if need be builds, the binding this package loads. */
export function bindingFixCommand(cwd: string = process.cwd()): string {
  const script = fileURLToPath(new URL('../../../../scripts/patch-zookeeper-binding.mjs', import.meta.url));
  const shown = relative(cwd, script);
  return `node ${shown.startsWith('..') || isAbsolute(shown) ? script : shown}`;
}

/** One log line for a sidecar running on a binding without every patch. */
export function unpatchedBindingWarning(status: BindingStatus = zookeeperBindingStatus()): string {
  return (
    `the 'zookeeper' binding lacks tokensync's patches (${describeBinding(status)}): a broken ZooKeeper connection can ` +
    `stall this process's other sockets and abort it (node-zookeeper#262), and every token issued costs every ` +
    `sidecar a shard re-list; fix: ${bindingFixCommand()}`
  );
}

/** Why a ZOOKEEPER store cannot start at all; `undefined` when the binding is there to load. */
export function missingBindingProblem(status: BindingStatus = zookeeperBindingStatus()): string | undefined {
  if (status.version === undefined) {
    return `needs the 'zookeeper' npm package, which is not installed; fix: npm install zookeeper@${PATCHED_ZOOKEEPER_VERSION}`;
  }
  if (status.built) return undefined;
  // the patch script builds only the version its patches are written for
  if (status.version !== PATCHED_ZOOKEEPER_VERSION) {
    return "needs the native 'zookeeper' binding, which is not built; fix: npm rebuild zookeeper";
  }
  return `needs the native 'zookeeper' binding, which is not built (npm install scripts blocked?); fix: ${bindingFixCommand()}`;
}

/** `tokensync fd patch v2` -> `fd`. */
function shortName(id: string): string {
  return id.replace(/^tokensync /, '').replace(/ patch v\d+$/, '');
}
