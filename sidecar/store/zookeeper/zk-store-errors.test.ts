import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import { BadRequestError } from '../../errors/bad-request-error.js';
import { ZkCode, ZkError } from './zk-error.js';
import { ZooKeeperStoreError } from './zookeeper-store-error.js';
import { credentialsNotAcceptedError, credentialsRejectedError, mapZkError } from './zk-store-errors.js';

const LOCATION = '127.0.0.1:2181/t';

test('a request that may not have reached the ensemble maps to StoreUnavailableError naming the location', () => {
  for (const rc of [ZkCode.CONNECTIONLOSS, ZkCode.OPERATIONTIMEOUT, ZkCode.SESSIONEXPIRED, ZkCode.CLOSING]) {
    const cause = new ZkError(rc, 'get', '/t/meta');
    const mapped = mapZkError(cause, LOCATION);
    assert.ok(mapped instanceof StoreUnavailableError, `rc ${rc}`);
    assert.match(mapped.message, /^ZooKeeper 127\.0\.0\.1:2181\/t is unavailable \(get \/t\/meta: .*cluster\.store\.zookeeper\.connect$/);
    assert.equal(mapped.cause, cause);
  }
});

test('NOAUTH names the auth setting; any other refusal is store.zookeeper.failed', () => {
  const noauth = mapZkError(new ZkError(ZkCode.NOAUTH, 'create', '/t/x'), LOCATION);
  assert.ok(noauth instanceof ZooKeeperStoreError);
  assert.equal(noauth.code, 'store.zookeeper.noauth');
  assert.match(noauth.message, /create \/t\/x \(NOAUTH\).*cluster\.store\.zookeeper\.auth/);
  const other = mapZkError(new ZkError(ZkCode.NOTEMPTY, 'delete', '/t/y'), LOCATION);
  assert.ok(other instanceof ZooKeeperStoreError);
  assert.equal(other.code, 'store.zookeeper.failed');
  assert.equal(other.message, 'ZooKeeper delete /t/y: -111 NOTEMPTY');
});

test('our own errors pass unchanged; a non-Error becomes an Error', () => {
  const own = new BadRequestError('no');
  assert.equal(mapZkError(own, LOCATION), own);
  const plain = new RangeError('too big');
  assert.equal(mapZkError(plain, LOCATION), plain);
  const wrapped = mapZkError('boom', LOCATION);
  assert.ok(wrapped instanceof Error);
  assert.equal(wrapped.message, 'boom');
});

test('credential errors carry the auth code and never the secret', () => {
  assert.equal(credentialsRejectedError().code, 'store.zookeeper.auth');
  const cause = new Error('auth failed');
  const withCause = credentialsNotAcceptedError(cause, true);
  assert.equal(withCause.code, 'store.zookeeper.auth');
  assert.equal(withCause.cause, cause);
  assert.equal(credentialsNotAcceptedError(cause, false).cause, undefined);
  assert.match(withCause.message, /\(auth failed\)$/);
});
