import { CreateMode, type ZkAcl, type ZkClient } from './zk-client.js';

/**
 * Creates a node readable and writable by `acl` alone (the open ACL when `acl` is undefined).
 *
 * This binding's `create` always uses the open ACL, so the ACL follows in a `set_acl` sent right behind it on
 * the same session: no round trip in between, and the server applies the two in order. A sequential node's
 * name is known only from the create's answer, so its `set_acl` waits for it.
 *
 * Caveat: between the two requests the node is open, and a process that dies between them leaves it open
 * (its ACL version stays 0, which is how the store finds and repairs such nodes).
 */
export async function createProtected(
  client: ZkClient,
  acl: ZkAcl[] | undefined,
  path: string,
  data: string,
  mode: CreateMode,
): Promise<string> {
  if (!acl) return client.create(path, data, mode);
  if (mode === CreateMode.EPHEMERAL_SEQUENTIAL || mode === CreateMode.PERSISTENT_SEQUENTIAL) {
    const created = await client.create(path, data, mode);
    await client.setAcl(created, -1, acl);
    return created;
  }
  const [created, protectedResult] = await Promise.allSettled([client.create(path, data, mode), client.setAcl(path, -1, acl)]);
  if (created.status === 'rejected') throw created.reason;
  if (protectedResult.status === 'rejected') throw protectedResult.reason;
  return created.value;
}
