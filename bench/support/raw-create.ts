/**
 * The raw create rate of the `zookeeper` binding on this machine: n pipelined creates (1000 in flight) of
 * record-sized nodes under a fresh parent, no ACL, no store logic. Benchmarks compare the store's issue
 * rate with it (the goal: issuing costs one ZooKeeper write, so the two should be close).
 *
 * With its `multi` argument the same creates go grouped into transactions (the binding's `a_multi`, tokensync's
 * multi patch), as the store sends them: the ceiling of the batched design.
 *
 *   node dist/bench/support/raw-create.js 127.0.0.1:2181 10000 [creates per multi]
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { forEachBounded, indices } from '../../sidecar/util/for-each-bounded.js';
import { connectBinding } from './zk.js';
import type { ZkNativeOp } from '../../sidecar/store/zookeeper/zookeeper.js';

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
 * wraps the create phase alone (not the connection, nor the deletes), for a caller that measures it. With `multi`,
 * the creates go `multi.batch` to a transaction, `multi.inFlight` transactions at once.
 */
export async function rawCreateRate(
  connect: string,
  n: number,
  aroundCreates: (creates: () => Promise<void>) => Promise<void> = (creates) => creates(),
  multi?: { batch: number; inFlight: number },
): Promise<number> {
  const zk = await connectBinding(connect);
  const parent = `/bench-raw-${randomUUID()}`;
  try {
    await callback((cb) => zk.native.a_create(parent, '', 0, cb));
    const run = (tasks: number, inFlight: number, op: (i: number) => Promise<unknown>) =>
      forEachBounded(indices(tasks), inFlight, async (i) => {
        await op(i);
      });
    const started = performance.now();
    if (multi) {
      const multiOp = zk.native.a_multi;
      if (!multiOp) throw new Error('the zookeeper binding lacks a_multi (tokensync multi patch)');
      const batches = Math.ceil(n / multi.batch);
      await aroundCreates(() =>
        run(batches, multi.inFlight, (b) => {
          const ops: ZkNativeOp[] = [];
          for (let i = b * multi.batch; i < Math.min(n, (b + 1) * multi.batch); i++)
            ops.push({ type: 1 as const, path: `${parent}/n${i}`, data: PAYLOAD, flags: 0 });
          return callback((cb) => multiOp.call(zk.native, ops, cb));
        }),
      );
    } else {
      await aroundCreates(() => run(n, IN_FLIGHT, (i) => callback((cb) => zk.native.a_create(`${parent}/n${i}`, PAYLOAD, 0, cb))));
    }
    const seconds = (performance.now() - started) / 1000;
    await run(n, IN_FLIGHT, (i) => callback((cb) => zk.native.a_delete_(`${parent}/n${i}`, -1, cb)));
    return n / seconds;
  } finally {
    await callback((cb) => zk.native.a_delete_(parent, -1, cb)).catch(() => undefined);
    zk.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [connect = '127.0.0.1:2181', count = '10000', batch] = process.argv.slice(2);
  if (batch) {
    const rate = await rawCreateRate(connect, Number(count), undefined, { batch: Number(batch), inFlight: 2 });
    console.log(`${Math.round(rate)} creates/s (${count} creates, ${batch} per multi, 2 multis in flight, ${connect})`);
  } else {
    const rate = await rawCreateRate(connect, Number(count));
    console.log(`${Math.round(rate)} creates/s (${count} pipelined creates, ${IN_FLIGHT} in flight, ${connect})`);
  }
}
