import { performance } from 'node:perf_hooks';
import type { Logger } from '../../util/logger.js';
import type { Clock } from '../../util/clock.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import type { ConnectionState } from '../connection-state.js';
import { isConnected } from '../connection-state.js';
import { ConnectionStateManager } from './connection-state-manager.js';
import { ZkClient, type ZkWatchType } from './zk-client.js';
import { ZkClosedState } from './zk-error.js';
import { credentialsNotAcceptedError, credentialsRejectedError, mapZkError, unavailableError } from './zk-store-errors.js';

export type Lifecycle = 'latent' | 'started' | 'closed';

export interface ZkSessionOptions {
  /** `host:port,host:port`. */
  connectString: string;
  /** The connect string and chroot, for messages. */
  location: string;
  sessionTimeoutMs: number;
  operationTimeoutMs: number;
  connectTimeoutMs: number;
  auth?: { user: string; password: string };
  logger: Logger;
  clock: Clock;
}

/** What the store does when the session changes; the session never throws into it. */
export interface ZkSessionHost {
  /** Every state change, before the session acts on it. */
  stateChanged(next: ConnectionState, previous: ConnectionState): void;
  /** A lost session is being replaced: state tied to the old one is void. */
  replacing(): void;
  /** Back on `client`; `newSession` after a replacement (ephemerals and watches are gone). */
  reconnected(client: ZkClient, newSession: boolean): void;
  watch(type: ZkWatchType, path: string): void;
  report(error: unknown, context: string): void;
}

/**
 * The store's connection to the ensemble (Curator's ConnectionStateManager plus the handle it watches): opens the
 * first session, replaces a `lost` one with a new handle, and hands out the client only while connected, so that
 * callers fail fast with {@link StoreUnavailableError} and journal instead of waiting.
 */
export class ZkSession {
  private readonly csm: ConnectionStateManager;
  private lifecycleValue: Lifecycle = 'latent';
  private client: ZkClient | null = null;
  private authResult: Promise<void> | null = null;

  constructor(
    private readonly options: ZkSessionOptions,
    private readonly host: ZkSessionHost,
  ) {
    this.csm = new ConnectionStateManager({ logger: options.logger, clock: options.clock, sessionTimeoutMs: options.sessionTimeoutMs });
    this.csm.on('state', (next, previous) => this.onState(next, previous));
  }

  get lifecycle(): Lifecycle {
    return this.lifecycleValue;
  }

  get state(): ConnectionState {
    return this.csm.state;
  }

  /** The current handle, connected or not; `null` before the first and after close. */
  get current(): ZkClient | null {
    return this.client;
  }

  /** Whether requests may be sent now (started and connected). */
  get usable(): boolean {
    return this.lifecycleValue === 'started' && isConnected(this.csm.state);
  }

  /** latent -> started; a second start throws. */
  begin(): void {
    if (this.lifecycleValue !== 'latent') {
      throw new Error(`ZooKeeperStore.start() called on a ${this.lifecycleValue === 'started' ? 'started' : 'closed'} store`);
    }
    this.lifecycleValue = 'started';
  }

  /** Opens the first session and waits for its connection (and the digest auth). */
  async connect(): Promise<void> {
    await this.openFirstSession();
  }

  /** Marks the session closed; requests still go out on the current handle until {@link shutdown}. */
  markClosed(): ZkClient | null {
    this.lifecycleValue = 'closed';
    return this.client;
  }

  shutdown(): void {
    const client = this.client;
    if (client) {
      client.removeAllListeners();
      client.close();
    }
    this.client = null;
    this.csm.close();
    this.csm.removeAllListeners();
  }

  /** The client of a connected session, or a fast {@link StoreUnavailableError}: callers journal, they do not wait. */
  requireClient(): ZkClient {
    if (this.lifecycleValue === 'latent') throw new Error('ZooKeeperStore is not started');
    if (this.lifecycleValue === 'closed' && !this.client) throw new StoreUnavailableError('the ZooKeeper store is closed');
    const client = this.client;
    if (!client || !client.isConnected || !isConnected(this.csm.state)) {
      throw unavailableError(this.options.location, `connection ${this.csm.state}`);
    }
    return client;
  }

  async run<T>(fn: (client: ZkClient) => Promise<T>): Promise<T> {
    try {
      return await fn(this.requireClient());
    } catch (error) {
      throw mapZkError(error, this.options.location);
    }
  }

  mapError(error: unknown): Error {
    return mapZkError(error, this.options.location);
  }

  private newClient(): ZkClient {
    const { logger } = this.options;
    const client = new ZkClient({
      connect: this.options.connectString,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      operationTimeoutMs: this.options.operationTimeoutMs,
      logger,
    });
    this.client = client;
    client.on('connected', () => {
      if (client !== this.client) return;
      this.csm.setSessionTimeout(client.negotiatedTimeoutMs);
      logger.debug(`ZooKeeper session 0x${client.sessionId} connected (timeout ${client.negotiatedTimeoutMs} ms)`);
      this.csm.onConnected();
    });
    client.on('disconnected', () => {
      if (client === this.client) this.csm.onDisconnected();
    });
    client.on('closed', (code) => {
      if (client !== this.client || this.lifecycleValue !== 'started') return;
      if (code === ZkClosedState.SESSION_EXPIRED) logger.warn(`ZooKeeper session 0x${client.sessionId} expired`);
      else if (code === ZkClosedState.AUTH_FAILED) this.host.report(credentialsRejectedError(), 'authentication');
      else logger.warn(`ZooKeeper session closed by the client library (code ${code})`);
      this.csm.onSessionLost();
    });
    client.on('watch', (type, path) => {
      if (client === this.client) this.host.watch(type, path);
    });
    client.connect();
    // after init (the handle exists), before the connection: the C client sends it ahead of any request
    const auth = this.options.auth;
    this.authResult = auth ? client.addAuth('digest', `${auth.user}:${auth.password}`) : null;
    this.authResult?.catch((error: unknown) => {
      if (client === this.client && !client.isClosed) this.host.report(credentialsNotAcceptedError(error, false), 'authentication');
    });
    return client;
  }

  private async openFirstSession(): Promise<void> {
    const timeoutMs = this.options.connectTimeoutMs;
    const deadline = performance.now() + timeoutMs;
    const client = this.newClient();
    const cleanups: Array<() => void> = [];
    const failure = () =>
      new StoreUnavailableError(
        `no ZooKeeper server of ${this.options.connectString} answered within ${timeoutMs} ms (cluster.store.zookeeper.connect)`,
      );
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(failure()), timeoutMs);
        cleanups.push(() => clearTimeout(timer));
        const onState = (next: ConnectionState) => {
          if (isConnected(next)) resolve();
        };
        this.csm.on('state', onState);
        cleanups.push(() => this.csm.off('state', onState));
        const onClosed = (code: number) =>
          reject(
            code === ZkClosedState.AUTH_FAILED
              ? credentialsRejectedError()
              : unavailableError(this.options.location, `the session closed while connecting (code ${code})`),
          );
        client.once('closed', onClosed);
        cleanups.push(() => client.off('closed', onClosed));
      });
      const authResult = this.authResult;
      if (authResult) {
        const remaining = Math.max(1, deadline - performance.now());
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(failure()), remaining);
          cleanups.push(() => clearTimeout(timer));
          authResult.then(resolve, (error: unknown) => reject(credentialsNotAcceptedError(error, true)));
        });
      }
      this.options.logger.info(
        `connected to ZooKeeper ${this.options.location} ` +
          `(session 0x${client.sessionId}, timeout ${client.negotiatedTimeoutMs} ms${this.options.auth ? ', digest auth' : ''})`,
      );
    } finally {
      for (const cleanup of cleanups) cleanup();
    }
  }

  private onState(next: ConnectionState, previous: ConnectionState): void {
    this.host.stateChanged(next, previous);
    if (this.lifecycleValue !== 'started') return;
    try {
      if (next === 'lost') this.replace();
      else if (next === 'reconnected' && this.client) this.host.reconnected(this.client, previous === 'lost');
    } catch (error) {
      this.host.report(error, `handling ${previous} -> ${next}`);
    }
  }

  /** The session is gone: a new handle, a new session; `reconnected` follows once a server answers. */
  private replace(): void {
    const old = this.client;
    if (old) {
      old.removeAllListeners();
      old.close();
    }
    this.host.replacing();
    this.newClient();
    this.options.logger.info(`opening a new ZooKeeper session to ${this.options.connectString}`);
  }
}
