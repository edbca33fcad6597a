import type { TokenStore } from './token-store.js';
import { kindOfJti, parseRecordName, recordName, type RecordRef } from './token-record.js';
import type { LogoutMarker } from './logout-marker.js';
import { recordKey } from './record-layout.js';
import { LIST_CONCURRENCY, type Retrying, forEachIndex, listGroup, liveness } from './migrate-support.js';
import type { MigrateVerification } from './migrate.js';
import { isProbeJti } from './probe-record.js';

/** Source reads in flight while verifying records missing from the target. */
const VERIFY_READ_CONCURRENCY = 64;

export interface VerifyContext {
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
export async function verify(
  source: TokenStore,
  target: TokenStore,
  sourceMarkers: Map<string, LogoutMarker>,
  ctx: VerifyContext,
): Promise<MigrateVerification> {
  const v: MigrateVerification = {
    checked: 0,
    inTarget: 0,
    missing: 0,
    issuedSinceStart: 0,
    notNeeded: 0,
    targetRecords: 0,
    markersMissing: 0,
    sampleMissing: [],
    ok: false,
  };
  const targetMarkers = await ctx.retrying(() => target.listMarkers());
  for (const [subject, marker] of sourceMarkers) if ((targetMarkers.get(subject)?.gen ?? 0) < marker.gen) v.markersMissing++;

  const groups = Math.min(source.shards, target.shards);
  let finished = 0;
  ctx.onGroup(groups, 0);
  const listingsPerGroup = (source.shards + target.shards) / groups;
  await forEachIndex(groups, Math.max(4, Math.ceil(LIST_CONCURRENCY / listingsPerGroup)), async (group) => {
    const [sourceNames, targetNames] = await Promise.all([
      listGroup(source, groups, group, ctx.retrying),
      listGroup(target, groups, group, ctx.retrying),
    ]);
    const inTarget = new Set<string>();
    for (const name of targetNames!) {
      const key = recordKey(name);
      if (key === undefined || isProbeJti(name)) continue;
      inTarget.add(key);
      v.targetRecords++;
    }
    const absent: RecordRef[] = [];
    for (const name of sourceNames!) {
      const ref = parseRecordName(name);
      if (!ref || kindOfJti(ref.jti) === 'onetime' || isProbeJti(ref.jti)) continue;
      v.checked++;
      if (inTarget.has(recordKey(name)!)) v.inTarget++;
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

export function emptyVerification(): MigrateVerification {
  return {
    checked: 0,
    inTarget: 0,
    missing: 0,
    issuedSinceStart: 0,
    notNeeded: 0,
    targetRecords: 0,
    markersMissing: 0,
    sampleMissing: [],
    ok: false,
  };
}
