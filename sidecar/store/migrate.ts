import { performance } from 'node:perf_hooks';
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';
import { type BulkCreates, type StoreDescription, type TokenStore, hasBulkCreates, hasBulkReads } from './token-store.js';
import { isRecordExpired, kindOfJti, parseRecordName, recordName, type RecordRef, type TokenRecord } from './token-record.js';
import { loggedOut, type LogoutMarker } from './logout-marker.js';

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
/** Shard listings fetched ahead of the group being copied (at least one group ahead). */
const LIST_AHEAD = 64;
/** Shard listings (or groups of them, while verifying) in flight while counting and verifying. */
const LIST_CONCURRENCY = 64;
/** Source reads in flight while verifying records missing from the target. */
const VERIFY_READ_CONCURRENCY = 64;
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
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency ${concurrency} must be a whole number of at least 1`);
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

  const records: MigrateRecordCounts = { listed: 0, created: 0, existing: 0, skippedExpired: 0, skippedLoggedOut: 0, skippedOnetime: 0, vanished: 0, failed: 0 };
  const markers = { source: 0, copied: 0, existing: 0, failed: 0 };

  let phase: MigratePhase = 'counting';
  let phaseStarted = performance.now();
  let total = 0;
  let lastReport = 0;
  let verifyDone = 0;
  const done = () =>
    phase === 'verifying'
      ? verifyDone
      : records.created + records.existing + records.skippedExpired + records.skippedLoggedOut + records.skippedOnetime + records.vanished + records.failed;
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
          if (!ref) continue; // not a record name (a stray file): not counted at all
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

type Liveness = 'live' | 'skippedExpired' | 'skippedLoggedOut' | 'skippedOnetime';

function liveness(record: TokenRecord, markers: Map<string, LogoutMarker>, now: number, skewMs: number): Liveness {
  if (record.kind === 'onetime') return 'skippedOnetime';
  if (isRecordExpired(record, now, skewMs)) return 'skippedExpired';
  if (loggedOut(markers.get(record.subject), record.gen, 0, record.issuedAt)) return 'skippedLoggedOut';
  return 'live';
}

type Retrying = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * Runs `fn`, again and again with backoff while the store is unreachable (a ZooKeeper leader election, a
 * remounting share) or the process is out of file descriptors (a DIRECTORY target with many creates in
 * flight and a low `ulimit -n`), for up to `forMs`. Writes are safe to repeat: a create that was applied before the
 * connection dropped answers "already there" the second time.
 */
async function withRetry<T>(fn: () => Promise<T>, forMs: number, signal?: AbortSignal): Promise<T> {
  const deadline = performance.now() + forMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || performance.now() + delay > deadline || signal?.aborted) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random() / 2)));
  }
}

/** Worth another try: the store is unreachable for now, or this process ran out of file descriptors. */
function isTransient(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN';
}

/** A source record that could not be read (kept apart from `undefined`: gone, or not a record). */
class ReadFailure {
  constructor(readonly cause: unknown) {}
}

/**
 * The records of `refs`, in order: all at once from a store that can, else one `read` each, all in flight
 * together. When a bulk read fails, each record is read on its own, so that one unreadable record fails
 * alone.
 */
async function readChunk(source: TokenStore, refs: RecordRef[], retrying: Retrying): Promise<Array<TokenRecord | undefined | ReadFailure>> {
  if (refs.length === 0) return [];
  if (hasBulkReads(source)) {
    try {
      return await retrying(() => source.readMany(refs));
    } catch {
      // one record at a time below
    }
  }
  return Promise.all(refs.map((ref) => retrying(() => source.read(ref)).catch((err: unknown) => new ReadFailure(err))));
}

/**
 * At most `size` records in flight, in tasks of one record or a batch of them (`weight`; a batch larger than
 * the window runs alone). One producer calls {@link start}, which waits for room; tasks count their own
 * failures.
 */
class Window {
  private inFlight = 0;
  private wake: (() => void) | undefined;

  /** A task that threw after all (a progress callback): rethrown by {@link drain}. */
  private failure: { error: unknown } | undefined;

  constructor(private readonly size: number) {}

  async start(weight: number, task: () => Promise<void>): Promise<void> {
    while (this.inFlight > 0 && this.inFlight + weight > this.size) await new Promise<void>((resolve) => (this.wake = resolve));
    this.inFlight += weight;
    const settled = (): void => {
      this.inFlight -= weight;
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    };
    task().then(settled, (error: unknown) => {
      this.failure ??= { error };
      settled();
    });
  }

  async drain(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure) throw this.failure.error;
  }
}

async function countRecords(store: TokenStore, retrying: Retrying): Promise<number> {
  let count = 0;
  await forEachIndex(store.shards, LIST_CONCURRENCY, async (shard) => {
    for (const name of await retrying(() => store.listShard(shard))) if (parseRecordName(name)) count++;
  });
  return count;
}

/** Runs `fn(0..n-1)` with at most `limit` in flight. */
async function forEachIndex(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/**
 * The shards of `store` that hold the records of group `group` when records are grouped by
 * `hash & (groups - 1)`. Shard counts are powers of two and a record's shard is `hash & (shards - 1)`, so
 * with `groups = min(sourceShards, targetShards)` the source shards `s ≡ group (mod groups)` hold exactly
 * the records that belong in the target shards `t ≡ group (mod groups)`.
 */
function shardsOf(store: TokenStore, groups: number, group: number): number[] {
  return Array.from({ length: store.shards / groups }, (_, k) => group + k * groups);
}

async function listGroup(store: TokenStore, groups: number, group: number, retrying: Retrying): Promise<string[]> {
  return (await Promise.all(shardsOf(store, groups, group).map((s) => retrying(() => store.listShard(s))))).flat();
}

/**
 * The source's record names that the target lacks, group after group of shards (a few groups listed ahead;
 * never the whole store in one array). A name the target lists already is counted through `onPresent` and
 * costs neither a read nor a write: running the migration again is mostly listings.
 */
class GroupFeed {
  private readonly groups: number;
  /** Groups listed ahead: about {@link LIST_AHEAD} shard listings, whatever the shard counts. */
  private readonly groupsAhead: number;
  private next = 0;
  /** Listings of the groups ahead; `settled` once `names` is in (or the listing failed). */
  private readonly ahead = new Map<number, { listing: Promise<string[]>; settled: boolean }>();
  private names: string[] = [];
  private position = 0;

  /** `target` undefined: it held nothing when the run started, so nothing is filtered out. */
  constructor(
    private readonly source: TokenStore,
    private readonly target: TokenStore | undefined,
    private readonly retrying: Retrying,
    private readonly onPresent: (count: number) => void,
  ) {
    this.groups = target ? Math.min(source.shards, target.shards) : source.shards;
    const listingsPerGroup = (source.shards + (target?.shards ?? 0)) / this.groups;
    this.groupsAhead = Math.max(1, Math.ceil(LIST_AHEAD / listingsPerGroup));
  }

  /**
   * Up to `max` names: the rest of the current group, then the next groups' as long as their listings are
   * in already (a chunk that holds a name never waits for a listing), so that a store of many small shards
   * still gives chunks worth a bulk read or write. `undefined` once every group is through. One caller.
   */
  async take(max: number): Promise<string[] | undefined> {
    const out: string[] = [];
    while (out.length < max) {
      if (this.position < this.names.length) {
        const to = Math.min(this.names.length, this.position + max - out.length);
        for (let i = this.position; i < to; i++) out.push(this.names[i]!);
        this.position = to;
        continue;
      }
      if (this.next >= this.groups) break;
      if (out.length > 0 && this.ahead.get(this.next)?.settled !== true) break;
      await this.advance();
    }
    return out.length > 0 ? out : undefined;
  }

  /** Lists ahead, then makes the next group's names the current ones (in group order). */
  private async advance(): Promise<void> {
    for (let g = this.next; g < Math.min(this.groups, this.next + this.groupsAhead); g++) {
      if (this.ahead.has(g)) continue;
      const entry = { listing: this.missingIn(g), settled: false };
      entry.listing.then(
        () => (entry.settled = true),
        () => (entry.settled = true), // awaited below, in order
      );
      this.ahead.set(g, entry);
    }
    const group = this.next;
    const names = await this.ahead.get(group)!.listing;
    this.ahead.delete(group);
    this.next = group + 1;
    this.names = names;
    this.position = 0;
  }

  private async missingIn(group: number): Promise<string[]> {
    const [sourceNames, targetNames] = await Promise.all([
      listGroup(this.source, this.groups, group, this.retrying),
      this.target ? listGroup(this.target, this.groups, group, this.retrying) : [],
    ]);
    const present = new Set(targetNames);
    const missing: string[] = [];
    let found = 0;
    for (const name of sourceNames) {
      if (present.has(name) && parseRecordName(name)) found++;
      else missing.push(name);
    }
    if (found > 0) this.onPresent(found);
    return missing;
  }
}

interface VerifyContext {
  now: number;
  /** A record issued at or after this (ms) may have been created after the copy passed its shard. */
  issuedBefore: number;
  skewMs: number;
  retrying: Retrying;
  onGroup: (groups: number, finished: number) => void;
}

/**
 * Every source record name is looked for in the target by listing both, group by group of shards (see
 * {@link shardsOf}): only a fraction of either store is held at a time.
 */
async function verify(source: TokenStore, target: TokenStore, sourceMarkers: Map<string, LogoutMarker>, ctx: VerifyContext): Promise<MigrateVerification> {
  const v: MigrateVerification = { checked: 0, inTarget: 0, missing: 0, issuedSinceStart: 0, notNeeded: 0, targetRecords: 0, markersMissing: 0, sampleMissing: [], ok: false };
  const targetMarkers = await ctx.retrying(() => target.listMarkers());
  for (const [subject, marker] of sourceMarkers) if ((targetMarkers.get(subject)?.gen ?? 0) < marker.gen) v.markersMissing++;

  const groups = Math.min(source.shards, target.shards);
  let finished = 0;
  ctx.onGroup(groups, 0);
  const listingsPerGroup = (source.shards + target.shards) / groups;
  await forEachIndex(groups, Math.max(4, Math.ceil(LIST_CONCURRENCY / listingsPerGroup)), async (group) => {
    const [sourceNames, targetNames] = await Promise.all([listGroup(source, groups, group, ctx.retrying), listGroup(target, groups, group, ctx.retrying)]);
    const inTarget = new Set<string>();
    for (const name of targetNames!) {
      if (!parseRecordName(name)) continue;
      inTarget.add(name);
      v.targetRecords++;
    }
    const absent: RecordRef[] = [];
    for (const name of sourceNames!) {
      const ref = parseRecordName(name);
      if (!ref || kindOfJti(ref.jti) === 'onetime') continue;
      v.checked++;
      if (inTarget.has(name)) v.inTarget++;
      else absent.push(ref);
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(VERIFY_READ_CONCURRENCY, absent.length) }, async () => {
        while (next < absent.length) {
          const ref = absent[next++]!;
          const record = await ctx.retrying(() => source.read(ref));
          if (!record || liveness(record, sourceMarkers, ctx.now, ctx.skewMs) !== 'live') {
            v.notNeeded++;
            continue;
          }
          // written between our two listings? one exists() settles it
          if (await ctx.retrying(() => target.exists(ref))) {
            v.inTarget++;
            continue;
          }
          if (record.issuedAt >= ctx.issuedBefore) {
            v.issuedSinceStart++;
            continue;
          }
          v.missing++;
          if (v.sampleMissing.length < 10) v.sampleMissing.push(recordName(ref));
        }
      }),
    );
    ctx.onGroup(groups, ++finished);
  });
  v.ok = v.missing === 0 && v.markersMissing === 0;
  return v;
}

function emptyVerification(): MigrateVerification {
  return { checked: 0, inTarget: 0, missing: 0, issuedSinceStart: 0, notNeeded: 0, targetRecords: 0, markersMissing: 0, sampleMissing: [], ok: false };
}
