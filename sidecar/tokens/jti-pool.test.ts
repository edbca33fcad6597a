import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOKEN_KINDS, isValidJti, kindOfJti, newJti, shardOf } from '../store/token-record.js';
import { JtiPool } from './jti-pool.js';

test("pooled jtis have newJti's form for every kind: its letter, a dot, 16 random bytes in base64url", () => {
  const pool = new JtiPool();
  for (const kind of TOKEN_KINDS) {
    for (let i = 0; i < 600; i++) {
      const jti = pool.next(kind);
      const reference = newJti(kind);
      assert.equal(jti.length, reference.length, jti);
      assert.equal(jti.slice(0, 2), reference.slice(0, 2), jti);
      assert.match(jti, /^[a-z]\.[A-Za-z0-9_-]{22}$/);
      assert.equal(kindOfJti(jti), kind, jti);
      assert.ok(isValidJti(jti), jti);
      assert.equal(Buffer.from(jti.slice(2), 'base64url').length, 16, jti);
      assert.equal(Buffer.from(jti.slice(2), 'base64url').toString('base64url'), jti.slice(2), 'canonical base64url');
    }
  }
});

test('pooled jtis do not repeat across many refills, within one pool or between pools, and spread over shards', () => {
  const seen = new Set<string>();
  const pools = [new JtiPool(), new JtiPool()];
  const shards = new Set<number>();
  for (let i = 0; i < 20_000; i++) {
    for (const pool of pools) {
      const jti = pool.next('session');
      assert.ok(!seen.has(jti), `repeated ${jti} after ${seen.size}`);
      seen.add(jti);
      // the random part alone is unique too (the letter does not make two ids differ)
      shards.add(shardOf(jti, 64));
    }
  }
  assert.equal(new Set([...seen].map((jti) => jti.slice(2))).size, seen.size);
  assert.equal(shards.size, 64);
});
