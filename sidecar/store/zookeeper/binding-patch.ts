import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Whether the installed `zookeeper` binding was rebuilt with tokensync's fd patch
 * (scripts/patch-zookeeper-binding.mjs, run by `npm install`). Unpatched, a broken ZooKeeper connection can
 * leave one of the process's other sockets without events and later abort the process inside libuv.
 * `undefined` when the package cannot be found (the store then fails to load it anyway).
 */
export function zookeeperBindingPatched(): boolean | undefined {
  try {
    const dir = dirname(createRequire(import.meta.url).resolve('zookeeper/package.json'));
    return existsSync(join(dir, 'build', 'Release', 'tokensync-patched.stamp'));
  } catch {
    return undefined;
  }
}

export const UNPATCHED_BINDING_WARNING =
  "the 'zookeeper' binding lacks tokensync's fd patch (node-zookeeper#262): when a ZooKeeper connection breaks, " +
  'other sockets of this process can stall and the process can abort; run `node scripts/patch-zookeeper-binding.mjs` ' +
  "in tokensync's package directory (npm install does it)";
