import { existsSync } from 'node:fs';

/** Where Debian's `faketime` package puts the library it preloads (amd64, arm64, a plain build). */
const CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/local/lib/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
];

/** libfaketime, or undefined when the `faketime` package is missing (tests that need it skip, saying so). */
export function faketimeLibrary(): string | undefined {
  return CANDIDATES.find((path) => existsSync(path));
}

export const FAKETIME_MISSING = 'faketime is not installed (apt-get install faketime): clock-skew tests need it';

/**
 * The environment that shifts one process's wall clock by `offsetSeconds` (what `faketime -f '+20s' node ...`
 * does). The library is preloaded into node itself rather than through the `faketime` binary, which forks and
 * waits: signals (stop, kill -9, SIGSTOP) must reach the sidecar, not a wrapper. The monotonic clock stays
 * true, so timers and timeouts are unaffected; only Date.now() and the like are shifted.
 */
export function faketimeEnv(offsetSeconds: number): NodeJS.ProcessEnv {
  const library = faketimeLibrary();
  if (!library) throw new Error(FAKETIME_MISSING);
  const preload = [library, process.env.LD_PRELOAD].filter(Boolean).join(':');
  return {
    ...process.env,
    LD_PRELOAD: preload,
    FAKETIME: `${offsetSeconds >= 0 ? '+' : '-'}${Math.abs(offsetSeconds)}s`,
    DONT_FAKE_MONOTONIC: '1',
    FAKETIME_NO_CACHE: '1',
  };
}
