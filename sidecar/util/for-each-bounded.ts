/**
 * Runs `fn` over `items` with at most `limit` calls in flight: how thousands of requests are pipelined on
 * one connection without one await per request, and without thousands of promises at once. The one
 * bounded-concurrency loop of the code base (store, bench and tests use it).
 * Stops taking new items after the first failure and rethrows it once the calls in flight have settled.
 */
export async function forEachBounded<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (failure) return;
      const next = iterator.next();
      if (next.done) return;
      try {
        await fn(next.value);
      } catch (error) {
        failure ??= { error };
        return;
      }
    }
  };
  const size = Array.isArray(items) ? items.length : limit;
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, size)) }, worker));
  if (failure) throw failure.error;
}

/** 0 .. n-1, lazily: the items of a loop over counts, without an array of n numbers. */
export function* indices(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}
