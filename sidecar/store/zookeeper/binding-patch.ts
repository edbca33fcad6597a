import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The patches scripts/patch-zookeeper-binding.mjs (run by `npm install`) applies to the `zookeeper` binding and its
 * C client, by the ids it writes into the build's stamp file: the fd patch (a broken connection could stall the
 * process's other sockets and abort it, node-zookeeper#262), the persistent recursive watch, the host-name
 * resolution delay, the gathered sends, the
 * poll left running and `a_multi` (many creates in one transaction).
 */
export const BINDING_PATCH_IDS = [
  'tokensync fd patch v2',
  'tokensync addwatch patch v1',
  'tokensync resolve patch v1',
  'tokensync send patch v1',
  'tokensync poll patch v1',
  'tokensync multi patch v2',
] as const;

/**
 * Whether the installed `zookeeper` binding was rebuilt with every tokensync patch ({@link BINDING_PATCH_IDS}).
 * `undefined` when the package cannot be found (the store then fails to load it anyway).
 */
export function zookeeperBindingPatched(): boolean | undefined {
  try {
    const dir = dirname(createRequire(import.meta.url).resolve('zookeeper/package.json'));
    const stamp = join(dir, 'build', 'Release', 'tokensync-patched.stamp');
    if (!existsSync(stamp)) return false;
    const text = readFileSync(stamp, 'utf8');
    return BINDING_PATCH_IDS.every((id) => text.includes(id));
  } catch {
    return undefined;
  }
}

export const UNPATCHED_BINDING_WARNING =
  "the 'zookeeper' binding lacks some of tokensync's patches (scripts/patch-zookeeper-binding.mjs): without the fd " +
  'patch a broken ZooKeeper connection can stall other sockets of this process and abort it (node-zookeeper#262); ' +
  'without the others every token issued costs every sidecar a shard re-list and the client runs getaddrinfo() on ' +
  "every socket event; run `node scripts/patch-zookeeper-binding.mjs` in tokensync's package directory (npm install " +
  'does it)';
