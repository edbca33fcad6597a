import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyDisagreements } from './key-agreement.js';
import type { MemberInfo } from '../store/token-store.js';

function member(nodeId: string, signingKid?: string, acceptedKids?: string[]): MemberInfo {
  return {
    nodeId,
    address: '127.0.0.1:1',
    version: '0',
    pid: 1,
    startedAt: 0,
    updatedAt: 0,
    mirrorSize: 0,
    mirrorLagMs: 0,
    state: 'connected',
    storeType: 'ZOOKEEPER',
    ...(signingKid !== undefined && { signingKid, acceptedKids: acceptedKids ?? [signingKid] }),
  };
}

test('members that agree, or that are alone, raise nothing', () => {
  assert.deepEqual(keyDisagreements([member('a', 'K1'), member('b', 'K1'), member('c', 'K1')]), []);
  assert.deepEqual(keyDisagreements([member('a', 'K1')]), []);
  // an older member without key ids is not compared
  assert.deepEqual(keyDisagreements([member('a', 'K1'), member('b')]), []);
});

test('a node with a secret of its own is named, with both directions of refusal', () => {
  const found = keyDisagreements([member('a', 'K1'), member('b', 'K1'), member('c', 'K9')]);
  assert.equal(found.length, 1);
  assert.equal(found[0]!.nodeId, 'c');
  assert.match(found[0]!.problem, /^signs with K9 and accepts K9; most members sign with K1 and accept K1 /);
  assert.match(found[0]!.problem, /its tokens are refused by a, b; it refuses tokens of a, b\): give it the cluster's secret file$/);
});

test('a rotation half copied is flagged without claiming refusals that do not happen', () => {
  // b got the new file (signs K2, still accepts K1); a and c accept only K1, so b's new tokens are refused there
  const found = keyDisagreements([member('a', 'K1'), member('b', 'K2', ['K2', 'K1']), member('c', 'K1')]);
  assert.deepEqual(
    found.map((d) => d.nodeId),
    ['b'],
  );
  assert.match(found[0]!.problem, /its tokens are refused by a, c\)/);
  assert.doesNotMatch(found[0]!.problem, /it refuses/);
  // same accepted keys in another order: no difference
  assert.deepEqual(keyDisagreements([member('a', 'K2', ['K2', 'K1']), member('b', 'K2', ['K1', 'K2'])]), []);
});

test('two against two: every node names the same one, the node.id order breaks the tie', () => {
  const found = keyDisagreements([member('d', 'K2'), member('a', 'K1'), member('c', 'K2'), member('b', 'K1')]);
  assert.deepEqual(found.map((d) => d.nodeId).sort(), ['c', 'd']);
});
