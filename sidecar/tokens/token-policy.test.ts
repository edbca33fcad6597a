import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenPolicy, type TokenPolicyOptions } from './token-policy.js';
import { ManualClock } from '../util/clock.js';

const H = 3600_000;
const D = 24 * H;
const base: TokenPolicyOptions = {
  expirationMs: 7 * D,
  sliding: true,
  absoluteLifetimeMs: 30 * D,
  idleTimeoutMs: 0,
  onetimeExpirationMs: 120_000,
  requireConsistentIp: false,
  clockSkewMs: 30_000,
};

function setup(over: Partial<TokenPolicyOptions> = {}) {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  return { clock, policy: new TokenPolicy({ ...base, ...over }, clock) };
}

test('a session token lives for the configured expiration; its record until the absolute lifetime', () => {
  const { clock, policy } = setup();
  const t = policy.issue('session', 'alice', 's.x');
  assert.equal(t.claims.exp! * 1000 - Math.floor(clock.now() / 1000) * 1000, 7 * D);
  assert.equal(t.recordExpiresAt, clock.now() + 30 * D);
  assert.equal(t.claims.idl, undefined);
});

test('expired only once past exp plus the clock skew', () => {
  const { clock, policy } = setup();
  const { claims } = policy.issue('session', 'alice', 's.x');
  clock.set(claims.exp! * 1000 + 29_000);
  assert.equal(policy.check(claims, undefined), undefined);
  clock.set(claims.exp! * 1000 + 31_000);
  assert.equal(policy.check(claims, undefined)?.reason, 'expired');
});

test('not yet valid while now < nbf - skew, named as expired with a message saying so', () => {
  const { clock, policy } = setup();
  const { claims } = policy.issue('session', 'alice', 's.x');
  claims.nbf = Math.floor(clock.now() / 1000) + 120;
  const refusal = policy.check(claims, undefined);
  assert.equal(refusal?.reason, 'expired');
  assert.match(refusal!.message, /not valid before/);
  clock.advance(100_000); // within the 30 s skew of nbf
  assert.equal(policy.check(claims, undefined), undefined);
});

test('sliding: no reissue before half the lifetime, reissue after, same jti, later exp', () => {
  const { clock, policy } = setup();
  const { claims } = policy.issue('session', 'alice', 's.x');
  clock.advance(3 * D);
  assert.equal(policy.reissue(claims), undefined);
  clock.advance(D);
  const next = policy.reissue(claims)!;
  assert.ok(next);
  assert.equal(next.jti, claims.jti);
  assert.equal(next.ath, claims.ath);
  assert.ok(next.exp! > claims.exp!);
});

test('sliding never reaches beyond the absolute lifetime from first login', () => {
  const { clock, policy } = setup();
  let { claims } = policy.issue('session', 'alice', 's.x');
  const login = claims.ath;
  for (let day = 0; day < 40; day++) {
    clock.advance(4 * D);
    if (policy.check(claims, undefined)) break;
    claims = policy.reissue(claims) ?? claims;
  }
  assert.ok(claims.exp! * 1000 <= login + 30 * D);
  clock.set(login + 30 * D + 31_000);
  assert.equal(policy.check(claims, undefined)?.reason, 'expired');
});

test('sliding off: never reissued', () => {
  const { clock, policy } = setup({ sliding: false });
  const { claims } = policy.issue('session', 'alice', 's.x');
  clock.advance(6 * D);
  assert.equal(policy.reissue(claims), undefined);
});

test('idle timeout: exp is at most the idle timeout ahead, refused as idle_timeout, extended while in use', () => {
  const { clock, policy } = setup({ idleTimeoutMs: 30 * 60_000 });
  let { claims } = policy.issue('session', 'alice', 's.x');
  assert.equal(claims.idl, 1);
  assert.ok(claims.exp! * 1000 <= clock.now() + 30 * 60_000);
  // in use every 20 minutes for 3 hours: stays valid through reissues
  for (let i = 0; i < 9; i++) {
    clock.advance(20 * 60_000);
    assert.equal(policy.check(claims, undefined), undefined, `use ${i}`);
    claims = policy.reissue(claims) ?? claims;
  }
  clock.advance(31 * 60_000 + 30_000);
  assert.equal(policy.check(claims, undefined)?.reason, 'idle_timeout');
});

test('idle timeout longer than the lifetime does not mark exp as idle', () => {
  const { policy } = setup({ idleTimeoutMs: 10 * D });
  const { claims } = policy.issue('session', 'alice', 's.x');
  assert.equal(claims.idl, undefined);
});

test('ttl overrides the session lifetime and is kept across reissues', () => {
  const { clock, policy } = setup();
  const { claims } = policy.issue('session', 'alice', 's.x', { ttlMs: H });
  assert.equal(claims.lft, 3600);
  assert.equal(claims.exp! - claims.iat, 3600);
  clock.advance(40 * 60_000);
  const next = policy.reissue(claims)!;
  assert.equal(next.exp! - next.iat, 3600);
});

test('api tokens never expire and are never reissued', () => {
  const { clock, policy } = setup();
  const t = policy.issue('api', 'ci-bot', 'a.x');
  assert.equal(t.claims.exp, undefined);
  assert.equal(t.recordExpiresAt, null);
  clock.advance(3650 * D);
  assert.equal(policy.check(t.claims, undefined), undefined);
  assert.equal(policy.reissue(t.claims), undefined);
});

test('one-time tokens expire after the one-time expiration', () => {
  const { clock, policy } = setup();
  const t = policy.issue('onetime', 'alice', 'o.x');
  assert.equal(t.recordExpiresAt, clock.now() + 120_000);
  clock.advance(120_000 + 31_000);
  assert.equal(policy.check(t.claims, undefined)?.reason, 'expired');
});

test('address binding: enforced only when required, IPv4-mapped IPv6 is the same client', () => {
  const { policy } = setup({ requireConsistentIp: true });
  const { claims } = policy.issue('session', 'alice', 's.x', { clientIp: '10.1.2.3' });
  assert.equal(claims.cip, '10.1.2.3');
  assert.equal(policy.check(claims, '10.1.2.3'), undefined);
  assert.equal(policy.check(claims, '::ffff:10.1.2.3'), undefined);
  assert.equal(policy.check(claims, '10.1.2.4')?.reason, 'ip_mismatch');
  assert.equal(policy.check(claims, undefined)?.reason, 'ip_mismatch');
  const lax = setup({ requireConsistentIp: false }).policy;
  assert.equal(lax.check(claims, '192.0.2.1'), undefined);
});

/** Two nodes' policies whose clocks are `offsetMs` apart: what one issues, the other checks and reissues. */
function pair(offsetMs: number, over: Partial<TokenPolicyOptions> = {}) {
  const issuer = setup(over);
  const otherClock = new ManualClock(issuer.clock.now() + offsetMs);
  const other = new TokenPolicy({ ...base, ...over }, otherClock);
  const advance = (ms: number) => {
    issuer.clock.advance(ms);
    otherClock.advance(ms);
  };
  return { issuer: issuer.policy, other, otherClock, advance };
}

test('clock skew between nodes: a node up to the skew ahead never refuses a token before the issuer would', () => {
  for (const offset of [30_000, -30_000]) {
    const { issuer, other, advance } = pair(offset, { idleTimeoutMs: 10 * 60_000 });
    const { claims } = issuer.issue('session', 'alice', 's.x');
    advance(10 * 60_000 - 1_000); // just inside the idle timeout on the issuer's clock
    assert.equal(other.check(claims, undefined), undefined, `offset ${offset}`);
    const onetime = issuer.issue('onetime', 'alice', 'o.x').claims;
    advance(120_000 - 1_000);
    assert.equal(other.check(onetime, undefined), undefined, `one-time, offset ${offset}`);
  }
});

test('clock skew between nodes: a node beyond the skew ahead refuses early; within the skew a node behind keeps a token at most the skew plus its offset longer', () => {
  const beyond = pair(90_000, { idleTimeoutMs: 10 * 60_000 });
  const t = beyond.issuer.issue('session', 'alice', 's.x').claims;
  beyond.advance(10 * 60_000 - 50_000);
  assert.equal(beyond.other.check(t, undefined)?.reason, 'idle_timeout', 'what the skew setting protects, exceeded');
  const behind = pair(-30_000, { idleTimeoutMs: 10 * 60_000 });
  const u = behind.issuer.issue('session', 'alice', 's.x').claims;
  behind.advance(10 * 60_000 + 59_000);
  assert.equal(behind.other.check(u, undefined), undefined);
  behind.advance(2_000);
  assert.equal(behind.other.check(u, undefined)?.reason, 'idle_timeout');
});

test('clock skew between nodes: a reissue on a node ahead never passes the absolute lifetime by more than its offset, and keeps lgn', () => {
  const { issuer, other, otherClock, advance } = pair(30_000);
  const first = issuer.issue('session', 'alice', 's.x').claims;
  first.lgn = 3;
  advance(29 * D);
  const next = other.reissue(first, otherClock.now());
  assert.ok(next, 'past half its lifetime');
  assert.equal(next.lgn, 3);
  assert.equal(next.ath, first.ath);
  assert.ok(next.exp! * 1000 <= first.ath + 30 * D + 1_000, "capped by the first login, on the issuer's clock");
});
