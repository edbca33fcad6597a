import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import type { MemberInfo, TokenStore } from '../store/token-store.js';
import { type RecordRef, type TokenRecord, refOf } from '../store/token-record.js';
import { isProbeJti, probeSubject } from '../store/probe-record.js';
import type { PropagationOp } from '../metrics/propagation-stats.js';
import { ProbeSightings, PropagationProbe } from './propagation-probe.js';

/**
 * The probe's measurement on a fake clock: members whose clocks are hours off report only ages (durations on
 * their own clocks), and the figure is the prober's own elapsed time less that age, so it can only come out at
 * or above the true lag. The fake store answers writes at once and publishes a member's report when the test says.
 */

interface FakeMember {
  nodeId: string;
  /** This member's wall clock minus the prober's: never used by the prober, only by the member's own ages. */
  offsetMs: number;
  /** After the write's answer, when (prober's clock) the member's mirror has the change; undefined: never. */
  seesAfterMs?: number;
  /** After the write's answer, when its report (with the sighting's age) is published; it stays published. */
  publishesAfterMs?: number;
  /** An older tokensync: no `probes` in its report at all. */
  old?: boolean;
}

function setup(members: FakeMember[]) {
  const clock = new ManualClock(Date.UTC(2026, 11, 7, 10));
  const writes: Array<{ op: 'create' | 'delete'; jti: string; at: number }> = [];
  const sightings = new Map<string, ProbeSightings>();
  const memberClocks = new Map<string, ManualClock>();
  for (const m of members) {
    memberClocks.set(m.nodeId, new ManualClock(clock.now() + m.offsetMs));
    sightings.set(m.nodeId, new ProbeSightings(memberClocks.get(m.nodeId)!, probeSubject(m.nodeId)));
  }
  const published = new Map<string, Record<string, number>>();
  const lastWrite = () => writes.at(-1)!;
  /** Moves both clocks to `to` (prober's), applying what the members see and publish by then. */
  const advanceTo = (to: number) => {
    const w = writes.at(-1);
    for (const m of members) {
      const mc = memberClocks.get(m.nodeId)!;
      const steps = [m.seesAfterMs, m.publishesAfterMs].filter((x): x is number => x !== undefined).sort((a, b) => a - b);
      for (const step of steps) {
        const at = (w?.at ?? 0) + step;
        if (!w || at > to || at < clock.now()) continue;
        mc.set(at + m.offsetMs);
        if (step === m.seesAfterMs) sightings.get(m.nodeId)!.add({ jti: w.jti, subject: probeSubject('prober') }, w.op === 'create');
        if (step === m.publishesAfterMs) published.set(m.nodeId, sightings.get(m.nodeId)!.report());
      }
      mc.set(to + m.offsetMs);
    }
    clock.set(to);
  };
  const store = {
    state: 'connected',
    recordLayout: 2,
    async listMembers(): Promise<Array<Partial<MemberInfo>>> {
      return [
        { nodeId: 'prober', probes: {} },
        ...members.map((m) => ({ nodeId: m.nodeId, ...(m.old ? {} : { probes: published.get(m.nodeId) ?? {} }) })),
      ];
    },
    async create(record: TokenRecord) {
      assert.ok(isProbeJti(record.jti));
      assert.equal(record.subject, probeSubject('prober'));
      writes.push({ op: 'create', jti: record.jti, at: clock.now() });
      return true;
    },
    async delete(ref: RecordRef) {
      assert.equal(ref.jti, lastWrite().jti);
      writes.push({ op: 'delete', jti: ref.jti, at: clock.now() });
      return true;
    },
  };
  const figures: Array<{ op: PropagationOp; member: string; ms: number }> = [];
  const missed: Array<{ op: PropagationOp; member: string }> = [];
  const probe = new PropagationProbe({
    nodeId: 'prober',
    store: store as unknown as TokenStore,
    clock,
    logger: silentLogger(),
    measured: (op, member, ms) => figures.push({ op, member, ms }),
    missed: (op, member) => missed.push({ op, member }),
    sleep: async (ms) => advanceTo(clock.now() + ms),
    ackTimeoutMs: 4_000,
  });
  return { clock, probe, writes, figures, missed };
}

test('issue then revoke: per member, the time from the write to its mirror, plus only the return trip', async () => {
  const { probe, writes, figures, missed } = setup([
    // sees it 12 ms after the write, reports it at once: the prober reads it at its next poll (5+10 = 15 ms)
    { nodeId: 'b', offsetMs: 3 * 3_600_000, seesAfterMs: 12, publishesAfterMs: 12 },
    // sees it after 40 ms, but its report goes out only 900 ms later (a publish was in flight): the age takes that off
    { nodeId: 'c', offsetMs: -7 * 3_600_000, seesAfterMs: 40, publishesAfterMs: 940 },
  ]);
  await probe.tick();
  assert.deepEqual(
    writes.map((w) => w.op),
    ['create'],
  );
  const issue = Object.fromEntries(figures.map((f) => [f.member, f]));
  assert.equal(issue.b?.op, 'issue');
  // polls at 5, 15 ms: b's report is there at 15; its age was 0 (published when seen, at 12): 15 - 0 = 15
  assert.equal(issue.b?.ms, 15);
  // c published at 940 with age 900; read at the poll after (35, 75, 155, 255, 355 ... 955 ms): 955 - 900 = 55
  assert.equal(issue.c?.ms, 55);
  for (const f of figures) assert.ok(f.ms >= (f.member === 'b' ? 12 : 40), 'never below the true lag');
  assert.deepEqual(missed, []);
  assert.equal(probe.intervalMs, 10_000, '5 s per other member: each member hears of one probe per 5 s from all');

  figures.length = 0;
  await probe.tick();
  assert.deepEqual(
    writes.map((w) => w.op),
    ['create', 'delete'],
    'the next probe deletes the record the last one created',
  );
  assert.deepEqual(
    figures.map((f) => [f.op, f.member, f.ms]),
    [
      ['revoke', 'b', 15],
      ['revoke', 'c', 55],
    ],
  );
});

test('a member that never acknowledges is missed once; one that left, or an older tokensync, is not waited for', async () => {
  const { probe, clock, figures, missed } = setup([
    { nodeId: 'silent', offsetMs: 0 },
    { nodeId: 'old', offsetMs: 0, old: true, seesAfterMs: 1, publishesAfterMs: 1 },
  ]);
  const started = clock.now();
  await probe.tick();
  assert.deepEqual(figures, []);
  assert.deepEqual(missed, [{ op: 'issue', member: 'silent' }]);
  assert.ok(clock.now() - started >= 4_000 && clock.now() - started < 4_200, 'gave up after the wait');
});

test('no other member: no probe written at all', async () => {
  const { probe, writes } = setup([]);
  await probe.tick();
  await probe.tick();
  assert.deepEqual(writes, []);
});

test('a member reports ages of other members probes only, and forgets them', () => {
  const clock = new ManualClock();
  const seen = new ProbeSightings(clock, probeSubject('me'));
  const other: RecordRef = refOf({ jti: '_tsprobe.abcdefgh', subject: probeSubject('other'), expiresAt: clock.now() + 1000 });
  assert.equal(seen.add({ jti: '_tsprobe.mine0000', subject: probeSubject('me') }, true), false, 'our own probe');
  assert.equal(seen.add(other, true), true);
  assert.equal(seen.add(other, true), false, 'seen once is enough');
  clock.advance(250);
  assert.equal(seen.add(other, false), true);
  clock.advance(50);
  assert.deepEqual(seen.report(), { '_tsprobe.abcdefgh+': 300, '_tsprobe.abcdefgh-': 50 });
  clock.advance(60_000);
  assert.deepEqual(seen.report(), {});
});
