/**
 * Typings for the parts of the `zookeeper` npm binding (7.3.0, C client 3.8) that this store uses, written
 * from its source (`lib/zookeeper.js`, `src/node-zk.cpp`) because the typings it ships declare global
 * types and mistype callbacks (`error` is a string, `ctime` a Date).
 *
 * The store talks to {@link ZkNativeHandle} (`binding.native`) directly: the JS wrapper formats every call
 * with `util.inspect` even when no logger is set, which costs about a third of the read rate.
 *
 * Traps, verified on this machine:
 * - `a_get_acl` crashes the process (SIGSEGV) on any non-OK result (NONODE, NOAUTH, connection loss): its
 *   completion frees a NULL ACL vector. It is deliberately not typed here; use `stat.aversion` instead.
 * - `a_create` always uses the open ACL; protect nodes with `a_set_acl`, which takes `perm`, not `perms`.
 * - Versions are passed through `uint32`, so `-1` ("any version") works.
 * - A call on a closed handle returns `ZINVALIDSTATE` (-9) synchronously and never calls back.
 */

/** A znode's stat as the binding builds it. */
export interface ZkBindingStat {
  czxid: number;
  mzxid: number;
  pzxid: number;
  ctime: Date;
  mtime: Date;
  version: number;
  cversion: number;
  aversion: number;
  /** Session id in lowercase hex, `'0'` for a persistent node. */
  ephemeralOwner: string;
  dataLength: number;
  numChildren: number;
  createdInThisSession: boolean;
}

/** The form `a_set_acl` reads: note `perm`. */
export interface ZkNativeAcl {
  perm: number;
  scheme: string;
  auth: string;
}

export type ZkVoidCallback = (rc: number, error: string) => void;
export type ZkPathCallback = (rc: number, error: string, path: string) => void;
export type ZkStatCallback = (rc: number, error: string, stat: ZkBindingStat | null) => void;
export type ZkDataCallback = (rc: number, error: string, stat: ZkBindingStat | null, data: Buffer | null) => void;
export type ZkChildrenCallback = (rc: number, error: string, children: string[] | null) => void;
export type ZkChildrenStatCallback = (rc: number, error: string, children: string[] | null, stat: ZkBindingStat | null) => void;

/** The C++ object (`binding.native`). Every method returns the C client's immediate result code. */
export interface ZkNativeHandle {
  a_create(path: string, data: string | Buffer, flags: number, cb: ZkPathCallback): number;
  a_exists(path: string, watch: boolean, cb: ZkStatCallback): number;
  a_get(path: string, watch: boolean, cb: ZkDataCallback): number;
  a_get_children(path: string, watch: boolean, cb: ZkChildrenCallback): number;
  a_get_children2(path: string, watch: boolean, cb: ZkChildrenStatCallback): number;
  a_set(path: string, data: string | Buffer, version: number, cb: ZkStatCallback): number;
  a_delete_(path: string, version: number, cb: ZkVoidCallback): number;
  a_set_acl(path: string, version: number, acl: ZkNativeAcl[], cb: ZkVoidCallback): number;
  add_auth(scheme: string, auth: string, cb: ZkVoidCallback): number;
  a_sync(path: string, cb: ZkPathCallback): number;
  /**
   * ZooKeeper 3.6's addWatch (mode 0 persistent, 1 persistent recursive); only in a binding rebuilt with
   * tokensync's addwatch patch (scripts/patch-zookeeper-binding.mjs). Its events arrive as the handle's
   * `created` / `deleted` / `changed` / `child` events.
   */
  a_add_watch?(path: string, mode: number, cb: ZkVoidCallback): number;
  /**
   * `true` queues requests without sending them; `false` sends every queued request (returns 1 when some is still
   * queued). Only in a binding rebuilt with tokensync's send patch.
   */
  set_corked?(corked: boolean): number;
  /**
   * One transaction (zoo_amulti): every op applied, or none. `errs[i]` is op i's own code (ZOK, its failure, or
   * RUNTIMEINCONSISTENCY for ops not tried after one failed). Only in a binding rebuilt with tokensync's multi patch.
   */
  a_multi?(ops: ZkNativeOp[], cb: (rc: number, error: string, errs: number[]) => void): number;
}

/** An op of `a_multi`: 1 create (with `acl`, else the open ACL), 2 delete, 13 version check. */
export type ZkNativeOp =
  { type: 1; path: string; data: string | Buffer; flags: number; acl?: ZkNativeAcl[] } | { type: 2 | 13; path: string; version: number };

export interface ZooKeeperBindingConfig {
  /** `host:port,host:port`; a chroot suffix is allowed but this store prefixes paths itself. */
  connect: string;
  /** Requested session timeout, ms. */
  timeout: number;
  /** C client log level; 0 silences it (it writes to stdout/stderr, never through our logger). Process-wide. */
  debug_level: number;
  /** `false` shuffles the servers. Process-wide. */
  host_order_deterministic: boolean;
  /** Empty polls tolerated before the binding closes the session itself (default 10). */
  response_counter_limit: number;
}

/** An instance of `require('zookeeper')` (the promise class, an EventEmitter). */
export interface ZooKeeperBinding {
  readonly native: ZkNativeHandle;
  /** Starts connecting; emits `connect` once connected. */
  init(config: Partial<ZooKeeperBindingConfig>): this;
  close(): void;
  /** Receives the wrapper's own lines (`Calling ...`, `Emitting ...`). */
  setLogger(logger: boolean | ((line: string) => void)): void;
  on(event: 'connect' | 'connecting', listener: (client: unknown, path?: string) => void): this;
  /** `code`: 0 after `close()`, -112 session expired, -113 auth failed. */
  on(event: 'close', listener: (client: unknown, code: number) => void): this;
  /** Client-wide watcher; the path is the SECOND argument. */
  on(event: 'child' | 'changed' | 'created' | 'deleted' | 'notwatching', listener: (handle: unknown, path: string) => void): this;
  removeAllListeners(): this;
  /** C client state: 1 connecting, 2 associating, 3 connected, -112 expired, -113 auth failed, 0 closed. */
  readonly state: number;
  /** Session id, lowercase hex. */
  readonly client_id: string;
  /** Session password, hex. */
  readonly client_password: string;
  /** Negotiated session timeout, ms (-1 when closed). */
  readonly timeout: number;
}

export interface ZooKeeperBindingClass {
  new (config: ZooKeeperBindingConfig): ZooKeeperBinding;
  readonly constants: Readonly<Record<string, number>>;
}
