/** A znode's stat (the binding's shape; declared here so that emitted typings do not need `zookeeper.d.ts`). */
export interface ZkStat {
  czxid: number;
  mzxid: number;
  pzxid: number;
  ctime: Date;
  mtime: Date;
  version: number;
  cversion: number;
  /** ACL version: 0 for a node whose ACL was never set. */
  aversion: number;
  /** Owning session in lowercase hex (as {@link ZkClient.sessionId}), `'0'` for a persistent node. */
  ephemeralOwner: string;
  dataLength: number;
  numChildren: number;
  createdInThisSession: boolean;
}

/** Node kinds (`ZOO_PERSISTENT`...; the binding keeps them under `.constants`). */
export const CreateMode = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
} as const;
export type CreateMode = (typeof CreateMode)[keyof typeof CreateMode];

export const ZK_PERM_ALL = 31;

export interface ZkAcl {
  perms: number;
  scheme: string;
  auth: string;
}

/** An op of a {@link ZkClient.multi} transaction. */
export type ZkOp =
  /** `acl`: the node is created with it (never open for a moment, as with `create` then `setAcl`); default open. */
  | { op: 'create'; path: string; data: string | Buffer; mode?: CreateMode; acl?: readonly ZkAcl[] }
  | { op: 'delete'; path: string; version: number }
  | { op: 'check'; path: string; version: number };

export type ZkWatchType = 'child' | 'changed' | 'created' | 'deleted' | 'notwatching';
