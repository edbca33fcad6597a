import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { parseSrvr, probeServers } from './zookeeper-servers.js';

const SRVR = `Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, built on 2022-02-25 08:49 UTC
Latency min/avg/max: 0/0.4/12
Received: 120
Sent: 119
Connections: 3
Outstanding: 0
Zxid: 0x100000042
Mode: follower
Node count: 4123
`;

/** A loopback server answering four-letter words from a table, as ZooKeeper does (reply, then close). */
async function fakeServer(replies: Record<string, string>): Promise<{ address: string; close(): Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.once('data', (word) =>
      socket.end(replies[word.toString()] ?? `${word.toString()} is not executed because it is not in the whitelist.\n`),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { address: `127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('parseSrvr reads mode, version, zxid, connections, node count and latency', () => {
  assert.deepEqual(parseSrvr('zk1:2181', SRVR), {
    server: 'zk1:2181',
    mode: 'follower',
    version: '3.8.0',
    zxid: '0x100000042',
    connections: 3,
    nodes: 4123,
    latency: '0/0.4/12',
  });
  assert.deepEqual(parseSrvr('zk1:2181', 'This ZooKeeper instance is not currently serving requests\n'), {
    server: 'zk1:2181',
    mode: 'down',
    note: 'This ZooKeeper instance is not currently serving requests',
  });
});

test('probeServers: which server holds our session, a server refusing 4lw, a closed port; never throws', async () => {
  const ours = await fakeServer({
    srvr: SRVR.replace('follower', 'leader'),
    cons: ' /127.0.0.1:5[1](queued=0,recved=3,sent=3,sid=0x1000a2b3c4d0001,lop=PING)\n',
  });
  const other = await fakeServer({ srvr: SRVR, cons: ' /127.0.0.1:6[1](queued=0,recved=3,sent=3,sid=0x2000000000000007,lop=PING)\n' });
  const locked = await fakeServer({});
  const closed = await fakeServer({});
  await closed.close();
  try {
    const statuses = await probeServers([ours.address, other.address, locked.address, closed.address], {
      sessionId: '1000a2b3c4d0001',
      timeoutMs: 2_000,
    });
    assert.deepEqual(
      statuses.map((s) => [s.mode, s.ours ?? null]),
      [
        ['leader', true],
        ['follower', false],
        ['unknown', null],
        ['down', null],
      ],
    );
    assert.match(statuses[2]!.note!, /4lw\.commands\.whitelist/);
    assert.match(statuses[3]!.note!, /ECONNREFUSED/);
  } finally {
    await Promise.all([ours.close(), other.close(), locked.close()]);
  }
});
