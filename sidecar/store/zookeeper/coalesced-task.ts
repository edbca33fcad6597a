const noop = (): void => undefined;

/**
 * Runs an async task so that at most one run is in flight and at most one more is queued: a burst of
 * requests (a shard's child watch firing again and again) costs two reads, and every request is answered
 * by a run that STARTED after it was made, so no change is missed.
 */
export class CoalescedTask {
  private inFlight: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly task: () => Promise<void>) {}

  /** Resolves when a run that started at or after this call has finished. */
  request(): Promise<void> {
    if (this.queued) return this.queued;
    if (this.inFlight) {
      this.queued = this.inFlight.then(noop, noop).then(() => {
        this.queued = null;
        return this.start();
      });
      return this.queued;
    }
    return this.start();
  }

  get busy(): boolean {
    return this.inFlight !== null || this.queued !== null;
  }

  private start(): Promise<void> {
    const run: Promise<void> = Promise.resolve()
      .then(this.task)
      .finally(() => {
        if (this.inFlight === run) this.inFlight = null;
      });
    this.inFlight = run;
    return run;
  }
}
