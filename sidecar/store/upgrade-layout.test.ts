import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DirectoryStore } from './directory/directory-store.js';
import { Mirror, digestOf } from '../mirror/mirror.js';
import { silentLogger } from '../util/logger.js';
import { tempDir } from '../util/test-temp-dirs.js';
import { waitFor } from '../util/wait-for.js';
import { newJti, parseRecordName, refOf, type TokenRecord } from './token-record.js';
import { UpgradeRefusedError, upgradeLayout } from './upgrade-layout.js';
import type { MemberInfo } from './token-store.js';

const member = (nodeId: string): MemberInfo => ({
  nodeId,
  address: '127.0.0.1:1',
  version: 'test',
  pid: process.pid,
  startedAt: Date.now(),
  updatedAt: Date.now(),
  mirrorSize: 0,
  mirrorLagMs: 0,
  state: 'connected',
  storeType: 'DIRECTORY',
});

function record(subject: string): TokenRecord {
  return { jti: newJti('session'), subject, kind: 'session', issuedAt: Date.now(), expiresAt: Date.now() + 3_600_000, node: 'a' };
}

test('store upgrade converts a live DIRECTORY store: the sidecar follows on its heartbeat, its mirror never misses a record, issues during it survive', async () => {
  const root = await tempDir('ts-upgrade-');
  await writeFile(join(root, 'meta.json'), JSON.stringify({ layoutVersion: 1, shards: 8 }));
  const store = (nodeId: string) => new DirectoryStore({ root, shards: 8, rescanIntervalMs: 60_000, logger: silentLogger(), nodeId });
  const sidecar = store('a');
  const mirror = new Mirror(() => sidecar.shards);
  mirror.attach(sidecar);
  await sidecar.start({ watch: true });
  assert.equal(sidecar.recordLayout, 1);
  const before: TokenRecord[] = [];
  for (let i = 0; i < 200; i++) before.push(record(`user${i % 7}`));
  for (const r of before) assert.equal(await sidecar.create(r), true);
  await sidecar.publishMember(member('a'));
  await waitFor(() => mirror.size === 200, 'the mirror holds every record');

  // the sidecar keeps issuing and heart-beating while the upgrade runs; every record must stay present throughout
  const during: TokenRecord[] = [];
  let missing = 0;
  let running = true;
  const traffic = (async () => {
    while (running) {
      const r = record('busy');
      assert.equal(await sidecar.create(r), true);
      during.push(r);
      await sidecar.publishMember(member('a'));
      for (const held of [...before, ...during]) if (mirror.lookup(held.jti).presence === 'removed') missing++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  const cli = store('cli');
  await cli.start();
  const result = await upgradeLayout(cli, { concurrency: 4, membersTimeoutMs: 10_000 });
  running = false;
  await traffic;
  await cli.close();

  assert.equal(result.from, 1);
  assert.ok(result.renamed >= 200, `renamed ${result.renamed}`);
  assert.deepEqual(result.lagging, []);
  assert.equal(missing, 0, 'no record looked revoked during the conversion');
  assert.equal(sidecar.recordLayout, 2);
  assert.equal(JSON.parse(await readFile(join(root, 'meta.json'), 'utf8')).layoutVersion, 2);
  const names = (await Promise.all(Array.from({ length: 8 }, (_, s) => sidecar.listShard(s)))).flat();
  assert.equal(names.length, 200 + during.length, 'every record issued before and during it is there');
  assert.ok(
    names.every((n) => parseRecordName(n)?.expiresAt !== undefined),
    'every name is layout 2',
  );
  await waitFor(() => mirror.size === names.length, 'the mirror holds every record');
  await waitFor(() => mirror.digest().xor === digestOf(names).xor, 'the mirror holds every record under its layout-2 name');
  for (const r of [...before, ...during]) {
    assert.equal(await sidecar.exists(refOf(r, 1)), true, 'found by a ref without its expiry (from token claims)');
    assert.equal(mirror.lookup(r.jti).presence, 'present');
  }
  const again = await upgradeLayout(sidecar, { concurrency: 4, membersTimeoutMs: 1_000 });
  assert.equal(again.renamed, 0, 'idempotent');
  await sidecar.close();
});

test('store upgrade refuses while a live member cannot read layout 2, and changes nothing', async () => {
  const root = await tempDir('ts-upgrade-');
  await writeFile(join(root, 'meta.json'), JSON.stringify({ layoutVersion: 1, shards: 8 }));
  const s = new DirectoryStore({ root, shards: 8, rescanIntervalMs: 60_000, logger: silentLogger(), nodeId: 'cli' });
  await s.start();
  await writeFile(join(root, 'members', 'old.json'), JSON.stringify(member('old'))); // a member report without `layout`
  await assert.rejects(upgradeLayout(s, { concurrency: 1, membersTimeoutMs: 1_000 }), UpgradeRefusedError);
  assert.equal(JSON.parse(await readFile(join(root, 'meta.json'), 'utf8')).layoutVersion, 1);
  await s.close();
});
