import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../util/logger.js';
import { waitFor } from '../../util/wait-for.js';
import { type LogoutMarker, markerData } from '../logout-marker.js';
import { encodeSubject } from '../token-record.js';
import type { StoreEvents } from '../token-store.js';
import { ZkLayout } from './layout.js';
import { MarkerWatcher } from './marker-watcher.js';
import type { ZkClient } from './zk-client.js';
import { rawClient } from '../../../integration-tests/support/zk-test-support.js';
import { startZooKeeper, type ZooKeeperCluster } from '../../../integration-tests/zookeeper/index.js';

/** The logout markers followed on a real ZooKeeper server; watch events are routed to the watcher as TreeWatcher does. */

let zk: ZooKeeperCluster;
let raw: ZkClient;

before(async () => {
  zk = await startZooKeeper({ servers: 1 });
  raw = await rawClient(zk.connectString, silentLogger());
  for (const path of ['/mw', '/mw/subjects']) await raw.create(path, '');
});

after(async () => {
  raw?.close();
  await zk?.close();
});

test('every marker read at once, then appearing, raised and deleted markers reported one by one', async () => {
  const layout = new ZkLayout('/mw', 4);
  const path = (subject: string) => `${layout.subjects}/${encodeSubject(subject)}`;
  await raw.create(path('alice'), markerData('alice', 2, 0));
  await raw.create(`${layout.subjects}/not~a~subject`, 'junk');

  const full: Array<Map<string, LogoutMarker>> = [];
  const changes: Array<[string, number | null]> = [];
  const failures: unknown[] = [];
  const watcher = new MarkerWatcher(
    {
      layout,
      logger: silentLogger(),
      readConcurrency: 4,
      client: () => raw,
      emit: <K extends keyof StoreEvents>(event: K, ...args: StoreEvents[K]) => {
        if (event === 'markers') full.push(args[0] as Map<string, LogoutMarker>);
        if (event === 'marker') changes.push([args[0] as string, (args[1] as LogoutMarker | null)?.gen ?? null]);
      },
    },
    (() => {
      let seq = 0;
      return () => ++seq;
    })(),
    (error) => failures.push(error),
  );
  raw.on('watch', (type, watched) => {
    if (watched === layout.subjects && type === 'child') watcher.childrenChanged();
    else if (watched.startsWith(`${layout.subjects}/`)) {
      const encoded = watched.slice(layout.subjects.length + 1);
      if (type === 'changed') watcher.markerChanged(encoded);
      else if (type === 'deleted') watcher.markerDeleted(encoded);
    }
  });

  await watcher.readAll();
  assert.equal(full.length, 1);
  assert.deepEqual(
    [...full[0]!].map(([subject, m]) => [subject, m.gen]),
    [['alice', 2]],
  );
  assert.equal(watcher.count, 1, 'the name that is no subject is skipped');

  await raw.create(path('bob'), markerData('bob', 1, 0));
  await waitFor(() => changes.length === 1, 'bob appears');
  await raw.set(path('alice'), markerData('alice', 3, 0), -1);
  await waitFor(() => changes.length === 2, 'alice raised');
  await raw.delete(path('bob'), -1);
  await waitFor(() => changes.length === 3, 'bob deleted');
  assert.deepEqual(changes, [
    ['bob', 1],
    ['alice', 3],
    ['bob', null],
  ]);
  assert.equal(watcher.count, 1);
  assert.deepEqual(failures, []);

  watcher.stop();
  await raw.set(path('alice'), markerData('alice', 4, 0), -1);
  await new Promise((r) => setTimeout(r, 200)); // nothing else may be reported once stopped
  assert.equal(changes.length, 3);
});
