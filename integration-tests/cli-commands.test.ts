import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Every command of the CLI as an operator runs it (a real `tokensync` process) against a real store with a
 * real sidecar beside it: the same scenario on DIRECTORY and on a real ZooKeeper server.
 */
type StoreKind = 'DIRECTORY' | 'ZOOKEEPER';

let zk: ZooKeeperCluster | undefined;

before(async () => {
  zk = await startZooKeeper({ servers: 1 });
});

after(async () => {
  await zk?.close();
});

function jwtHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
}

/** `tokensync ...` that must succeed; returns stdout. */
async function ok(args: string[]): Promise<string> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `tokensync ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

function scenario(kind: StoreKind): void {
  describe(`the CLI on a ${kind} store`, () => {
    let dir: string;
    let config: string;
    let node: SidecarProcess;
    const tokens: Record<string, { token: string; jti: string }> = {};

    before(async () => {
      dir = await tempDir(`tokensync-cli-${kind.toLowerCase()}-`);
      const store: Record<string, string | number> =
        kind === 'DIRECTORY'
          ? {
              'cluster.store.directory.path': join(dir, 'store'),
              'cluster.store.directory.shards': 16,
              'cluster.store.directory.rescan.interval': '1s',
            }
          : {
              'cluster.store.type': 'ZOOKEEPER',
              'cluster.store.zookeeper.connect': `${zk!.connectString}/cli-${Date.now()}`,
              'cluster.store.zookeeper.shards': 64,
              'cluster.store.zookeeper.session.timeout': '4s',
            };
      const common = { ...store, 'authentication.token.secret.file': join(dir, 'token_secret') };
      config = await writeProperties(join(dir, 'cli.properties'), { ...common, 'node.id': 'cli', 'app.data.dir': join(dir, 'cli') });
      await ok(['secret', 'generate', '--config', config]);
      node = await new SidecarProcess({
        nodeId: 'n1',
        dir: join(dir, 'n1'),
        props: { ...common, 'app.data.dir': join(dir, 'n1') },
      }).start();
      for (const [name, body] of [
        ['alice', { subject: 'alice' }],
        ['alice2', { subject: 'alice' }],
        ['bob', { subject: 'bob', kind: 'api' }],
        ['carol', { subject: 'carol', clientIp: '10.1.2.3' }],
        ['dave', { subject: 'dave', kind: 'onetime' }],
      ] as const) {
        const res = await node.api.issue(body);
        assert.equal(res.status, 201, res.text);
        tokens[name] = res.body as { token: string; jti: string };
      }
    });

    after(async () => {
      await node?.stop();
    });

    test('config check --connect reaches the store', async () => {
      const out = await ok(['config', 'check', '--config', config, '--connect']);
      assert.match(out, new RegExp(`: ok \\(${kind} store, node cli, `));
      assert.match(out, new RegExp(`^store reachable: ${kind} `, 'm'));
      const json = JSON.parse(await ok(['config', 'check', '--config', config, '--connect', '--json']));
      assert.equal(json.ok, true);
      assert.equal(json.store.type, kind);
    });

    test('tokens list: a table, filters, pages with a cursor, --all as JSON lines', async () => {
      const table = await ok(['tokens', 'list', '--config', config]);
      const [header, ...rows] = table.trim().split('\n');
      assert.match(header!, /^JTI\s+SUBJECT\s+KIND\s+ISSUED\s+TOKEN EXPIRES\s+RECORD KEPT\s+STATUS\s+NODE$/);
      assert.equal(rows.length, 5);
      assert.ok(
        rows.some((r) => /\bbob\s+api\s+.*\bnever\b/.test(r)),
        table,
      );
      // the token expires with authentication.token.expiration (reissued while in use); its record lives as long as
      // the token could be reissued: authentication.token.absolute.lifetime
      assert.ok(
        rows.some((r) => /\balice\s+session\s+\d+s ago\s+in (6d 23h|7d), sliding\s+for (29d 23h|30d)\s+live\s+n1$/.test(r)),
        table,
      );
      const alice = JSON.parse(await ok(['tokens', 'list', '--config', config, '--subject', 'alice', '--json']));
      assert.deepEqual(alice.items.map((i: { jti: string }) => i.jti).sort(), [tokens.alice!.jti, tokens.alice2!.jti].sort());
      assert.equal(alice.nextCursor, null);
      const api = JSON.parse(await ok(['tokens', 'list', '--config', config, '--kind', 'api', '--json']));
      assert.deepEqual(
        api.items.map((i: { subject: string }) => i.subject),
        ['bob'],
      );
      // pages of two: every record exactly once
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = JSON.parse(
          await ok(['tokens', 'list', '--config', config, '--limit', '2', '--json', ...(cursor ? ['--cursor', cursor] : [])]),
        );
        assert.ok(page.items.length <= 2);
        seen.push(...page.items.map((i: { jti: string }) => i.jti));
        cursor = page.nextCursor;
      } while (cursor);
      assert.equal(new Set(seen).size, 5);
      assert.equal(seen.length, 5);
      const lines = (await ok(['tokens', 'list', '--config', config, '--all', '--limit', '2', '--json'])).trim().split('\n');
      assert.equal(lines.length, 5);
      assert.ok(lines.every((l) => typeof JSON.parse(l).jti === 'string'));
    });

    test('tokens show: the record, with relative times; --json with ISO times', async () => {
      const out = await ok(['tokens', 'show', tokens.carol!.jti, '--config', config]);
      assert.match(out, /^subject {11}carol$/m);
      assert.match(out, /^clientIp {10}10\.1\.2\.3$/m);
      assert.match(out, /^token expires {5}\d{4}-\d\d-\d\dT.* \(in (6d 23h|7d)\) \(sliding: /m);
      assert.match(out, /^record kept until \d{4}-\d\d-\d\dT.* \(in (29d 23h|30d)\)$/m);
      const json = JSON.parse(await ok(['tokens', 'show', tokens.bob!.jti, '--config', config, '--json']));
      assert.equal(json.kind, 'api');
      assert.equal(json.expiresAt, null);
      assert.match(json.issuedAt, /^\d{4}-\d\d-\d\dT/);
      const unknown = await runCli(['tokens', 'show', 's.AAAAAAAAAAAAAAAAAAAAAA', '--config', config]);
      assert.equal(unknown.code, 1);
      assert.equal(unknown.stderr.trim(), 'tokensync: no token record with jti s.AAAAAAAAAAAAAAAAAAAAAA');
    });

    test('verify says why: kid, signature, expiry and binding, record; exit 1 when not valid', async () => {
      const valid = await ok(['verify', tokens.alice!.token, '--config', config]);
      assert.match(valid, new RegExp(`^ok {6}kid: ${String(jwtHeader(tokens.alice!.token).kid)}, the signing secret$`, 'm'));
      assert.match(valid, /^ok {6}signature: HS256/m);
      assert.match(valid, new RegExp(`^ok {6}record: present in the ${kind} store$`, 'm'));
      assert.match(valid, /^VALID$/m);
      const bound = await runCli(['verify', tokens.carol!.token, '--config', config, '--client-ip', '10.9.9.9', '--json']);
      // binding is only enforced with authentication.token.require.consistent.ip=true: valid here
      assert.equal(bound.code, 0, bound.stderr);
      const tampered = tokens.alice!.token.slice(0, -4) + (tokens.alice!.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      const bad = await runCli(['verify', tampered, '--config', config, '--json']);
      assert.equal(bad.code, 1);
      const verdict = JSON.parse(bad.stdout);
      assert.equal(verdict.valid, false);
      assert.equal(verdict.reason, 'bad_signature');
      assert.equal(verdict.claims.sub, 'alice'); // decoded without trusting it
    });

    test('tokens revoke: refused by the sidecar at once; verify then says revoked', async () => {
      assert.equal((await node.api.validate(tokens.alice2!.token)).status, 200);
      const out = await ok(['tokens', 'revoke', tokens.alice2!.jti, '--config', config]);
      assert.equal(out.trim(), `revoked ${tokens.alice2!.jti} (subject alice)`);
      await waitFor(
        async () => (await node.api.validate(tokens.alice2!.token)).body.reason === 'revoked',
        'the sidecar refuses the revoked token',
        10_000,
        20,
      );
      const again = await runCli(['verify', tokens.alice2!.token, '--config', config]);
      assert.equal(again.code, 1);
      assert.match(again.stdout, /^FAIL {4}record: no record/m);
      assert.match(again.stdout, /^INVALID \(revoked\)$/m);
      const twice = await runCli(['tokens', 'revoke', tokens.alice2!.jti, '--config', config]);
      assert.equal(twice.code, 1);
    });

    test('subjects logout: every token of the subject refused by the sidecar', async () => {
      const json = JSON.parse(await ok(['subjects', 'logout', 'carol', '--config', config, '--json']));
      assert.equal(json.subject, 'carol');
      assert.equal(json.revoked, 1);
      assert.equal(json.gen, 1, 'the first logout of carol');
      await waitFor(async () => (await node.api.validate(tokens.carol!.token)).status === 401, 'the sidecar refuses carol', 10_000, 20);
      const v = await runCli(['verify', tokens.carol!.token, '--config', config]);
      assert.equal(v.code, 1);
      assert.match(
        v.stdout,
        /^FAIL {4}logout marker: subject at logout generation 1, token issued at generation 0: logged out after this token was issued$/m,
      );
    });

    test('store stats: counts by kind and shard, markers, largest subjects, what expires soon', async () => {
      const stats = JSON.parse(await ok(['store', 'stats', '--config', config, '--deep', '--json']));
      assert.equal(stats.store.type, kind);
      assert.equal(stats.total, 4); // alice2 revoked
      assert.deepEqual(stats.byKind, { session: 2, api: 1, onetime: 1, other: 0 });
      assert.equal(stats.markers, 1);
      assert.equal(stats.shards.shards, kind === 'DIRECTORY' ? 16 : 64);
      assert.equal(stats.expiringWithinHour, 1); // the one-time token
      assert.equal(stats.expiringWithinDay, 1);
      assert.deepEqual(stats.largestSubjects[0], { subject: 'alice', tokens: 1 });
      const human = await ok(['store', 'stats', '--config', config]);
      assert.match(human, new RegExp(`^${kind} .*: 4 records, 1 logout markers$`, 'm'));
      assert.match(human, /^by kind: session 2, api 1, onetime 1$/m);
    });

    test('cluster status: the sidecar with address, version, uptime, mirror, lag and state', async () => {
      await waitFor(
        async () => {
          const s = JSON.parse(await ok(['cluster', 'status', '--config', config, '--json']));
          return s.members.length === 1 && s.members[0].mirrorSize === 4;
        },
        'the heartbeat reports the mirror',
        15_000,
        200,
      );
      const status = JSON.parse(await ok(['cluster', 'status', '--config', config, '--json']));
      const [m] = status.members;
      assert.equal(m.nodeId, 'n1');
      assert.equal(m.address, `127.0.0.1:${node.port}`);
      assert.equal(m.storeType, kind);
      // a real sidecar process follows the records with the persistent recursive watch (the patched binding)
      assert.equal(m.watch, kind === 'ZOOKEEPER' ? 'persistent' : undefined);
      assert.ok(['connected', 'reconnected'].includes(m.state), m.state);
      assert.equal(typeof m.mirrorLagMs, 'number');
      if (kind === 'ZOOKEEPER') {
        assert.equal(status.servers.length, 1);
        assert.equal(status.servers[0].mode, 'standalone');
        assert.equal(status.servers[0].ours, true);
        assert.match(status.servers[0].version, /^3\.\d+\.\d+/);
      } else assert.equal(status.servers, undefined);
      const human = await ok(['cluster', 'status', '--config', config]);
      if (kind === 'ZOOKEEPER') assert.match(human, /^NODE\s+ADDRESS\s+VERSION\s+UP\s+MIRROR\s+LAG\s+STATE\s+WATCH\s+KEYS\s+SEEN$/m);
      else assert.match(human, /^NODE\s+ADDRESS\s+VERSION\s+UP\s+MIRROR\s+LAG\s+STATE\s+KEYS\s+SEEN$/m);
      assert.match(
        human,
        new RegExp(
          `^n1\\s+127\\.0\\.0\\.1:${node.port}\\s+\\S+\\s+\\S+.*\\s+4\\s+\\d+ms\\s+(re)?connected\\s+${kind === 'ZOOKEEPER' ? 'persistent\\s+' : ''}`,
          'm',
        ),
      );
      if (kind === 'ZOOKEEPER') assert.match(human, /^127\.0\.0\.1:\d+\s+standalone\s+3\.\S+.*answers this command$/m);
    });
  });
}

scenario('DIRECTORY');
scenario('ZOOKEEPER');

test('an unreachable ZooKeeper: exit 1 after a bounded wait, naming the servers tried', async () => {
  // a loopback port nobody listens on
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const dir = await tempDir('tokensync-cli-unreachable-');
  const config = await writeProperties(join(dir, 'zk.properties'), {
    'cluster.store.type': 'ZOOKEEPER',
    'cluster.store.zookeeper.connect': `127.0.0.1:${port}/tokensync`,
    'app.data.dir': dir,
  });
  for (const args of [
    ['tokens', 'list'],
    ['config', 'check', '--connect'],
  ]) {
    const started = Date.now();
    const r = await runCli([...args, '--config', config]);
    const took = Date.now() - started;
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `tokensync: no ZooKeeper server of 127.0.0.1:${port} answered within 5000 ms (cluster.store.zookeeper.connect)`,
    );
    assert.ok(took >= 4_500 && took < 15_000, `took ${took} ms`);
  }
});
