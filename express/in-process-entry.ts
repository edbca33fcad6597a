import type { InProcessOptions, InProcessTokensync } from './in-process.js';

/**
 * Starts tokensync inside this process (see `InProcessTokensync`): loaded on first use, so that apps validating
 * through a sidecar never load the store, the mirror or the native ZooKeeper client.
 */
export async function tokensyncInProcess(options: InProcessOptions): Promise<InProcessTokensync> {
  const { InProcessTokensync } = await import('./in-process.js');
  return InProcessTokensync.start(options);
}
