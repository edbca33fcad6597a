import { basename } from 'node:path';

/**
 * Imported first by the CLI, before anything can start libuv's thread pool (it reads this variable once, on
 * first use). File system calls run on that pool, 4 threads by default; a DIRECTORY store fsyncs every
 * record it writes, and the file system commits concurrent fsyncs together, so `store migrate` into a
 * DIRECTORY store runs about 2.5x faster with 32 threads. Only for the migration (and its benchmark): other
 * commands and the sidecar keep the default. An explicit setting wins.
 */
const [, script = '', command, sub] = process.argv;
if ((command === 'store' && sub === 'migrate') || basename(script) === 'migrate-bench.js') process.env.UV_THREADPOOL_SIZE ??= '32';
export {};
