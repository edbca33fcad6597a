import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { silentLogger } from '../../util/logger.js';
import { systemClock } from '../../util/clock.js';
import { StoreUnavailableError } from '../../errors/store-unavailable-error.js';
import type { ConnectionState } from '../connection-state.js';
import { ZkSession, type ZkSessionHost } from './zk-session.js';
import type { ZkClient } from './zk-client.js';
import { ZooKeeperStoreError } from './zookeeper-store-error.js';
import { eventually } from '../../../integration-tests/support/zk-test-support.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../../integration-tests/zookeeper/index.js';

/** A host that records what the session told it. */
function recordingHost(): ZkSessionHost & { states: string[]; reconnects: boolean[]; errors: string[] } {
  const host = {
    states: [] as string[],
    reconnects: [] as boolean[],
    errors: [] as string[],
    stateChanged: (next: ConnectionState, previous: ConnectionState) => void host.states.push(`${previous}->${next}`),
    replacing: () => undefined,
    reconnected: (_client: ZkClient, newSession: boolean) => void host.reconnects.push(newSession),
    watch: () => undefined,
    report: (error: unknown) => void host.errors.push(String(error)),
  };
  return host;
}

function session(connectString: string, host: ZkSessionHost, connectTimeoutMs = 10_000): ZkSession {
  return new ZkSession(
    {
      connectString,
      location: `${connectString}/s`,
      sessionTimeoutMs: 10_000,
      operationTimeoutMs: 2_000,
      connectTimeoutMs,
      logger: silentLogger(),
      clock: systemClock,
    },
    host,
  );
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('ZkSession on a real ZooKeeper', () => {
  let zk: ZooKeeperCluster;
  const sessions: ZkSession[] = [];

  before(async () => {
    zk = await startZooKeeper({ servers: 1 });
  });

  after(async () => {
    for (const s of sessions) s.shutdown();
    await zk?.close();
  });

  it('latent -> started once; no client before start, a fast StoreUnavailableError after close', async () => {
    const host = recordingHost();
    const s = session(zk.connectString, host);
    sessions.push(s);
    assert.throws(() => s.requireClient(), /not started/);
    s.begin();
    assert.throws(() => s.begin(), /started store/);
    await s.connect();
    assert.equal(s.usable, true);
    assert.deepEqual(host.states, ['latent->connected']);
    assert.ok(s.requireClient().isConnected);
    s.markClosed();
    assert.equal(s.usable, false);
    s.shutdown();
    assert.throws(
      () => s.requireClient(),
      (e: unknown) => e instanceof StoreUnavailableError && /closed/.test(e.message),
    );
    assert.throws(() => s.begin(), /closed store/);
    assert.deepEqual(host.errors, []);
  });

  it('run maps what the ensemble refuses to store errors naming the path', async () => {
    const s = session(zk.connectString, recordingHost());
    sessions.push(s);
    s.begin();
    await s.connect();
    await assert.rejects(
      s.run((client) => client.delete('/no/such/node', -1)),
      (e: unknown) => e instanceof ZooKeeperStoreError && e.code === 'store.zookeeper.failed' && e.message.includes('/no/such/node'),
    );
  });

  it('no server answering: StoreUnavailableError naming the setting, after the connect timeout', async () => {
    const connect = `127.0.0.1:${await closedPort()}`;
    const s = session(connect, recordingHost(), 300);
    sessions.push(s);
    s.begin();
    await assert.rejects(
      s.connect(),
      (e: unknown) => e instanceof StoreUnavailableError && e.message.includes(`no ZooKeeper server of ${connect} answered within 300 ms`),
    );
  });

  it('a server restart within the session timeout: suspended, then reconnected on the same session', async () => {
    const host = recordingHost();
    const s = session(zk.connectString, host);
    sessions.push(s);
    s.begin();
    await s.connect();
    const id = s.requireClient().sessionId;
    await zk.stop(0);
    await eventually(() => host.states.includes('connected->suspended'));
    assert.throws(() => s.requireClient(), StoreUnavailableError, 'fails fast while suspended');
    await zk.start(0);
    await eventually(() => host.reconnects.length > 0, 20_000);
    assert.deepEqual(host.reconnects, [false], 'same session');
    assert.equal(s.requireClient().sessionId, id);
    assert.deepEqual(host.errors, []);
  });
});
