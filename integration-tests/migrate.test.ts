import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';

/**
 * `tokensync store migrate` as a real process between a DIRECTORY store that a sidecar keeps serving and a
 * real ZooKeeper server, both ways: what it copies, what it leaves, that a second run copies nothing, that
 * the final check catches a missing record, and that a sidecar on the new store accepts the old tokens.
 */
let zk: ZooKeeperCluster;
let dir: string;
let dirConfig: string;
let zkConfig: string;
let source: SidecarProcess;
let zkNode: SidecarProcess | undefined;
const sessions: Array<{ token: string; jti: string }> = [];
let api: { token: string; jti: string };
let onetime: { token: string; jti: string };
let loggedOut: { token: string; jti: string };

before(async () => {
  zk = await startZooKeeper({ servers: 1 });
  dir = await tempDir('tokensync-migrate-');
  const secret = { 'authentication.token.secret.file': join(dir, 'token_secret') };
  dirConfig = await writeProperties(join(dir, 'dir.properties'), {
    ...secret,
    // the final check excuses records issued within the clock skew of the run's start (a live cluster keeps
    // issuing): a small skew lets it catch a record of this test's, issued seconds ago, that went missing
    'authentication.token.clock.skew': '1s',
    'node.id': 'cli',
    'app.data.dir': join(dir, 'cli'),
    'cluster.store.directory.path': join(dir, 'store'),
    'cluster.store.directory.shards': 32,
  });
  zkConfig = await writeProperties(join(dir, 'zk.properties'), {
    ...secret,
    'node.id': 'cli',
    'app.data.dir': join(dir, 'cli'),
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': `${zk.connectString}/tokensync`,
    'cluster.store.zookeeper.shards': 128,
  });
  assert.equal((await runCli(['secret', 'generate', '--config', dirConfig])).code, 0);
  source = await new SidecarProcess({
    nodeId: 'd1',
    dir: join(dir, 'd1'),
    props: {
      ...secret,
      'app.data.dir': join(dir, 'd1'),
      'cluster.store.directory.path': join(dir, 'store'),
      'cluster.store.directory.shards': 32,
    },
  }).start();
  for (let batch = 0; batch < 10; batch++) {
    const issued = await Promise.all(Array.from({ length: 20 }, (_, i) => source.api.issue({ subject: `user${batch * 20 + i}` })));
    for (const r of issued) {
      assert.equal(r.status, 201, r.text);
      sessions.push(r.body);
    }
  }
  api = (await source.api.issue({ subject: 'robot', kind: 'api' })).body;
  onetime = (await source.api.issue({ subject: 'reset', kind: 'onetime' })).body;
  loggedOut = (await source.api.issue({ subject: 'leaver' })).body;
  assert.equal((await source.api.logout('leaver')).status, 200);
});

after(async () => {
  await Promise.all([source?.stop(), zkNode?.stop()]);
  await zk?.close();
});

test('DIRECTORY -> ZOOKEEPER while the sidecar keeps validating: live records and markers copied, verified', async () => {
  let failures = 0;
  let validations = 0;
  let stop = false;
  const client = (async () => {
    while (!stop) {
      const t = sessions[validations % sessions.length]!;
      if ((await source.api.validate(t.token)).status !== 200) failures++;
      validations++;
    }
  })();
  const run = await runCli(['store', 'migrate', '--config', dirConfig, '--to-config', zkConfig, '--concurrency', '64']);
  stop = true;
  await client;
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.equal(failures, 0, `${failures} of ${validations} validations failed during the migration`);
  assert.ok(validations > 0);
  const live = sessions.length + 1; // + the api token; the one-time token and leaver's token stay behind
  assert.match(
    run.stdout,
    new RegExp(
      `^records: ${live + 2} in the source, ${live} copied, 0 already there, 2 not needed \\(0 expired, 1 logged out, 1 one-time, 0 deleted meanwhile\\), 0 failed$`,
      'm',
    ),
  );
  assert.match(run.stdout, /^markers: 1 in the source, 1 copied, 0 already there, 0 failed$/m);
  assert.match(
    run.stdout,
    new RegExp(`^verified: all ${live} live records of the source are in the target \\(${live} records there\\)`, 'm'),
  );
  // not a terminal: plain progress lines on stderr
  assert.match(run.stderr, /^migrating DIRECTORY .*\/store -> ZOOKEEPER 127\.0\.0\.1:\d+\/tokensync$/m);
  assert.match(
    run.stderr,
    new RegExp(`^copying: ${live + 2}/${live + 2} records \\(100%\\), \\d+/s; ${live} created, 0 already there, 2 skipped, 0 failed$`, 'm'),
  );
  assert.match(run.stderr, /^verifying: 32\/32 shard groups compared$/m);
});

test('a second run copies nothing; --json gives the documented fields', async () => {
  const run = await runCli(['store', 'migrate', '--config', dirConfig, '--to-config', zkConfig, '--json']);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  const result = JSON.parse(run.stdout);
  assert.deepEqual(Object.keys(result).sort(), [
    'aborted',
    'copyMs',
    'copyRatePerSecond',
    'errors',
    'markers',
    'ok',
    'records',
    'source',
    'target',
    'totalMs',
    'verification',
    'verifyMs',
    'verifyOnly',
  ]);
  assert.equal(result.ok, true);
  assert.equal(result.records.created, 0);
  assert.equal(result.records.existing, sessions.length + 1);
  assert.deepEqual(result.markers, { source: 1, copied: 0, existing: 1, failed: 0 });
  assert.deepEqual(Object.keys(result.verification).sort(), [
    'checked',
    'inTarget',
    'issuedSinceStart',
    'markersMissing',
    'missing',
    'notNeeded',
    'ok',
    'sampleMissing',
    'targetRecords',
  ]);
});

test('a sidecar on the new store accepts the old tokens and refuses the logged-out ones', async () => {
  zkNode = await new SidecarProcess({
    nodeId: 'z1',
    dir: join(dir, 'z1'),
    props: {
      'authentication.token.secret.file': join(dir, 'token_secret'),
      'app.data.dir': join(dir, 'z1'),
      'cluster.store.type': 'ZOOKEEPER',
      'cluster.store.zookeeper.connect': `${zk.connectString}/tokensync`,
    },
  }).start();
  for (const t of [...sessions, api]) assert.equal((await zkNode.api.validate(t.token)).status, 200, t.jti);
  assert.equal((await zkNode.api.validate(loggedOut.token)).body.reason, 'revoked');
  // one-time tokens are not copied (see docs/operations.md): without a fallback store, unknown here
  assert.equal((await zkNode.api.validate(onetime.token)).body.reason, 'consumed');
});

test('--verify-only finds a record missing from the target (exit 1); migrating again puts it back', async () => {
  const victim = sessions[7]!;
  assert.equal((await runCli(['tokens', 'revoke', victim.jti, '--config', zkConfig])).code, 0);
  const check = await runCli(['store', 'migrate', '--config', dirConfig, '--to-config', zkConfig, '--verify-only']);
  assert.equal(check.code, 1);
  assert.match(
    check.stdout,
    new RegExp(
      `^verification FAILED: 1 of ${sessions.length + 2} source records missing from the target, 0 logout markers missing \\(e\\.g\\. ${victim.jti.replace(/\./g, '\\.')}~`,
      'm',
    ),
  );
  assert.doesNotMatch(check.stdout, /^records:/m); // nothing copied
  const fix = await runCli(['store', 'migrate', '--config', dirConfig, '--to-config', zkConfig, '--json']);
  assert.equal(fix.code, 0, fix.stderr + fix.stdout);
  assert.equal(JSON.parse(fix.stdout).records.created, 1);
  assert.equal((await runCli(['store', 'migrate', '--config', dirConfig, '--to-config', zkConfig, '--verify-only'])).code, 0);
});

test('ZOOKEEPER -> DIRECTORY into a fresh folder: the same records, usable there', async () => {
  const back = await writeProperties(join(dir, 'back.properties'), {
    'authentication.token.secret.file': join(dir, 'token_secret'),
    'node.id': 'cli',
    'app.data.dir': join(dir, 'cli'),
    'cluster.store.directory.path': join(dir, 'back'),
  });
  const run = await runCli(['store', 'migrate', '--config', zkConfig, '--to-config', back, '--json']);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  const result = JSON.parse(run.stdout);
  assert.equal(result.source.type, 'ZOOKEEPER');
  assert.equal(result.target.type, 'DIRECTORY');
  assert.equal(result.records.created, sessions.length + 1);
  assert.equal(result.verification.targetRecords, sessions.length + 1);
  for (const t of [sessions[0]!, api]) {
    const v = await runCli(['verify', t.token, '--config', back]);
    assert.equal(v.code, 0, v.stdout);
    assert.match(v.stdout, /^ok {6}record: present in the DIRECTORY store$/m);
  }
  const stats = JSON.parse((await runCli(['store', 'stats', '--config', back, '--json'])).stdout);
  assert.equal(stats.total, sessions.length + 1);
  assert.equal(stats.markers, 1);
});
