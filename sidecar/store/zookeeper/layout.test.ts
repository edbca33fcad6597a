import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ZkLayout, digestId, isValidChroot, isValidShardCount, parseMeta, sequenceOf } from './layout.js';

describe('ZkLayout', () => {
  it('names every path under the chroot', () => {
    const layout = new ZkLayout('/pano', 4096);
    assert.equal(layout.meta, '/pano/meta');
    assert.deepEqual(layout.parents(), ['/pano/tokens', '/pano/subjects', '/pano/members', '/pano/reaper', '/pano/replays']);
    assert.equal(layout.shardPath(10), '/pano/tokens/00a');
    assert.equal(layout.markerPath('alice'), '/pano/subjects/YWxpY2U');
    assert.equal(layout.memberPath('host/1'), '/pano/members/host%2F1');
    assert.equal(layout.memberPath('..'), '/pano/members/%2E.');
    assert.deepEqual(new ZkLayout('/a/b/c', 16).chrootPaths(), ['/a', '/a/b', '/a/b/c']);
    assert.deepEqual(new ZkLayout('', 16).chrootPaths(), []);
    assert.equal(new ZkLayout('', 16).shardPath(15), '/tokens/f');
  });

  it('classifies watched paths, and nothing else', () => {
    const layout = new ZkLayout('/pano', 256);
    assert.deepEqual(layout.classify('/pano/tokens/ff'), { kind: 'shard', shard: 255 });
    assert.equal(layout.classify('/pano/tokens/100'), undefined, 'wrong width');
    assert.deepEqual(layout.classify('/pano/tokens/0f/x'), { kind: 'record', shard: 15, name: 'x' }, 'a record, from the persistent watch');
    assert.equal(layout.classify('/pano/tokens/0f/x/y'), undefined, 'nothing lives below a record');
    assert.equal(layout.classify('/pano/tokens/0f/'), undefined);
    assert.equal(layout.classify('/pano/tokens/100/x'), undefined, 'a record under a wrongly named shard');
    assert.deepEqual(layout.classify('/pano/subjects'), { kind: 'subjects' });
    assert.deepEqual(layout.classify('/pano/subjects/YWxpY2U'), { kind: 'marker', encoded: 'YWxpY2U', subject: 'alice' });
    assert.equal(layout.classify('/other/tokens/ff'), undefined);
    layout.setShards(16);
    assert.deepEqual(layout.classify('/pano/tokens/f'), { kind: 'shard', shard: 15 });
  });

  it('validates chroots, shard counts and /meta', () => {
    for (const good of ['', '/pano', '/a/b']) assert.ok(isValidChroot(good), good);
    for (const bad of ['pano', '/pano/', '/a//b', '/a/../b', '/']) assert.ok(!isValidChroot(bad), bad);
    for (const good of [1, 16, 4096, 65536]) assert.ok(isValidShardCount(good));
    for (const bad of [0, 3, 100, 131072, 1.5]) assert.ok(!isValidShardCount(bad));
    assert.deepEqual(parseMeta(Buffer.from('{"layoutVersion":1,"shards":64}'), '/m'), { layoutVersion: 1, shards: 64 });
    assert.deepEqual(parseMeta(Buffer.from('{"layoutVersion":2,"shards":64}'), '/m'), { layoutVersion: 2, shards: 64 });
    assert.deepEqual(parseMeta(Buffer.from('{"shards":64}'), '/m'), { layoutVersion: 1, shards: 64 }, 'absent is 1');
    assert.throws(() => parseMeta(Buffer.from('{"layoutVersion":3,"shards":64}'), '/m'), /layoutVersion 3/);
    assert.throws(() => parseMeta(Buffer.from('{"layoutVersion":1,"shards":6}'), '/m'), /shards 6/);
    assert.throws(() => parseMeta(Buffer.from('nope'), '/m'), /JSON/);
  });

  it('computes ZooKeeper digest identities and latch sequences', () => {
    // the value ZooKeeper's DigestAuthenticationProvider gives for u:pw
    assert.equal(digestId('u', 'pw'), 'u:BvFaefuhWURhnvpD7ipe45CKTpk=');
    assert.equal(sequenceOf('latch-1234-0000000042'), 42);
    assert.ok(Number.isNaN(sequenceOf('latch-x')));
  });
});
