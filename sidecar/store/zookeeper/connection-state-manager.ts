import { EventEmitter } from 'node:events';
import type { Logger } from '../../util/logger.js';
import type { Clock } from '../../util/clock.js';
import { systemClock } from '../../util/clock.js';
import type { ConnectionState } from '../connection-state.js';

export interface ConnectionStateManagerOptions {
  logger: Logger;
  clock?: Clock;
  /** Requested session timeout; {@link ConnectionStateManager.setSessionTimeout} replaces it with the negotiated one. */
  sessionTimeoutMs: number;
}

interface ConnectionStateEvents {
  state: [next: ConnectionState, previous: ConnectionState];
}

/**
 * The connection state of the store, as Curator's ConnectionStateManager keeps it:
 * `connected` is reported once, for the first connection; after that a connection coming back is
 * `reconnected`, whether the session survived (after `suspended`) or is a new one (after `lost`).
 * Repeats are ignored, every change is logged as `old -> new`.
 *
 * A `suspended` that outlasts the session timeout becomes `lost`: the server has expired the session by
 * then (it counts from the last time it heard from us, which is earlier), but a client that cannot reach
 * any server never hears so. The owner reacts to `lost` by starting a new session.
 */
export class ConnectionStateManager extends EventEmitter<ConnectionStateEvents> {
  private current: ConnectionState = 'latent';
  private connectedOnce = false;
  private suspendedAt: number | null = null;
  private lostTimer: NodeJS.Timeout | null = null;
  private sessionTimeoutMs: number;
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(options: ConnectionStateManagerOptions) {
    super();
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.sessionTimeoutMs = options.sessionTimeoutMs;
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** When the current suspension began (clock ms), or null. */
  get suspendedSince(): number | null {
    return this.suspendedAt;
  }

  /** The session timeout the server granted; the `suspended` -> `lost` deadline uses it. */
  setSessionTimeout(ms: number): void {
    if (ms > 0) this.sessionTimeoutMs = ms;
  }

  /** The client has a working connection: the first, one back after a loss, or a new session after `lost`. */
  onConnected(): void {
    if (this.current === 'closed') return;
    if (this.current === 'connected' || this.current === 'reconnected') return;
    this.transition(this.connectedOnce ? 'reconnected' : 'connected');
    this.connectedOnce = true;
  }

  /** The connection dropped; the session may still be alive. */
  onDisconnected(): void {
    if (this.current !== 'connected' && this.current !== 'reconnected') return;
    this.transition('suspended');
  }

  /** The session is gone (the server said expired, or the binding gave up on it). */
  onSessionLost(): void {
    if (this.current === 'closed' || this.current === 'lost' || this.current === 'latent') return;
    this.transition('lost');
  }

  /** Terminal; removes the timer. Reported as a last `closed` state. */
  close(): void {
    if (this.current === 'closed') return;
    this.transition('closed');
  }

  private transition(next: ConnectionState): void {
    const previous = this.current;
    if (previous === next) return;
    this.current = next;
    this.clearLostTimer();
    if (next === 'suspended') {
      this.suspendedAt = this.clock.now();
      const timeout = this.sessionTimeoutMs;
      this.lostTimer = setTimeout(() => {
        this.lostTimer = null;
        if (this.current !== 'suspended') return;
        const elapsed = this.clock.now() - (this.suspendedAt ?? this.clock.now());
        this.logger.warn(
          `ZooKeeper connection suspended for ${elapsed} ms, past the session timeout of ${timeout} ms: the session is presumed expired`,
        );
        this.transition('lost');
      }, timeout);
      this.lostTimer.unref();
    } else if (next !== 'lost') {
      this.suspendedAt = null;
    }
    const line = `ZooKeeper connection ${previous} -> ${next}`;
    if (next === 'suspended' || next === 'lost') this.logger.warn(line);
    else this.logger.info(line);
    try {
      this.emit('state', next, previous);
    } catch (error) {
      // a listener must not break the state machine (STYLE 6)
      this.logger.error(`connection state listener failed: ${(error as Error).message}`);
    }
  }

  private clearLostTimer(): void {
    if (this.lostTimer) clearTimeout(this.lostTimer);
    this.lostTimer = null;
  }
}
