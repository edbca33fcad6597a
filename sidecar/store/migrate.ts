import { performance } from 'node:perf_hooks';
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';
import { type BulkCreates, type StoreDescription, type TokenStore, hasBulkCreates } from './token-store.js';
import { kindOfJti, parseRecordName, type RecordRef, type TokenRecord } from './token-record.js';
import { ReadFailure, Window, countRecords, isTransient, liveness, readChunk, withRetry } from './migrate-support.js';
import { GroupFeed } from './migrate-group-feed.js';
import { emptyVerification, verify } from './migrate-verify.js';
import { isProbeJti } from './probe-record.js';

export interface MigrateOptions {
  /**
   * Records being written to the target at once (one create each); the source is read a chunk of at most
   * this many (and 500) records ahead.
   * @default 1000
   */
  concurrency?: number;
  /** Copy nothing; only check that every live record and logout marker of the source is in the target. */
  verifyOnly?: boolean;
  /**
   * A record counts as expired (and is not copied) once `now > expiresAt + clockSkewMs`, as the reaper decides.
   * @default 30000
   */
  clockSkewMs?: number;
  /**
   * How long one read or write keeps retrying while a store is unreachable before it counts as failed.
   * @default 30000
   */
  retryForMs?: number;
  /** Called at most every `progressIntervalMs` while running, and once when a phase ends. */
  onProgress?: (progress: MigrateProgress) => void;
  /** @default 250 */
  progressIntervalMs?: number;
  /** Stops taking new records; what is in flight finishes, and the result says `aborted`. */
  signal?: AbortSignal;
  clock?: Clock;
}

export type MigratePhase = 'counting' | 'markers' | 'copying' | 'verifying';

export interface MigrateProgress {
  phase: MigratePhase;
  /** Records (or, while verifying, source shards) to go through in this phase; 0 while unknown. */
  total: number;
  done: number;
  created: number;
  existing: number;
  skipped: number;
  failed: number;
  elapsedMs: number;
  /** Records per second in this phase so far. */
  ratePerSecond: number;
}

export interface MigrateRecordCounts {
  /** Record names listed in the source. */
  listed: number;
  /** Written to the target by this run. */
  created: number;
  /** Already in the target (an earlier run, or a sidecar writing to both): nothing to do. */
  existing: number;
  /** Expired (past `expiresAt` plus the clock skew): the reaper would delete them. */
  skippedExpired: number;
  /** First issued before their subject's logout marker: refused everywhere already. */
  skippedLoggedOut: number;
  /** One-time tokens are never copied: see {@link migrateStore}. */
  skippedOnetime: number;
  /** Listed, then gone before they were read (revoked, consumed or reaped meanwhile). */
  vanished: number;
  /** Could not be read or written (see `errors`). */
  failed: number;
}

export interface MigrateVerification {
  /** Source records checked (one-time tokens left out). */
  checked: number;
  /** Of those, in the target. */
  inTarget: number;
  /**
   * Live source records (not expired, not logged out, still in the source) missing from the target, issued
   * before the run started: these should have been copied.
   */
  missing: number;
  /**
   * Live source records missing from the target that were issued after the run started (less the clock
   * skew): a live cluster keeps logging users in; the next run copies them, and during a cutover the
   * fallback store serves them meanwhile. Not a failure.
   */
  issuedSinceStart: number;
  /** Not in the target and not needed there: expired, logged out, or deleted from the source meanwhile. */
  notNeeded: number;
  /** Record names in the target, whatever their origin. */
  targetRecords: number;
  /** Source logout markers the target lacks or holds at a lower generation. */
  markersMissing: number;
  /** Up to 10 names of missing records, for the operator to look at. */
  sampleMissing: string[];
  ok: boolean;
}

export interface MigrateResult {
  source: StoreDescription;
  target: StoreDescription;
  verifyOnly: boolean;
  aborted: boolean;
  records: MigrateRecordCounts;
  markers: { source: number; copied: number; existing: number; failed: number };
  verification: MigrateVerification;
  /** Time spent copying records (markers included), and the rate of that phase. */
  copyMs: number;
  copyRatePerSecond: number;
  verifyMs: number;
  totalMs: number;
  /** The first errors met (at most 10), one line each. */
  errors: string[];
  /** True when nothing failed and the verification found nothing missing. */
  ok: boolean;
}

const DEFAULT_CONCURRENCY = 1_000;
/** Source records read in one go (at most `concurrency`): the next chunk is read while this one's creates fly. */
const READ_CHUNK = 500;
const MAX_ERRORS = 10;

/**
 * Copies every live token record and every logout marker from one store to another, while sidecars keep
 * using either: `DIRECTORY -> ZOOKEEPER` or back, or between two trees of the same kind.
 *
 * - Markers go first, so a copied record is never valid in the target while its subject is logged out in the
 *   source. The target's generation is raised to at least the source's (`copyMarker`, never backwards), so
 *   copying one twice is harmless. A legacy `{revokedBefore}` marker is copied as generation 1.
 * - Records are read shard by shard (a few listings ahead, never the whole store in one array), a chunk at a
 *   time (in one call from a store with {@link BulkReads}), and written with up to `concurrency` creates in
 *   flight, one create per record (a chunk in one `createMany` call to a store with {@link BulkCreates}). A record the target
 *   already lists, or whose create finds the name taken, is "already there": running the migration again
 *   copies only what is new, and costs little more than listing both stores.
 * - Expired records, records behind a logout marker and records deleted meanwhile are not copied.
 * - One-time tokens are not copied either. They live minutes, and once-only holds only within one store:
 *   a copy would let the same token be consumed once per store. During a cutover a sidecar consumes
 *   them through its fallback store (`cluster.store.fallback.config`).
 * - At the end, every source record is looked up in the target by listing both stores (no per-record reads
 *   except for the few missing ones, which are read from the source to tell a live record from a dead one).
 *
 * Caveat: a record revoked in the source after it was copied stays in the target. Revocations made during a
 * cutover must go through a sidecar that writes to both stores (one with the fallback set).
 */
export async function migrateStore(source: TokenStore, target: TokenStore, options: MigrateOptions = {}): Promise<MigrateResult> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`concurrency ${concurrency} must be a whole number of at least 1`);
  const clock = options.clock ?? systemClock;
  const skewMs = options.clockSkewMs ?? 30_000;
  const retryForMs = options.retryForMs ?? 30_000;
  const progressEvery = options.progressIntervalMs ?? 250;
  const startedAt = performance.now();
  const wallStart = clock.now();
  const errors: string[] = [];
  const noteError = (what: string, err: unknown) => {
    if (errors.length < MAX_ERRORS) errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  };
  const retrying = <T>(fn: () => Promise<T>) => withRetry(fn, retryForMs, options.signal);

  const records: MigrateRecordCounts = {
    listed: 0,
    created: 0,
    existing: 0,
    skippedExpired: 0,
    skippedLoggedOut: 0,
    skippedOnetime: 0,
    vanished: 0,
    failed: 0,
  };
  const markers = { source: 0, copied: 0, existing: 0, failed: 0 };

  let phase: MigratePhase = 'counting';
  let phaseStarted = performance.now();
  let total = 0;
  let lastReport = 0;
  let verifyDone = 0;
  const done = () =>
    phase === 'verifying'
      ? verifyDone
      : records.created +
        records.existing +
        records.skippedExpired +
        records.skippedLoggedOut +
        records.skippedOnetime +
        records.vanished +
        records.failed;
  const report = (force = false) => {
    if (!options.onProgress) return;
    const now = performance.now();
    if (!force && now - lastReport < progressEvery) return;
    lastReport = now;
    const elapsedMs = now - phaseStarted;
    const d = done();
    options.onProgress({
      phase,
      total,
      done: d,
      created: records.created,
      existing: records.existing,
      skipped: records.skippedExpired + records.skippedLoggedOut + records.skippedOnetime + records.vanished,
      failed: records.failed,
      elapsedMs,
      ratePerSecond: elapsedMs > 0 ? (d * 1000) / elapsedMs : 0,
    });
  };
  const enter = (next: MigratePhase, phaseTotal: number) => {
    phase = next;
    total = phaseTotal;
    phaseStarted = performance.now();
    report(true);
  };

  // Counting first gives the progress bar its total (and the ETA its meaning): listings only, no reads.
  // The target is counted too: when it is empty (a first run), the copy need not list it.
  const [sourceCount, targetCount] = await Promise.all([countRecords(source, retrying), countRecords(target, retrying)]);
  enter('markers', sourceCount);

  const sourceMarkers = await retrying(() => source.listMarkers());
  markers.source = sourceMarkers.size;
  let copyMs = 0;
  let copied = 0;
  let aborted = false;
  if (!options.verifyOnly) {
    const copyStarted = performance.now();
    const targetMarkers = await retrying(() => target.listMarkers());
    for (const [subject, marker] of sourceMarkers) {
      if ((targetMarkers.get(subject)?.gen ?? 0) >= marker.gen) {
        markers.existing++;
        continue;
      }
      try {
        await retrying(() => target.copyMarker(subject, marker.gen));
        markers.copied++;
      } catch (err) {
        markers.failed++;
        noteError(`logout marker of ${JSON.stringify(subject)}`, err);
      }
    }

    enter('copying', sourceCount);
    const timer = setInterval(() => report(), progressEvery);
    timer.unref();
    const feed = new GroupFeed(source, targetCount > 0 ? target : undefined, retrying, (found) => {
      records.listed += found;
      records.existing += found;
    });
    const writes = new Window(concurrency);
    const create = (record: TokenRecord, name: string): Promise<void> =>
      // the first attempt outside withRetry: one promise fewer per record, and nearly every create succeeds at once
      target
        .create(record)
        .catch((err: unknown) => (isTransient(err) ? retrying(() => target.create(record)) : Promise.reject(err)))
        .then(
          (created) => {
            if (created) records.created++;
            else records.existing++;
            report();
          },
          (err: unknown) => {
            records.failed++;
            noteError(`writing ${name}`, err);
            report();
          },
        );
    /** A chunk's live records into a target that writes many at once; a record that met an error goes again alone. */
    const bulkTarget: BulkCreates | undefined = hasBulkCreates(target) ? target : undefined;
    const createBatch = async (bulk: BulkCreates, batch: TokenRecord[], names: string[]): Promise<void> => {
      let results: Array<boolean | Error>;
      try {
        results = await bulk.createMany(batch);
      } catch (err) {
        results = batch.map(() => (err instanceof Error ? err : new Error(String(err))));
      }
      const again: Promise<void>[] = [];
      for (let i = 0; i < batch.length; i++) {
        const result = results[i];
        if (result === true) records.created++;
        else if (result === false) records.existing++;
        else again.push(create(batch[i]!, names[i]!));
      }
      await Promise.all(again);
      report();
    };
    const chunkSize = Math.min(concurrency, READ_CHUNK);
    try {
      // Reads a chunk of names, then queues their creates behind those in flight: the creates of one chunk
      // overlap the reads of the next, and at most `concurrency` creates are in flight.
      for (;;) {
        if (options.signal?.aborted) {
          aborted = true;
          break;
        }
        const names = await feed.take(chunkSize);
        if (names === undefined) break;
        const refs: RecordRef[] = [];
        const wanted: string[] = [];
        for (const name of names) {
          const ref = parseRecordName(name);
          if (!ref || isProbeJti(ref.jti)) continue; // not a record name (a stray file) or a propagation probe: not counted at all
          records.listed++;
          if (kindOfJti(ref.jti) === 'onetime') {
            records.skippedOnetime++;
            continue;
          }
          refs.push(ref);
          wanted.push(name);
        }
        const read = await readChunk(source, refs, retrying);
        const now = clock.now();
        const batch: TokenRecord[] = [];
        const batchNames: string[] = [];
        for (let i = 0; i < read.length; i++) {
          const record = read[i];
          if (record instanceof ReadFailure) {
            records.failed++;
            noteError(`reading ${wanted[i]}`, record.cause);
            continue;
          }
          if (!record) {
            records.vanished++;
            continue;
          }
          const verdict = liveness(record, sourceMarkers, now, skewMs);
          if (verdict !== 'live') {
            records[verdict]++;
            continue;
          }
          if (!bulkTarget) await writes.start(1, () => create(record, wanted[i]!));
          else {
            batch.push(record);
            batchNames.push(wanted[i]!);
          }
        }
        if (bulkTarget && batch.length > 0) await writes.start(batch.length, () => createBatch(bulkTarget, batch, batchNames));
        report();
      }
      await writes.drain();
    } finally {
      clearInterval(timer);
    }
    report(true);
    copyMs = performance.now() - copyStarted;
    copied = done();
  } else {
    records.listed = sourceCount;
  }

  const verifyStarted = performance.now();
  const verification = aborted
    ? emptyVerification()
    : await verify(source, target, sourceMarkers, {
        now: clock.now(),
        issuedBefore: wallStart - skewMs,
        skewMs,
        retrying,
        onGroup: (groups, finished) => {
          if (finished === 0) enter('verifying', groups);
          verifyDone = finished;
          report(finished === groups);
        },
      });
  const verifyMs = performance.now() - verifyStarted;
  const ok = !aborted && records.failed === 0 && markers.failed === 0 && verification.ok;
  return {
    source: source.describe(),
    target: target.describe(),
    verifyOnly: options.verifyOnly === true,
    aborted,
    records,
    markers,
    verification,
    copyMs: Math.round(copyMs),
    copyRatePerSecond: copyMs > 0 ? Math.round((copied * 1000) / copyMs) : 0,
    verifyMs: Math.round(verifyMs),
    totalMs: Math.round(performance.now() - startedAt),
    errors,
    ok,
  };
}
