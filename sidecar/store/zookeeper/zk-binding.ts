import { createRequire } from 'node:module';
import type { Logger } from '../../util/logger.js';
import { ConfigError } from '../../errors/config-error.js';
import { bindingFixCommand } from './binding-patch.js';
import type { ZooKeeperBindingClass } from './zookeeper.js';

/** Plenty: the binding's counter guards against a C client bug we do not hit, and closing sessions is our call. */
export const RESPONSE_COUNTER_LIMIT = 2 ** 30;
/** Lines of the binding's own log passed on per second, at most. */
const BINDING_LOG_LINES_PER_SECOND = 20;

let bindingClass: ZooKeeperBindingClass | undefined;

/** Loads the native binding on first use, so that a DIRECTORY sidecar never needs it. */
export function loadBinding(): ZooKeeperBindingClass {
  if (!bindingClass) {
    try {
      bindingClass = createRequire(import.meta.url)('zookeeper') as ZooKeeperBindingClass;
    } catch (error) {
      // e.g. built for another Node version: one line naming the fix, as for a binding that was never built
      const reason = (error as Error).message.split('\n')[0];
      throw new ConfigError(
        'config.invalid',
        `the native 'zookeeper' binding does not load (${reason}); fix: npm rebuild zookeeper && ${bindingFixCommand()}`,
        {
          key: 'cluster.store.type',
          value: 'ZOOKEEPER',
          cause: error,
        },
      );
    }
  }
  return bindingClass;
}

/** The binding's own log lines at debug level, at most {@link BINDING_LOG_LINES_PER_SECOND} a second. */
export function rateLimitedLines(logger: Logger, now: () => number = Date.now): (line: string) => void {
  let windowStart = 0;
  let passed = 0;
  let dropped = 0;
  return (line: string) => {
    const at = now();
    if (at - windowStart >= 1000) {
      if (dropped > 0) logger.debug(`zookeeper binding: ${dropped} log lines dropped`);
      windowStart = at;
      passed = 0;
      dropped = 0;
    }
    if (passed >= BINDING_LOG_LINES_PER_SECOND) {
      dropped++;
      return;
    }
    passed++;
    // add_auth goes to the native handle directly and is never logged; this is a second line of defence
    logger.debug(`zookeeper binding: ${/add_auth/i.test(line) ? 'add_auth (redacted)' : line.slice(0, 500)}`);
  };
}
