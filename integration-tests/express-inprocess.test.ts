import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { request } from './support/http.js';
import { ExampleApp, loginAs } from './support/example-app.js';
import { zooKeeperSidecarProps } from './support/zk-sidecars.js';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * The Express middleware's in-process mode (`tokensyncInProcess()`), as examples/express-app runs it with
 * TOKENSYNC_CONFIG: the app process opens the cluster's store itself, with its own mirror, and shares tokens with
 * a real sidecar process on the same store: both ways, issue, revocation and logout everywhere. Once on the
 * embedded DIRECTORY store, once on a real ZooKeeper.
 */

type Props = Record<string, string | number | boolean>;

function suite(name: string, setUp: () => Promise<{ props: Props; dir: string; close?: () => Promise<void> }>): void {
  describe(name, () => {
    let sidecar: SidecarProcess;
    let app: ExampleApp;
    let appConfig: string;
    let cleanUp: (() => Promise<void>) | undefined;
    let folder: string | undefined;

    before(async () => {
      const { props, dir, close } = await setUp();
      cleanUp = close;
      folder = dir;
      sidecar = await new SidecarProcess({ nodeId: 'node1', props: { ...props, 'app.data.dir': join(dir, 'node1') } }).start();
      // The app's own properties: the same store and secret; node.id node2 (this app is the cluster's node2-app).
      appConfig = await writeProperties(join(dir, 'app.properties'), { ...props, 'node.id': 'node2', 'app.data.dir': join(dir, 'node2') });
      app = await new ExampleApp('app', { TOKENSYNC_CONFIG: appConfig }).start();
      assert.match(app.output, /in-process, node\.id node2-app/);
    });

    after(async () => {
      await app?.stop();
      await sidecar?.stop();
      await cleanUp?.();
      if (folder) await rm(folder, { recursive: true, force: true });
    });

    test('a token the sidecar issued is accepted by the app, and refused once the sidecar revokes it', async () => {
      const issued = await sidecar.api.issue({ subject: 'carol' });
      assert.equal(issued.status, 201, issued.text);
      const cookie = `tokensync=${issued.body.token}`;
      // The app's mirror learns of the record through the store's notification: wait for that, not for time.
      await waitFor(
        async () => (await request(app.url, 'GET', '/api/me', { headers: { cookie } })).status === 200,
        'the issue to reach the app',
      );
      const me = await request(app.url, 'GET', '/api/me', { headers: { cookie } });
      assert.equal(me.body.subject, 'carol');
      assert.equal(me.body.jti, issued.body.jti);

      const revoked = await sidecar.api.revoke(issued.body.jti);
      assert.equal(revoked.status, 204, revoked.text);
      await waitFor(
        async () => (await request(app.url, 'GET', '/api/me', { headers: { cookie } })).status === 401,
        'the revocation to reach the app',
      );
      const refused = await request(app.url, 'GET', '/api/me', { headers: { cookie } });
      assert.equal(refused.body.reason, 'revoked');
    });

    test('a login in the app is valid at the sidecar; logout everywhere in the app is refused there at once', async () => {
      const cookie = await loginAs(app, 'dave');
      const token = cookie.slice('tokensync='.length);
      await waitFor(async () => (await sidecar.api.validate(token)).status === 200, 'the app’s issue to reach the sidecar');
      const second = await loginAs(app, 'dave'); // another device of the same user
      const out = await request(app.url, 'POST', '/logout?everywhere=1', { headers: { cookie: second, accept: 'application/json' } });
      assert.equal(out.status, 200, out.text);
      assert.equal(out.body.revoked, 2);
      // Logout everywhere waits for every member (the sidecar included) to acknowledge: no waiting here.
      const atSidecar = await sidecar.api.validate(token);
      assert.equal(atSidecar.status, 401);
      assert.equal(atSidecar.body.reason, 'revoked');
    });

    test('a one-time token lets one request through, whether the app or the sidecar sees it first', async () => {
      // Issued at the sidecar and presented to the app straight away: the app's mirror may not hold it yet (it
      // asks the store), and the app consumes it in the store, so the sidecar then refuses it.
      const first = await sidecar.api.issue({ subject: 'otto', kind: 'onetime' });
      const cookie = `tokensync=${first.body.token}`;
      const inApp = await request(app.url, 'GET', '/api/me', { headers: { cookie, accept: 'application/json' } });
      assert.equal(inApp.status, 200, inApp.text);
      assert.deepEqual([inApp.body.subject, inApp.body.kind], ['otto', 'onetime']);
      const atSidecar = await sidecar.api.auth({ cookie });
      assert.deepEqual([atSidecar.status, atSidecar.headers['x-auth-reason']], [401, 'consumed']);
      const againInApp = await request(app.url, 'GET', '/api/me', { headers: { cookie, accept: 'application/json' } });
      assert.deepEqual([againInApp.status, againInApp.body.reason], [401, 'consumed']);

      // Used at the sidecar first: the app refuses it, even before its mirror hears of the consumption.
      const second = await sidecar.api.issue({ subject: 'otto', kind: 'onetime' });
      await waitFor(async () => (await sidecar.api.validate(second.body.token)).status === 200, 'the token to be known at the sidecar');
      assert.equal((await sidecar.api.auth({ cookie: `tokensync=${second.body.token}` })).status, 200);
      const refused = await request(app.url, 'GET', '/api/me', {
        headers: { cookie: `tokensync=${second.body.token}`, accept: 'application/json' },
      });
      assert.deepEqual([refused.status, refused.body.reason], [401, 'consumed']);
    });

    test('the app is a member of the cluster, listed by cluster status beside the sidecar', async () => {
      const status = await runCli(['cluster', 'status', '--json', '--config', appConfig]);
      assert.equal(status.code, 0, status.stderr);
      const members = (JSON.parse(status.stdout) as { members: { nodeId: string; address: string }[] }).members;
      assert.deepEqual(members.map((m) => m.nodeId).sort(), ['node1', 'node2-app']);
      assert.equal(members.find((m) => m.nodeId === 'node2-app')!.address, 'in-process');
      assert.match(members.find((m) => m.nodeId === 'node1')!.address, /^127\.0\.0\.1:\d+$/);
    });
  });
}

suite('DIRECTORY store', async () => {
  const dir = await tempDir('tokensync-inprocess-dir-');
  const cli = await writeProperties(join(dir, 'cli.properties'), { 'app.data.dir': join(dir, 'cli') });
  const made = await runCli(['secret', 'generate', '--config', cli]);
  assert.equal(made.code, 0, made.stderr);
  return {
    dir,
    props: { 'cluster.store.directory.path': join(dir, 'store'), 'authentication.token.secret.file': join(dir, 'cli', 'token_secret') },
  };
});

suite('ZOOKEEPER store', async () => {
  const zk: ZooKeeperCluster = await startZooKeeper({ servers: 1 });
  const { dir, props } = await zooKeeperSidecarProps(zk.connectString, '/inprocess', { prefix: 'tokensync-inprocess-zk-' });
  return { dir, props, close: () => zk.close() };
});
