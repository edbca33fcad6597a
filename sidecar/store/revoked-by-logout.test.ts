import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRevokedByLogout } from './revoked-by-logout.js';

test('a record first issued before the subject\'s marker is revoked by it; one issued at or after it is not', () => {
  assert.equal(isRevokedByLogout({ issuedAt: 1_000 }, undefined), false);
  assert.equal(isRevokedByLogout({ issuedAt: 999 }, 1_000), true);
  assert.equal(isRevokedByLogout({ issuedAt: 1_000 }, 1_000), false);
  assert.equal(isRevokedByLogout({ issuedAt: 1_001 }, 1_000), false);
});
