/**
 * The harness against a real ZooKeeper: a single server, and a 3-node ensemble that loses its leader.
 * Talks to the servers through the same `zookeeper` binding the sidecar uses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ZooKeeper from 'zookeeper';

import { scaledTimeout, startZooKeeper } from './index.js';

const { ZOO_PERSISTENT, ZOO_PERSISTENT_WITH_TTL, ZOO_LOG_LEVEL_ERROR } = ZooKeeper.constants;
const TEST_TIMEOUT = { timeout: scaledTimeout(30_000) };

/** Opens a session and resolves once it is connected; rejects (and closes the client) after `timeoutMs`. */
async function connect(connectString: string, timeoutMs = scaledTimeout(10_000)): Promise<ZooKeeper> {
  const client = new ZooKeeper({
    connect: connectString,
    timeout: 5_000,
    debug_level: ZOO_LOG_LEVEL_ERROR,
    host_order_deterministic: false,
    // Without this the binding ends the session itself after 10 empty polls.
    response_counter_limit: 1e9,
  });
  const connected = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no session with ${connectString} in ${timeoutMs} ms`)), timeoutMs);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  client.init({});
  try {
    await connected;
    return client;
  } catch (error) {
    client.close();
    throw error;
  }
}

async function readString(client: ZooKeeper, path: string): Promise<string> {
  const [, data] = await client.get(path, false);
  return Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
}

test('a single server serves reads, writes and TTL nodes', TEST_TIMEOUT, async (t) => {
  const started = Date.now();
  await using zk = await startZooKeeper({ servers: 1 });
  t.diagnostic(`single server (${zk.provider}) ready in ${Date.now() - started} ms`);
  assert.equal(zk.servers, 1);
  assert.equal(await zk.mode(0), 'standalone');
  assert.equal(await zk.leaderIndex(), 0);

  const client = await connect(zk.connectString);
  try {
    await client.create('/harness', 'hello', ZOO_PERSISTENT);
    assert.equal(await readString(client, '/harness'), 'hello');
    // Extended types are on by default, so a TTL node can be created.
    await client.create('/harness-ttl', 'x', ZOO_PERSISTENT_WITH_TTL, 60_000);
    assert.ok(await client.exists('/harness-ttl', false));
  } finally {
    client.close();
  }
});

test('extendedTypes: false gives a server that refuses TTL nodes, as most production do', TEST_TIMEOUT, async () => {
  await using zk = await startZooKeeper({ servers: 1, extendedTypes: false });
  const client = await connect(zk.connectString);
  try {
    await assert.rejects(client.create('/ttl', 'x', ZOO_PERSISTENT_WITH_TTL, 60_000), /-6 unimplemented/);
  } finally {
    client.close();
  }
});

test('a 3-node ensemble elects a new leader and keeps its data when the leader dies', TEST_TIMEOUT, async (t) => {
  const started = Date.now();
  await using zk = await startZooKeeper({ servers: 3 });
  t.diagnostic(`3-node ensemble (${zk.provider}) ready in ${Date.now() - started} ms`);
  assert.equal(zk.servers, 3);
  assert.equal(zk.connectString.split(',').length, 3);

  const leader = await zk.waitForQuorum();
  assert.equal(await zk.leaderIndex(), leader);
  const modes = await Promise.all([0, 1, 2].map((i) => zk.mode(i)));
  assert.deepEqual([...modes].sort(), ['follower', 'follower', 'leader']);

  const writer = await connect(zk.getServerConnectString(leader));
  try {
    await writer.create('/failover', 'survives', ZOO_PERSISTENT);
  } finally {
    writer.close();
  }

  const killedAt = Date.now();
  await zk.kill(leader);
  assert.equal(await zk.mode(leader), 'down');
  const newLeader = await zk.waitForQuorum();
  t.diagnostic(`new leader ${newLeader} elected ${Date.now() - killedAt} ms after killing leader ${leader}`);
  assert.notEqual(newLeader, leader);

  // Read through a survivor that is not the new leader, so the follower path is exercised.
  const survivor = [0, 1, 2].find((i) => i !== leader && i !== newLeader)!;
  const reader = await connect(zk.getServerConnectString(survivor));
  try {
    await reader.sync('/failover');
    assert.equal(await readString(reader, '/failover'), 'survives');
  } finally {
    reader.close();
  }

  // The killed server rejoins with its old data, as a follower now.
  await zk.start(leader);
  assert.equal(await zk.waitForQuorum(), newLeader);
  assert.equal(await zk.mode(leader), 'follower');
});
