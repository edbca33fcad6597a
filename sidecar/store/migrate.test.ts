import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DirectoryStore } from './directory/directory-store.js';
import { migrateStore, type MigrateProgress } from './migrate.js';
import { newJti, recordName, type TokenKind, type TokenRecord } from './token-record.js';
import type { TokenStore } from './token-store.js';
import { silentLogger } from '../util/logger.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';
import { tempDir } from '../util/test-temp-dirs.js';

async function started(shards: number, layout: 1 | 2 = 2): Promise<DirectoryStore> {
  const root = await tempDir('ts-migrate-');
  if (layout === 1) await writeFile(join(root, 'meta.json'), JSON.stringify({ layoutVersion: 1, shards }));
  const s = new DirectoryStore({ root, shards, rescanIntervalMs: 60_000, logger: silentLogger(), nodeId: 'migrate-test' });
  await s.start();
  return s;
}

function record(subject: string, kind: TokenKind = 'session', overrides: Partial<TokenRecord> = {}): TokenRecord {
  const now = Date.now();
  // issued an hour ago: well before any run of these tests (records issued during a run are not "missing")
  return {
    jti: newJti(kind),
    subject,
    kind,
    issuedAt: now - 3_600_000,
    expiresAt: kind === 'api' ? null : now + 3_600_000,
    node: 'n1',
    ...overrides,
  };
}

async function fill(store: TokenStore, n: number, kind: TokenKind = 'session'): Promise<TokenRecord[]> {
  const records = Array.from({ length: n }, (_, i) => record(`user${i % 7}`, kind));
  for (const r of records) assert.equal(await store.create(r), true);
  return records;
}

test('copies live records and markers; expired, logged-out and one-time records stay behind; verified', async () => {
  const [from, to] = await Promise.all([started(16), started(4)]);
  const live = [...(await fill(from, 40)), ...(await fill(from, 5, 'api'))];
  const withAttributes = record('dora', 'session', { clientIp: '10.0.0.7', attributes: { plan: 'gold', n: 3, ok: true, none: null } });
  await from.create(withAttributes);
  live.push(withAttributes);
  await from.create(record('old', 'session', { expiresAt: Date.now() - 3_600_000 }));
  await from.create(record('otp', 'onetime'));
  const loggedOut = record('gone', 'session', { gen: 0 });
  await from.create(loggedOut);
  await from.raiseMarker('gone'); // generation 1: the record (generation 0) is behind it
  // stray files in a shard folder are not records
  await writeFile(join(from.describe().location, 'tokens', '0', 'README'), 'not a record');

  const result = await migrateStore(from, to, { concurrency: 8 });
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.deepEqual(result.records, {
    listed: live.length + 3,
    created: live.length,
    existing: 0,
    skippedExpired: 1,
    skippedLoggedOut: 1,
    skippedOnetime: 1,
    vanished: 0,
    failed: 0,
  });
  assert.deepEqual(result.markers, { source: 1, copied: 1, existing: 0, failed: 0 });
  assert.equal(result.verification.missing, 0);
  assert.equal(result.verification.targetRecords, live.length);
  assert.equal(result.verification.notNeeded, 2); // expired and logged out; the one-time token is not checked
  for (const r of live) assert.deepEqual(await to.read(r), r);
  assert.deepEqual((await to.listMarkers()).get('gone'), { gen: 1 });

  const again = await migrateStore(from, to, { concurrency: 3 });
  assert.equal(again.ok, true);
  assert.equal(again.records.created, 0);
  assert.equal(again.records.existing, live.length);
  assert.deepEqual(again.markers, { source: 1, copied: 0, existing: 1, failed: 0 });
  await Promise.all([from.close(), to.close()]);
});

test('verify-only finds what is missing, whatever the shard counts of the two stores', async () => {
  for (const [a, b] of [
    [4, 32],
    [32, 4],
    [8, 8],
  ] as const) {
    const [from, to] = await Promise.all([started(a), started(b)]);
    const records = await fill(from, 30);
    assert.equal((await migrateStore(from, to)).ok, true);
    const extra = record('late'); // there before the run, yet missing
    await from.create(extra);
    await from.raiseMarker('nobody'); // a logout the target lacks, of a subject without records
    await to.delete(records[0]!);
    const check = await migrateStore(from, to, { verifyOnly: true });
    assert.equal(check.ok, false, `${a} -> ${b}`);
    assert.equal(check.records.created, 0);
    assert.equal(check.verification.checked, 31);
    assert.equal(check.verification.missing, 2);
    assert.equal(check.verification.markersMissing, 1);
    assert.deepEqual(check.verification.sampleMissing.sort(), [recordName(extra), recordName(records[0]!)].sort());
    const fixed = await migrateStore(from, to);
    assert.equal(fixed.ok, true, `${a} -> ${b}: ${JSON.stringify(fixed.verification)}`);
    assert.equal(fixed.records.created, 2);
    await Promise.all([from.close(), to.close()]);
  }
});

test('a store that is briefly unreachable is retried; one that stays down fails the run without throwing', async () => {
  const [from, to] = await Promise.all([started(8), started(8)]);
  await fill(from, 20);
  let hiccups = 10;
  const flaky = new Proxy(to, {
    get(target, prop, receiver) {
      if (prop === 'create') {
        return async (r: TokenRecord) => {
          if (hiccups-- > 0) throw new StoreUnavailableError('connection suspended');
          return target.create(r);
        };
      }
      if (prop === 'createMany') {
        return async (rs: TokenRecord[]) => {
          if (hiccups-- > 0) throw new StoreUnavailableError('connection suspended');
          return target.createMany(rs);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const result = await migrateStore(from, flaky, { concurrency: 4 });
  assert.equal(result.ok, true, JSON.stringify(result.errors));
  assert.equal(result.records.created, 20);

  const [from2, to2] = await Promise.all([started(8), started(8)]);
  await fill(from2, 3);
  const down = new Proxy(to2, {
    get(target, prop, receiver) {
      if (prop === 'create' || prop === 'createMany')
        return async () => Promise.reject(new StoreUnavailableError('ZooKeeper 127.0.0.1:1 is unavailable'));
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const failed = await migrateStore(from2, down, { retryForMs: 100 });
  assert.equal(failed.ok, false);
  assert.equal(failed.records.failed, 3);
  assert.equal(failed.verification.missing, 3);
  assert.match(failed.errors[0]!, /^writing s\.\S+: ZooKeeper 127\.0\.0\.1:1 is unavailable$/);
  await Promise.all([from.close(), to.close(), from2.close(), to2.close()]);
});

test('progress goes through counting, markers, copying and verifying, ending with every record done', async () => {
  const [from, to] = await Promise.all([started(4), started(4)]);
  await fill(from, 25);
  const seen: MigrateProgress[] = [];
  const result = await migrateStore(from, to, { onProgress: (p) => seen.push(p), progressIntervalMs: 0 });
  assert.equal(result.ok, true);
  const phases = [...new Set(seen.map((p) => p.phase))];
  assert.deepEqual(phases, ['markers', 'copying', 'verifying']);
  const lastCopy = seen.filter((p) => p.phase === 'copying').at(-1)!;
  assert.equal(lastCopy.total, 25);
  assert.equal(lastCopy.done, 25);
  assert.equal(lastCopy.created, 25);
  const lastVerify = seen.at(-1)!;
  assert.equal(lastVerify.done, lastVerify.total);
  await Promise.all([from.close(), to.close()]);
});

test('an aborted run stops taking records and says so', async () => {
  const [from, to] = await Promise.all([started(4), started(4)]);
  await fill(from, 50);
  const controller = new AbortController();
  const result = await migrateStore(from, to, {
    concurrency: 1,
    signal: controller.signal,
    onProgress: (p) => p.phase === 'copying' && p.done >= 5 && controller.abort(),
    progressIntervalMs: 0,
  });
  assert.equal(result.aborted, true);
  assert.equal(result.ok, false);
  assert.ok(result.records.created < 50);
  await assert.rejects(migrateStore(from, to, { concurrency: 0 }), RangeError);
  await Promise.all([from.close(), to.close()]);
});

test('records issued after the run started are not counted missing: the next run copies them', async () => {
  const [from, to] = await Promise.all([started(8), started(8)]);
  await fill(from, 10);
  const late = record('newcomer', 'session', { issuedAt: Date.now() });
  // created in the source while the run is under way: after the copy, before the check (which starts by
  // listing the target's markers, for the second time in the run)
  let markerListings = 0;
  const target = new Proxy(to, {
    get(t, prop, receiver) {
      if (prop === 'listMarkers') {
        return async () => {
          if (++markerListings === 2) await from.create(late);
          return t.listMarkers();
        };
      }
      const value = Reflect.get(t, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(t) : value;
    },
  });
  const result = await migrateStore(from, target);
  assert.equal(result.ok, true, JSON.stringify(result.verification));
  assert.equal(result.verification.missing, 0);
  assert.equal(result.verification.issuedSinceStart, 1);
  assert.equal(result.verification.inTarget, 10);
  const next = await migrateStore(from, to);
  assert.equal(next.records.created, 1);
  assert.equal(next.verification.issuedSinceStart, 0);
  await Promise.all([from.close(), to.close()]);
});

test('from a layout-1 store into a layout-2 one: records are found in the target by identity, not by name; a second run copies nothing', async () => {
  const [from, to] = await Promise.all([started(8, 1), started(8, 2)]);
  assert.deepEqual([from.recordLayout, to.recordLayout], [1, 2]);
  const live = await fill(from, 30);
  const first = await migrateStore(from, to, { concurrency: 8 });
  assert.equal(first.ok, true, JSON.stringify(first.verification));
  assert.equal(first.records.created, live.length);
  assert.equal(first.verification.inTarget, live.length);
  for (const r of live) assert.equal(await to.exists({ jti: r.jti, subject: r.subject }), true);
  const second = await migrateStore(from, to, { concurrency: 8 });
  assert.equal(second.ok, true);
  assert.deepEqual([second.records.created, second.records.existing], [0, live.length]);
  await Promise.all([from.close(), to.close()]);
});
