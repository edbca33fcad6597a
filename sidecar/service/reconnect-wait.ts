import { EventEmitter } from 'node:events';
import type { ConnectionState } from '../store/connection-state.js';
import { isConnected } from '../store/connection-state.js';
import type { StoreEvents } from '../store/token-store.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';

/** How long a store read caught by a reconnect waits for the connection to come back. */
export const RECONNECT_WAIT_MS = 2_000;

/** What the wait needs of a store: its connection state and the event announcing a change. */
export type ConnectionSource = Pick<EventEmitter<StoreEvents>, 'on' | 'off'> & { readonly state: ConnectionState };

/**
 * A read the store could not answer because its connection is down is asked again once it is back, if
 * that happens within `waitMs`: a leader election or a reconnect to another server takes a moment, and a
 * token issued on another node just before it must not be refused meanwhile. (Writes need no such wait:
 * the write path journals them.)
 */
export class ReconnectWait {
  /** Resolves when the store is connected again; shared by every read waiting for it. */
  private reconnected: Promise<void> | undefined;

  constructor(
    private readonly store: ConnectionSource,
    private readonly waitMs = RECONNECT_WAIT_MS,
  ) {}

  async across<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || !(await this.back(this.waitMs))) throw err;
      return read();
    }
  }

  /** True once the store is connected, false if it is not within `ms`. One state listener for all waiters. */
  async back(ms: number): Promise<boolean> {
    if (isConnected(this.store.state)) return true;
    this.reconnected ??= new Promise<void>((resolve) => {
      const onState = (next: ConnectionState) => {
        if (!isConnected(next)) return;
        this.store.off('state', onState);
        this.reconnected = undefined;
        resolve();
      };
      this.store.on('state', onState);
    });
    let timer: NodeJS.Timeout | undefined;
    const back = await Promise.race([
      this.reconnected.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
    clearTimeout(timer);
    return back;
  }
}
