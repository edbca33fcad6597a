import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRevokedByLogout } from './revoked-by-logout.js';

test("a record whose logout generation is below the subject's marker is revoked by it; at or above it is not", () => {
  assert.equal(isRevokedByLogout({ issuedAt: 1_000, gen: 0 }, undefined), false);
  assert.equal(isRevokedByLogout({ issuedAt: 1_000, gen: 0 }, { gen: 1 }), true);
  assert.equal(isRevokedByLogout({ issuedAt: 1_000, gen: 2 }, { gen: 3 }), true);
  assert.equal(isRevokedByLogout({ issuedAt: 1_000, gen: 3 }, { gen: 3 }), false);
  assert.equal(isRevokedByLogout({ issuedAt: 1_000, gen: 4 }, { gen: 3 }), false);
});

test('the issue time decides only against a marker written before generations, for a record without one', () => {
  assert.equal(isRevokedByLogout({ issuedAt: 999 }, { gen: 1, legacyBefore: 1_000 }), true);
  assert.equal(isRevokedByLogout({ issuedAt: 1_000 }, { gen: 1, legacyBefore: 1_000 }), false);
  // a wall-clock time never outranks a generation
  assert.equal(isRevokedByLogout({ issuedAt: 999, gen: 1 }, { gen: 1, legacyBefore: 1_000 }), false);
});
