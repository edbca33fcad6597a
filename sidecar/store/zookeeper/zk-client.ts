// Over 400 lines: one method per binding call, each with the same promise and error wrapping; the shapes and the
// binding loading are already apart (zk-types.ts, zk-binding.ts).
import { EventEmitter } from 'node:events';
import type { Logger } from '../../util/logger.js';
import { ZkCode, ZkError } from './zk-error.js';
import { ZkMultiError } from './zk-multi-error.js';
import type { ZkNativeOp, ZooKeeperBinding } from './zookeeper.js';
import { RESPONSE_COUNTER_LIMIT, loadBinding, rateLimitedLines } from './zk-binding.js';
import { CreateMode, type ZkAcl, type ZkOp, type ZkStat, type ZkWatchType } from './zk-types.js';

export { CreateMode, ZK_PERM_ALL, type ZkAcl, type ZkOp, type ZkStat, type ZkWatchType } from './zk-types.js';

export interface ZkClientEvents {
  /** A connection is up (first one, or back after a loss with the same session). */
  connected: [];
  /** The connection dropped; the C client is reconnecting and the session may still be alive. */
  disconnected: [];
  /** The handle is gone: `code` -112 session expired, -113 auth failed, 0 closed by us. */
  closed: [code: number];
  /** The client-wide watcher fired (one-shot watches set with `watch = true`). */
  watch: [type: ZkWatchType, path: string];
}

export interface ZkClientOptions {
  /** `host:port,...` without a chroot. */
  connect: string;
  sessionTimeoutMs: number;
  /**
   * A request unanswered for this long is failed with OPERATIONTIMEOUT. The C client itself only gives up
   * after two thirds of the session timeout of silence; this keeps callers from hanging that long.
   */
  operationTimeoutMs: number;
  logger: Logger;
}

interface Pending {
  /** Infinity: no deadline (kept apart from the timed requests, whose map is in deadline order). */
  deadline: number;
  op: string;
  path: string;
  reject: (error: Error) => void;
}

/**
 * A thin typed promise wrapper over one ZooKeeper handle (one session) of the `zookeeper` binding.
 *
 * Requests fail fast with CONNECTIONLOSS while the connection is down instead of being queued by the C
 * client until the next connection attempt, so callers can journal instead of hang. Replies on one session
 * arrive in the order the requests were sent.
 *
 * Caveat: a write that fails with CONNECTIONLOSS or OPERATIONTIMEOUT may still have been applied.
 */
export class ZkClient extends EventEmitter<ZkClientEvents> {
  private readonly zk: ZooKeeperBinding;
  private readonly pending = new Map<number, Pending>();
  private readonly untimed = new Map<number, Pending>();
  private nextId = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private connectedFlag = false;
  private closedFlag = false;
  /** The binding can hold requests back until the end of the event-loop turn (tokensync's send patch). */
  private readonly canCork: boolean;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    if (!this.closedFlag) this.zk.native.set_corked!(false);
  };
  private readonly logger: Logger;

  constructor(private readonly options: ZkClientOptions) {
    super();
    this.logger = options.logger;
    const Binding = loadBinding();
    this.zk = new Binding({
      connect: options.connect,
      timeout: options.sessionTimeoutMs,
      // The C client logs to stdout/stderr, past winston and into CLI output: keep it silent, we log state changes.
      debug_level: 0,
      host_order_deterministic: false,
      response_counter_limit: RESPONSE_COUNTER_LIMIT,
    });
    this.canCork = typeof this.zk.native.set_corked === 'function';
    if (this.logger.isDebugEnabled()) this.zk.setLogger(rateLimitedLines(this.logger));
    this.zk.on('connect', () => {
      if (this.closedFlag) return;
      this.connectedFlag = true;
      this.emit('connected');
    });
    this.zk.on('connecting', () => {
      if (this.closedFlag) return;
      const was = this.connectedFlag;
      this.connectedFlag = false;
      if (was) this.emit('disconnected');
    });
    this.zk.on('close', (_client, code) => this.onClosed(typeof code === 'number' ? code : 0));
    for (const type of ['child', 'changed', 'created', 'deleted', 'notwatching'] as const) {
      this.zk.on(type, (_handle, path) => {
        if (!this.closedFlag) this.emit('watch', type, path);
      });
    }
  }

  /** Starts connecting; `connected` follows. */
  connect(): void {
    this.zk.init({});
  }

  get isConnected(): boolean {
    return this.connectedFlag && !this.closedFlag;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Session id in lowercase hex (as `stat.ephemeralOwner`), `'0'` before the first connection. */
  get sessionId(): string {
    return this.closedFlag ? '0' : this.zk.client_id;
  }

  /** The timeout the server granted, or the requested one before it answered. */
  get negotiatedTimeoutMs(): number {
    const t = this.closedFlag ? -1 : this.zk.timeout;
    return t > 0 ? t : this.options.sessionTimeoutMs;
  }

  /**
   * Adds credentials to the session; the C client keeps them and re-sends them on every reconnect, ahead
   * of any request. Allowed before `connected`; resolves once the server accepted them, with no deadline
   * (the first connection may take a while).
   */
  addAuth(scheme: string, credentials: string): Promise<void> {
    // the error names the scheme only: ZkError messages end up in logs
    return this.call(
      'add_auth',
      scheme,
      false,
      (cb) => this.zk.native.add_auth(scheme, credentials, cb),
      () => undefined,
    );
  }

  create(path: string, data: string | Buffer, mode: CreateMode = CreateMode.PERSISTENT): Promise<string> {
    return this.call(
      'create',
      path,
      true,
      (cb) => this.zk.native.a_create(path, data, mode, cb),
      (created) => created as string,
    );
  }

  /** The node's stat, or null when it does not exist. With `watch`, a NONODE leaves a creation watch. */
  async exists(path: string, watch = false): Promise<ZkStat | null> {
    try {
      return await this.call(
        'exists',
        path,
        true,
        (cb) => this.zk.native.a_exists(path, watch, cb),
        (stat) => stat as ZkStat,
      );
    } catch (error) {
      if (error instanceof ZkError && error.rc === ZkCode.NONODE) return null;
      throw error;
    }
  }

  get(path: string, watch = false): Promise<{ stat: ZkStat; data: Buffer }> {
    return this.call(
      'get',
      path,
      true,
      (cb) => this.zk.native.a_get(path, watch, cb),
      (stat, data) => ({ stat: stat as ZkStat, data: (data as Buffer | null) ?? Buffer.alloc(0) }),
    );
  }

  getChildren(path: string, watch = false): Promise<string[]> {
    return this.call(
      'get_children',
      path,
      true,
      (cb) => this.zk.native.a_get_children(path, watch, cb),
      (children) => (children as string[] | null) ?? [],
    );
  }

  /** Children and the parent's stat: `pzxid` is the zxid of the last change to the child list. */
  getChildrenWithStat(path: string, watch = false): Promise<{ children: string[]; stat: ZkStat }> {
    return this.call(
      'get_children2',
      path,
      true,
      (cb) => this.zk.native.a_get_children2(path, watch, cb),
      (children, stat) => ({ children: (children as string[] | null) ?? [], stat: stat as ZkStat }),
    );
  }

  set(path: string, data: string | Buffer, version: number): Promise<ZkStat> {
    return this.call(
      'set',
      path,
      true,
      (cb) => this.zk.native.a_set(path, data, version, cb),
      (stat) => stat as ZkStat,
    );
  }

  delete(path: string, version: number): Promise<void> {
    return this.call(
      'delete',
      path,
      true,
      (cb) => this.zk.native.a_delete_(path, version, cb),
      () => undefined,
    );
  }

  setAcl(path: string, version: number, acl: ZkAcl[]): Promise<void> {
    const native = acl.map((a) => ({ perm: a.perms, scheme: a.scheme, auth: a.auth }));
    return this.call(
      'set_acl',
      path,
      true,
      (cb) => this.zk.native.a_set_acl(path, version, native, cb),
      () => undefined,
    );
  }

  /**
   * Makes the server this session talks to catch up with the leader; a read sent right behind it on the
   * same session sees every write committed before the sync (ZooKeeper reads are otherwise only as fresh
   * as the server that answers them).
   */
  sync(path: string): Promise<void> {
    return this.call(
      'sync',
      path,
      true,
      (cb) => this.zk.native.a_sync(path, cb),
      () => undefined,
    );
  }

  /**
   * Whether this binding can set persistent watches ({@link addWatch}): it was rebuilt with tokensync's addwatch
   * patch. The server must also be ZooKeeper 3.6 or later (an older one fails the call with UNIMPLEMENTED).
   */
  get canAddWatch(): boolean {
    return typeof this.zk.native.a_add_watch === 'function';
  }

  /**
   * Sets a persistent watch (ZooKeeper 3.6's addWatch): `recursive`, it reports every node created, changed or
   * deleted anywhere under `path` (as `watch` events with the node's path), and stays armed until the connection
   * drops. The server forgets it with the connection: set it again after every reconnect.
   */
  addWatch(path: string, recursive: boolean): Promise<void> {
    if (!this.canAddWatch) {
      return Promise.reject(new ZkError(ZkCode.UNIMPLEMENTED, 'add_watch', path, 'binding without the addwatch patch'));
    }
    return this.call(
      'add_watch',
      path,
      true,
      (cb) => this.zk.native.a_add_watch!(path, recursive ? 1 : 0, cb),
      () => undefined,
    );
  }

  /** Whether this binding can send transactions ({@link multi}): it was rebuilt with tokensync's multi patch. */
  get canMulti(): boolean {
    return typeof this.zk.native.a_multi === 'function';
  }

  /**
   * Applies `ops` as ONE transaction (ZooKeeper's multi): one proposal and one log write for all of them, every op
   * applied or none. A refusal is a {@link ZkMultiError} naming the op that failed (nothing was applied); a
   * CONNECTIONLOSS or OPERATIONTIMEOUT leaves the whole transaction applied or not, as for any write.
   */
  multi(ops: readonly ZkOp[]): Promise<void> {
    const first = ops[0]?.path ?? '';
    if (!this.canMulti) {
      return Promise.reject(new ZkError(ZkCode.UNIMPLEMENTED, 'multi', first, 'binding without the multi patch'));
    }
    if (ops.length === 0) return Promise.resolve();
    const native: ZkNativeOp[] = ops.map((op) =>
      op.op === 'create'
        ? {
            type: 1,
            path: op.path,
            data: op.data,
            flags: op.mode ?? CreateMode.PERSISTENT,
            ...(op.acl && { acl: op.acl.map((a) => ({ perm: a.perms, scheme: a.scheme, auth: a.auth })) }),
          }
        : { type: op.op === 'delete' ? 2 : 13, path: op.path, version: op.version },
    );
    const result = this.call(
      'multi',
      first,
      true,
      (cb) => this.zk.native.a_multi!(native, cb),
      () => undefined,
      (rc, errs) => {
        // a refusal names its op; connection-level codes (nothing known of the outcome) stay plain ZkErrors
        const codes = Array.isArray(errs) ? (errs as number[]) : [];
        const failedIndex = codes.findIndex((code) => code !== ZkCode.OK && code !== ZkCode.RUNTIMEINCONSISTENCY);
        const plain = new ZkError(rc, 'multi', first);
        if (plain.isUnavailable || failedIndex < 0 || codes.length !== ops.length) return plain;
        return new ZkMultiError(rc, ops[failedIndex]!.path, failedIndex, codes);
      },
    );
    // a transaction is a batch already (sent from the end of a turn, by CreateBatcher): it leaves now, with
    // whatever else this turn queued, rather than at the next turn's end
    if (this.corked) this.uncork();
    return result;
  }

  /** Ends the session (its ephemeral nodes go at once when connected). Idempotent. */
  close(): void {
    if (this.closedFlag) return;
    this.zk.close();
    // the binding emits `close` synchronously; make sure we are marked closed even if it did not
    this.onClosed(0);
  }

  private onClosed(code: number): void {
    const first = !this.closedFlag;
    this.closedFlag = true;
    this.connectedFlag = false;
    for (const map of [this.pending, this.untimed]) {
      for (const [id, p] of map) {
        map.delete(id);
        p.reject(new ZkError(ZkCode.CLOSING, p.op, p.path, 'session closed'));
      }
    }
    this.stopSweeper();
    if (first) this.emit('closed', code);
  }

  /** `connectedOnly`: fail at once while disconnected, and give up after the operation timeout. */
  private call<T>(
    op: string,
    path: string,
    connectedOnly: boolean,
    invoke: (cb: (rc: number, error: string, a?: unknown, b?: unknown) => void) => number,
    extract: (a: unknown, b: unknown) => T,
    refusal: (rc: number, a: unknown) => ZkError = (rc) => new ZkError(rc, op, path),
  ): Promise<T> {
    if (this.closedFlag) return Promise.reject(new ZkError(ZkCode.CLOSING, op, path, 'session closed'));
    if (connectedOnly && !this.connectedFlag) {
      return Promise.reject(new ZkError(ZkCode.CONNECTIONLOSS, op, path, 'not connected'));
    }
    const map = connectedOnly ? this.pending : this.untimed;
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const deadline = connectedOnly ? Date.now() + this.options.operationTimeoutMs : Infinity;
      map.set(id, { deadline, op, path, reject });
      // The requests of one event-loop turn (the creates of every HTTP request read in it, a window of pipelined
      // reads) leave together at its end: one system call, one read for the server, instead of two sends each.
      if (this.canCork && !this.corked) {
        this.corked = true;
        this.zk.native.set_corked!(true);
        setImmediate(this.uncork);
      }
      let rc: number;
      try {
        rc = invoke((code, _message, a, b) => {
          if (code === ZkCode.CONNECTIONLOSS) this.noteConnectionLoss();
          if (!map.delete(id)) return; // timed out or closed already
          if (code === ZkCode.OK) resolve(extract(a, b));
          else reject(refusal(code, a));
        });
      } catch (error) {
        map.delete(id);
        reject(error as Error);
        return;
      }
      if (rc !== ZkCode.OK) {
        if (rc === ZkCode.CONNECTIONLOSS) this.noteConnectionLoss();
        map.delete(id);
        reject(new ZkError(rc, op, path));
        return;
      }
      if (connectedOnly) this.startSweeper();
    });
  }

  /**
   * A request failed with CONNECTIONLOSS: the connection is down, whatever the session events said (the C
   * client queues its CONNECTING event behind completions, so while every reconnection attempt fails at once
   * it may come late). The binding's next `connect` event brings the flag back.
   */
  private noteConnectionLoss(): void {
    if (!this.connectedFlag || this.closedFlag) return;
    this.connectedFlag = false;
    this.logger.debug('a request failed with CONNECTIONLOSS: treating the connection as down');
    this.emit('disconnected');
  }

  /**
   * Every request has the same timeout, so insertion order is deadline order: one timer that walks from
   * the oldest request is enough, instead of one timer per request.
   */
  private startSweeper(): void {
    if (this.sweeper) return;
    const every = Math.max(25, Math.min(250, Math.floor(this.options.operationTimeoutMs / 4)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [id, p] of this.pending) {
        if (p.deadline > now) break;
        this.pending.delete(id);
        p.reject(new ZkError(ZkCode.OPERATIONTIMEOUT, p.op, p.path, `no answer within ${this.options.operationTimeoutMs} ms`));
      }
      if (this.pending.size === 0) this.stopSweeper();
    }, every);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}
