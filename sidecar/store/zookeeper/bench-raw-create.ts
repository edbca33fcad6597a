/**
 * The raw create rate of the `zookeeper` binding on this machine: n pipelined creates (1000 in flight) of
 * record-sized nodes under a fresh parent, no ACL, no store logic. Benchmarks compare the store's issue
 * rate with it (the goal: issuing costs one ZooKeeper write, so the two should be close).
 *
 *   node dist/sidecar/store/zookeeper/bench-raw-create.js 127.0.0.1:2181 10000
 */
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { ZooKeeperBinding, ZooKeeperBindingClass } from './zookeeper.js';

const IN_FLIGHT = 1_000;

/** A record-sized payload (what `create(record)` writes for a typical session token). */
const PAYLOAD = JSON.stringify({
  jti: 's.AAAAAAAAAAAAAAAAAAAAAA',
  subject: 'someone@example.com',
  kind: 'session',
  issuedAt: 1_767_225_600_000,
  expiresAt: 1_767_830_400_000,
  node: 'bench-node',
});

function callback<T>(invoke: (cb: (rc: number, error: string, value?: T) => void) => number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const rc = invoke((code, error, value) => (code === 0 ? resolve(value) : reject(new Error(`${code} ${error}`))));
    if (rc !== 0) reject(new Error(`rc ${rc}`));
  });
}

/**
 * Creates/s for `n` pipelined creates against `connect` (`host:port,...`); removes what it created. `aroundCreates`
 * wraps the create phase alone (not the connection, nor the deletes), for a caller that measures it.
 */
export async function rawCreateRate(
  connect: string,
  n: number,
  aroundCreates: (creates: () => Promise<void>) => Promise<void> = (creates) => creates(),
): Promise<number> {
  const Binding = createRequire(import.meta.url)('zookeeper') as ZooKeeperBindingClass;
  const zk: ZooKeeperBinding = new Binding({
    connect,
    timeout: 30_000,
    debug_level: 0,
    host_order_deterministic: false,
    response_counter_limit: 2 ** 30,
  });
  const connected = new Promise<void>((resolve) => zk.on('connect', () => resolve()));
  zk.init({});
  await connected;
  const parent = `/bench-raw-${randomUUID()}`;
  try {
    await callback((cb) => zk.native.a_create(parent, '', 0, cb));
    const run = async (op: (i: number) => Promise<unknown>) => {
      let next = 0;
      const worker = async () => {
        while (next < n) await op(next++);
      };
      await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, n) }, worker));
    };
    const started = performance.now();
    await aroundCreates(() => run((i) => callback((cb) => zk.native.a_create(`${parent}/n${i}`, PAYLOAD, 0, cb))));
    const seconds = (performance.now() - started) / 1000;
    await run((i) => callback((cb) => zk.native.a_delete_(`${parent}/n${i}`, -1, cb)));
    return n / seconds;
  } finally {
    await callback((cb) => zk.native.a_delete_(parent, -1, cb)).catch(() => undefined);
    zk.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [connect = '127.0.0.1:2181', count = '10000'] = process.argv.slice(2);
  const rate = await rawCreateRate(connect, Number(count));
  console.log(`${Math.round(rate)} creates/s (${count} pipelined creates, ${IN_FLIGHT} in flight, ${connect})`);
}
