import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { tempDir } from '../sidecar/util/test-temp-dirs.js';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { buildProgram, exitCodeOf, main } from './index.js';
import { CliError, type Io } from './output.js';
import { ConfigError } from '../sidecar/errors/config-error.js';
import { SecretError } from '../sidecar/errors/secret-error.js';
import { StoreUnavailableError } from '../sidecar/errors/store-unavailable-error.js';
import { BadRequestError } from '../sidecar/errors/bad-request-error.js';
import { VERSION } from '../sidecar/version.js';
import { describeBinding } from '../sidecar/store/zookeeper/binding-patch.js';

/** An Io that records what a command prints. */
function capture(): Io & { stdout: string[]; stderr: string[]; text(): string } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    isTTY: false,
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    text: () => [...stdout, ...stderr].join('\n'),
  };
}

async function run(...args: string[]) {
  const io = capture();
  const code = await main(['node', 'tokensync', ...args], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n'), io };
}

function leaves(command: Command, path: string[] = []): string[][] {
  if (command.commands.length === 0) return [path];
  return command.commands.flatMap((c) => leaves(c, [...path, c.name()]));
}

async function scratch(): Promise<string> {
  return tempDir('tokensync-cli-');
}

async function directoryConfig(dir: string, extra = ''): Promise<string> {
  const path = join(dir, 'node.properties');
  await writeFile(path, `app.data.dir=${join(dir, 'appdata')}\ncluster.store.directory.shards=16\n${extra}`);
  return path;
}

test('every command has --help with an example, and it exits 0', async () => {
  const commands = leaves(buildProgram(capture()));
  assert.ok(commands.length >= 12, `commands: ${commands.map((c) => c.join(' ')).join(', ')}`);
  for (const path of commands) {
    const { code, out } = await run(...path, '--help');
    assert.equal(code, 0, path.join(' '));
    assert.match(out, /^Usage: tokensync /m, path.join(' '));
    assert.match(out, /Examples?:\n {2}tokensync /, `${path.join(' ')} --help has no example`);
  }
  for (const expected of ['store migrate', 'store stats', 'cluster status', 'secret rotate', 'verify', 'config check']) {
    assert.ok(
      commands.some((c) => c.join(' ') === expected),
      expected,
    );
  }
});

test("parsing errors exit 2 with commander's message and a hint, without running anything", async () => {
  const cases: Array<[string[], RegExp]> = [
    [['tokenz'], /unknown command 'tokenz'/],
    [['tokens', 'show'], /missing required argument 'jti'/],
    [['tokens', 'show', 'not a jti'], /"not a jti" is not a token id/],
    [['tokens', 'list', '--kind', 'cookie'], /Allowed choices are session, api, onetime/],
    [['tokens', 'list', '--limit', '0'], /must be a whole number of at least 1/],
    [['tokens', 'list', '--bogus'], /unknown option '--bogus'/],
    [['store', 'migrate', '--config', 'a.properties'], /required option '--to-config <file>' not specified/],
    [['store', 'migrate', '--config', 'a', '--to-config', 'b', '--concurrency', 'many'], /must be a whole number of at least 1/],
    [['lst'], /unknown command 'lst'/],
    [['tokens', 'lst'], /unknown command 'lst' \(did you mean list\?\)/],
  ];
  for (const [args, message] of cases) {
    const { code, err } = await run(...args);
    assert.equal(code, 2, args.join(' '));
    assert.match(err, message, args.join(' '));
    assert.match(err, /\(add --help for usage: tokensync( \w+)* --help\)$/, args.join(' '));
    // the documented one-line form, commander's own errors included
    assert.equal(err.split('\n').length, 1, err);
    assert.match(err, /^tokensync: /, err);
  }
});

test('exitOverride: commander errors surface as CommanderError, usage errors map to 2, help and version to 0', async () => {
  const program = buildProgram(capture());
  await assert.rejects(program.parseAsync(['node', 'tokensync', 'tokens', 'revoke']), (err: unknown) => {
    assert.ok(err instanceof CommanderError);
    assert.equal(err.code, 'commander.missingArgument');
    assert.equal(exitCodeOf(err), 2);
    return true;
  });
  const version = await run('--version');
  assert.equal(version.code, 0);
  assert.equal(version.out.trim(), `tokensync ${VERSION} (${describeBinding()})`);
  assert.match(version.out, /^tokensync \d+\.\d+\.\d+ \(zookeeper binding (\S+, (patched: [a-z,]+|unpatched|not built)|not installed)/);
});

test('exit codes: 2 for configuration and usage, 1 for what was tried and failed', () => {
  assert.equal(exitCodeOf(new ConfigError('config.invalid', 'is bad', { key: 'k' })), 2);
  assert.equal(exitCodeOf(new SecretError('weak', 'secret.weak')), 2);
  assert.equal(exitCodeOf(new BadRequestError('bad cursor', 'request.invalid')), 2);
  assert.equal(exitCodeOf(new StoreUnavailableError('ZooKeeper 127.0.0.1:1 is unavailable')), 1);
  assert.equal(exitCodeOf(new CliError('no such token')), 1);
  assert.equal(exitCodeOf(new CliError('same store', 2)), 2);
  assert.equal(exitCodeOf(new Error('boom')), 1);
});

test('a missing or broken config file: exit 2 and one line naming the file or the key, no stack trace', async () => {
  const dir = await scratch();
  const missing = await run('tokens', 'list', '--config', join(dir, 'nope.properties'));
  assert.equal(missing.code, 2);
  assert.equal(missing.err.split('\n').length, 1);
  assert.match(missing.err, /^tokensync: ".*nope\.properties" is not a readable configuration file \(no such file/);
  const broken = join(dir, 'broken.properties');
  await writeFile(broken, 'cluster.store.type=CASSANDRA\n');
  const bad = await run('store', 'stats', '--config', broken);
  assert.equal(bad.code, 2);
  assert.equal(bad.err.split('\n').length, 1);
  assert.match(bad.err, /^tokensync: cluster\.store\.type: "CASSANDRA" /);
  await writeFile(broken, 'cluster.store.type=ZOOKEEPER\n');
  const noConnect = await run('cluster', 'status', '--config', broken);
  assert.equal(noConnect.code, 2);
  assert.match(noConnect.err, /cluster\.store\.zookeeper\.connect/);
  for (const r of [missing, bad, noConnect]) assert.doesNotMatch(r.err, /\n\s+at /);
});

test('an unknown jti: exit 1 and one line; verify of a malformed token says why and exits 1', async () => {
  const dir = await scratch();
  const config = await directoryConfig(dir);
  assert.equal((await run('secret', 'generate', '--config', config)).code, 0);
  for (const cmd of ['show', 'revoke']) {
    const r = await run('tokens', cmd, 's.AAAAAAAAAAAAAAAAAAAAAA', '--config', config);
    assert.equal(r.code, 1, cmd);
    assert.equal(r.err, 'tokensync: no token record with jti s.AAAAAAAAAAAAAAAAAAAAAA');
  }
  const verify = await run('verify', 'not.a.token', '--config', config);
  assert.equal(verify.code, 1);
  assert.match(verify.out, /^FAIL {4}signature: malformed: /m);
  assert.match(verify.out, /^INVALID \(malformed\)$/m);
  assert.equal(verify.err, ''); // said once, on stdout, not again as an error line
  const json = await run('verify', 'not.a.token', '--config', config, '--json');
  assert.equal(json.code, 1);
  assert.equal(JSON.parse(json.out).reason, 'malformed');
});

test('secret generate: mode 0600, refuses to overwrite without --force', async () => {
  const dir = await scratch();
  const config = await directoryConfig(dir);
  const first = await run('secret', 'generate', '--config', config, '--json');
  assert.equal(first.code, 0, first.err);
  const { path, kids } = JSON.parse(first.out) as { path: string; kids: string[] };
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  const before = await readFile(path, 'utf8');
  const again = await run('secret', 'generate', '--config', config);
  assert.equal(again.code, 1);
  assert.match(again.err, /exists; use 'tokensync secret rotate' to add a secret, or --force to replace it/);
  assert.equal(await readFile(path, 'utf8'), before);
  const forced = await run('secret', 'generate', '--config', config, '--force', '--json');
  assert.equal(forced.code, 0);
  assert.notDeepEqual(JSON.parse(forced.out).kids, kids);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
});

test('store migrate refuses to copy a store onto itself (exit 2)', async () => {
  const dir = await scratch();
  const config = await directoryConfig(dir);
  const r = await run('store', 'migrate', '--config', config, '--to-config', config);
  assert.equal(r.code, 2);
  assert.match(r.err, /--config and --to-config both name DIRECTORY .*: nothing to migrate/);
});

test('a fallback store naming our own store is refused by config check (exit 2)', async () => {
  const dir = await scratch();
  const config = await directoryConfig(dir);
  const self = join(dir, 'self.properties');
  await writeFile(self, `app.data.dir=${join(dir, 'appdata')}\ncluster.store.fallback.config=${config}\n`);
  const r = await run('config', 'check', '--config', self);
  assert.equal(r.code, 2);
  assert.match(r.err, /cluster\.store\.fallback\.config: ".*" names this node's own store/);
  const broken = join(dir, 'broken.properties');
  await writeFile(broken, `cluster.store.fallback.config=${join(dir, 'missing.properties')}\n`);
  const r2 = await run('config', 'check', '--config', broken);
  assert.equal(r2.code, 2);
  assert.match(r2.err, /cluster\.store\.fallback\.config: ".*missing\.properties" names a properties file that does not load/);
});

test('--config: every command takes it, and only store migrate (two stores, no default to guess) requires it', () => {
  const program = buildProgram(capture());
  const walk = (c: Command, path: string[] = []): Array<[string, Command]> =>
    c.commands.length === 0 ? [[path.join(' '), c]] : c.commands.flatMap((s) => walk(s, [...path, s.name()]));
  for (const [name, command] of walk(program)) {
    const option = command.options.find((o) => o.long === '--config');
    assert.ok(option, `${name} takes --config`);
    assert.equal(option.short, '-c', name);
    assert.equal(option.mandatory, name === 'store migrate', `${name}: --config ${option.mandatory ? 'required' : 'optional'}`);
  }
});

test('subjects logout of a subject with no tokens says so, with the subject probably meant', async () => {
  const dir = await scratch();
  const config = await directoryConfig(dir);
  const { DirectoryStore } = await import('../sidecar/store/directory/directory-store.js');
  const { silentLogger } = await import('../sidecar/util/logger.js');
  const { newJti } = await import('../sidecar/store/token-record.js');
  const store = new DirectoryStore({
    root: join(dir, 'appdata', 'shared'),
    shards: 16,
    rescanIntervalMs: 60_000,
    logger: silentLogger(),
    nodeId: 'test',
  });
  await store.start();
  for (const subject of ['alice', 'alice', 'bob'])
    await store.create({
      jti: newJti('session'),
      subject,
      kind: 'session',
      issuedAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      node: 'test',
    });
  await store.close();

  const typo = await run('subjects', 'logout', 'alcie', '--config', config);
  assert.equal(typo.code, 0, typo.err);
  assert.equal(
    typo.out,
    'no tokens found for subject "alcie" (did you mean "alice"?); 0 tokens revoked (its logout marker is written all the same)',
  );
  const json = await run('subjects', 'logout', 'alcie', '--config', config, '--json');
  assert.equal(JSON.parse(json.out).didYouMean, 'alice');
  const nobody = await run('subjects', 'logout', 'zed-the-unknown', '--config', config);
  assert.match(nobody.out, /^no tokens found for subject "zed-the-unknown"; 0 tokens revoked/);
  const real = await run('subjects', 'logout', 'alice', '--config', config);
  assert.equal(real.out, 'logged out alice everywhere: 2 tokens revoked, logout generation 1');
});

test('sidecar: a port in use stops start-up with exit 2 and one line naming sidecar.listen', async () => {
  const { createServer } = await import('node:net');
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  try {
    const dir = await scratch();
    const config = await directoryConfig(dir, `sidecar.listen=127.0.0.1:${port}\nlog.level=error\n`);
    assert.equal((await run('secret', 'generate', '--config', config)).code, 0);
    const r = await run('sidecar', '--config', config);
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      `tokensync: sidecar.listen: "127.0.0.1:${port}" is in use by another process (EADDRINUSE); stop it, or choose another port`,
    );
  } finally {
    busy.close();
  }
});
