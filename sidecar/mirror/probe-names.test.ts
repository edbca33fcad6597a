import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../util/clock.js';
import { Mirror } from './mirror.js';
import { type RecordRef, newJti, recordName, refOf, shardOf } from '../store/token-record.js';
import { newProbeRecord } from '../store/probe-record.js';

const SHARDS = 8;

function mirrorWithEvents(clock = new ManualClock()) {
  const mirror = new Mirror(SHARDS, { clock });
  const probes: Array<[string, boolean]> = [];
  const expired: RecordRef[] = [];
  mirror.on('probe', (ref, present) => probes.push([ref.jti, present]));
  mirror.on('expired', (refs) => expired.push(...refs));
  return { mirror, probes, expired, clock };
}

test('a probe record is reported as it comes and goes, and is never a record of the mirror', () => {
  const { mirror, probes } = mirrorWithEvents();
  const token = refOf({ jti: newJti('session'), subject: 'alice', expiresAt: Date.now() + 3_600_000 });
  const probe = refOf(newProbeRecord('node-b', Date.now()));
  const before = mirror.digest();
  mirror.applyRecord(shardOf(probe.jti, SHARDS), recordName(probe), true);
  mirror.applyRecord(shardOf(token.jti, SHARDS), recordName(token), true);
  assert.deepEqual(probes, [[probe.jti, true]]);
  assert.equal(mirror.size, 1);
  assert.equal(mirror.lookup(probe.jti).presence, 'unknown');
  assert.deepEqual(
    [...mirror.entries()].map((r) => r.jti),
    [token.jti],
  );
  mirror.applyRecord(shardOf(token.jti, SHARDS), recordName(token), false);
  assert.deepEqual(mirror.digest(), before, 'the digest never counts the probe');
  mirror.applyRecord(shardOf(probe.jti, SHARDS), recordName(probe), false);
  assert.deepEqual(probes, [
    [probe.jti, true],
    [probe.jti, false],
  ]);
});

test('shard listings: a probe that appears or vanishes between two listings is reported; the rest is applied', () => {
  const { mirror, probes } = mirrorWithEvents();
  let probe = refOf(newProbeRecord('node-b', Date.now()));
  while (shardOf(probe.jti, SHARDS) !== 0) probe = refOf(newProbeRecord('node-b', Date.now()));
  let token = refOf({ jti: newJti('api'), subject: 'bob', expiresAt: null });
  while (shardOf(token.jti, SHARDS) !== 0) token = refOf({ jti: newJti('api'), subject: 'bob', expiresAt: null });
  mirror.applyShard(0, [recordName(probe), recordName(token)]);
  mirror.applyShard(0, [recordName(probe), recordName(token)]);
  assert.deepEqual(probes, [[probe.jti, true]], 'once');
  assert.equal(mirror.size, 1);
  mirror.applyShard(1, []);
  assert.equal(probes.length, 1, 'another shard says nothing of it');
  mirror.applyShard(0, [recordName(token)]);
  assert.deepEqual(probes.at(-1), [probe.jti, false]);
  assert.equal(mirror.lookup(token.jti).presence, 'present');
});

test('a probe left behind (its writer stopped) is handed to the reaper once past its expiry', () => {
  const { mirror, expired, clock } = mirrorWithEvents();
  const probe = refOf(newProbeRecord('node-b', clock.now()));
  mirror.applyRecord(shardOf(probe.jti, SHARDS), recordName(probe), true);
  mirror.sweep();
  assert.equal(expired.length, 0);
  clock.set(probe.expiresAt! + 1);
  mirror.sweep();
  assert.deepEqual(
    expired.map((r) => r.jti),
    [probe.jti],
  );
});
