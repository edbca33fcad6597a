/** Helpers for the ZooKeeper store's unit tests in sidecar/store/zookeeper/ (test support, outside the product tree). */
import type { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { Logger } from '../../sidecar/util/logger.js';
import { ZkClient } from '../../sidecar/store/zookeeper/zk-client.js';
import { systemClock } from '../../sidecar/util/clock.js';
import { ZkLayout } from '../../sidecar/store/zookeeper/layout.js';
import { ensureLayout } from '../../sidecar/store/zookeeper/layout-repair.js';
import { ZkSession } from '../../sidecar/store/zookeeper/zk-session.js';
import { scaledTimeout as scaled } from '../zookeeper/index.js';

/**
 * Resolves with the arguments of the first `event` for which `accept` returns true; rejects after `timeoutMs`
 * (scaled). Listen BEFORE causing the event.
 */
export function nextEvent<A extends unknown[]>(
  emitter: EventEmitter,
  event: string,
  accept: (...args: A) => boolean = () => true,
  timeoutMs = 5_000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      let ok: boolean;
      try {
        ok = accept(...(args as A));
      } catch (error) {
        cleanup();
        reject(error as Error);
        return;
      }
      if (ok) {
        cleanup();
        resolve(args as A);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no '${event}' event within ${scaled(timeoutMs)} ms`));
    }, scaled(timeoutMs));
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off(event, listener);
    };
    emitter.on(event, listener);
  });
}

/** Polls `condition` (an API call, not time) until it holds; for states that have no event. */
export async function eventually<T>(condition: () => Promise<T> | T, timeoutMs = 5_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + scaled(timeoutMs);
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${scaled(timeoutMs)} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A winston logger that keeps every line, to assert on what was (not) logged. */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  const logger = winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
  if (process.env.TOKENSYNC_TEST_LOG) logger.add(new winston.transports.Console({ level: process.env.TOKENSYNC_TEST_LOG }));
  return { logger, lines };
}

/** A plain session (no auth) for looking at the tree from outside the store. */
export async function rawClient(connect: string, logger: Logger): Promise<ZkClient> {
  const client = new ZkClient({ connect, sessionTimeoutMs: 10_000, operationTimeoutMs: 5_000, logger });
  const connected = nextEvent(client, 'connected', () => true, 10_000);
  client.connect();
  await connected;
  return client;
}

/** A started session on a laid-out tree, for the tests of the store's parts; `errors` gets what it reported. */
export async function openPartSession(connect: string, chroot: string, logger: Logger, shards = 4) {
  const errors: unknown[] = [];
  const session = new ZkSession(
    {
      connectString: connect,
      location: connect + chroot,
      sessionTimeoutMs: 10_000,
      operationTimeoutMs: 5_000,
      connectTimeoutMs: 10_000,
      logger,
      clock: systemClock,
    },
    {
      stateChanged: () => undefined,
      replacing: () => undefined,
      reconnected: () => undefined,
      watch: () => undefined,
      report: (e) => void errors.push(e),
    },
  );
  session.begin();
  await session.connect();
  const layout = new ZkLayout(chroot, shards);
  await ensureLayout(session.requireClient(), { layout, acl: undefined, shards, readConcurrency: 8, logger });
  return { session, layout, errors };
}
