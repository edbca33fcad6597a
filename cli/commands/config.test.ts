import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../index.js';
import type { Io } from '../output.js';
import { tempDir } from '../../sidecar/util/test-temp-dirs.js';

async function run(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { isTTY: false, out: (t) => out.push(t), err: (t) => err.push(t) };
  const code = await main(['node', 'tokensync', ...args], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A folder with a properties file for a node (port 0: any free port, so the listen check passes). */
async function node(lines: string[] = []): Promise<{ dir: string; config: string; secret: string }> {
  const dir = await tempDir('tokensync-config-check-');
  const config = join(dir, 'node.properties');
  await writeFile(config, [`app.data.dir=${join(dir, 'appdata')}`, 'sidecar.listen=127.0.0.1:0', ...lines].join('\n') + '\n');
  return { dir, config, secret: join(dir, 'appdata', 'token_secret') };
}

test('a fresh single node: ok, says a first start creates the secret, and writes nothing', async () => {
  const { dir, config } = await node();
  const r = await run('config', 'check', '--config', config, '--connect');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /: ok \(DIRECTORY store, node \S+, listening on 127\.0\.0\.1:0\)/);
  assert.match(r.out, /^secret: none yet; the first start creates .*token_secret/m);
  assert.match(
    r.out,
    /^store reachable: DIRECTORY .*; empty: the first start would create .*meta\.json \(layout 2, 256 shards\), 256 shard folders .*\(nothing was created now\)$/m,
  );
  assert.deepEqual(await readdir(dir), ['node.properties'], '--connect created nothing');
});

test('what the sidecar refuses, config check refuses (exit 2, one line each): secret mode, missing files, unknown keys', async () => {
  const { config, secret } = await node([
    `authentication.token.secret.file=secret/token_secret`,
    'sidecar.admin.token.file=admin-token',
    'authentication.token.sliding.window=1h',
  ]);
  const r = await run('config', 'check', '--config', config);
  assert.equal(r.code, 2, r.out + r.err);
  const lines = r.err.split('\n');
  assert.ok(
    lines.some((l) =>
      /^tokensync: authentication\.token\.secret\.file: ".*secret\/token_secret" does not exist; copy the cluster's token_secret/.test(l),
    ),
    r.err,
  );
  assert.ok(
    lines.some((l) =>
      /^tokensync: .*admin-token: cannot read the admin token file \(ENOENT\); fix or unset sidecar\.admin\.token\.file$/.test(l),
    ),
    r.err,
  );
  assert.ok(
    lines.some((l) =>
      /^tokensync: unknown key "authentication\.token\.sliding\.window" \(did you mean "authentication\.token\.sliding"\?\)$/.test(l),
    ),
    r.err,
  );
  assert.doesNotMatch(r.out, /: ok/);
  void secret;

  // a secret file others can read: the sidecar exits 2 naming chmod 600, and so does the check
  const weak = await node();
  assert.equal((await run('secret', 'generate', '--config', weak.config)).code, 0);
  await chmod(weak.secret, 0o644);
  const mode = await run('config', 'check', '--config', weak.config);
  assert.equal(mode.code, 2);
  assert.match(
    mode.err,
    new RegExp(`^tokensync: ${weak.secret}: mode 644 lets other users read the signing secret; run: chmod 600 ${weak.secret}$`, 'm'),
  );
  await chmod(weak.secret, 0o600);
  await writeFile(weak.secret, 'short\n', { mode: 0o600 });
  const short = await run('config', 'check', '--config', weak.config);
  assert.equal(short.code, 2);
  assert.match(short.err, /line 1 is too weak/);
});

test('listen address: a bare port means 127.0.0.1; an address not of this machine is refused', async () => {
  const bare = await node();
  await writeFile(bare.config, `app.data.dir=${join(bare.dir, 'appdata')}\nsidecar.listen=7471\n`);
  const r = await run('config', 'check', '--config', bare.config);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /listening on 127\.0\.0\.1:7471\)/);
  // 192.0.2.1 is TEST-NET-1: never an address of this machine, and binding to it sends nothing anywhere
  const foreign = await node(['sidecar.listen=192.0.2.1:7468']);
  const f = await run('config', 'check', '--config', foreign.config);
  assert.equal(f.code, 2);
  assert.match(f.err, /^tokensync: sidecar\.listen: "192\.0\.2\.1:7468" is not an address of this machine \(EADDRNOTAVAIL\)/m);
});

test('--json: ok false and the errors listed, exit 2', async () => {
  const { config } = await node(['bogus.key=1']);
  const r = await run('config', 'check', '--config', config, '--json');
  assert.equal(r.code, 2);
  const json = JSON.parse(r.out) as { ok: boolean; errors: string[] };
  assert.equal(json.ok, false);
  assert.deepEqual(json.errors, ['unknown key "bogus.key"']);
});

test("--values-only checks keys and values, not this machine's files: for a file made for another machine", async () => {
  const { config } = await node([
    'authentication.token.secret.file=/run/elsewhere/token_secret',
    'sidecar.admin.token.file=/run/elsewhere/admin_token',
  ]);
  assert.equal((await run('config', 'check', '--config', config)).code, 2);
  const r = await run('config', 'check', '--values-only', '--config', config);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /: ok \(DIRECTORY store/);
  assert.doesNotMatch(r.out, /^secret:/m);
  const typo = await node(['node.idd=x']);
  assert.equal((await run('config', 'check', '--values-only', '--config', typo.config)).code, 2, 'unknown keys are still errors');
});

test('--connect on a layout-1 DIRECTORY store: one line naming the upgrade command for this very file, as the sidecar logs', async () => {
  const store = await tempDir('tokensync-config-layout1-');
  await writeFile(join(store, 'meta.json'), JSON.stringify({ layoutVersion: 1, shards: 4 }));
  const { config } = await node([`cluster.store.directory.path=${store}`]);
  const r = await run('config', 'check', '--values-only', '--config', config, '--connect');
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split('\n').filter((l) => /layout 1/.test(l));
  assert.deepEqual(lines, [
    `store reachable: DIRECTORY ${store} (4 shards); it has layout 1 (record names without their expiry; the reaper reads every record); convert it while running with: tokensync store upgrade --config ${config}`,
  ]);
});
