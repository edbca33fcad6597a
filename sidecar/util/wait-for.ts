/** Scales every test wait; slow machines set TOKENSYNC_TEST_TIME_SCALE=3. */
export const TIME_SCALE = Number(process.env.TOKENSYNC_TEST_TIME_SCALE ?? 1) || 1;

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs` (scaled). Tests wait for events, not for time. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs * TIME_SCALE;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs * TIME_SCALE} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
