import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import { FULL, size, type IssuedToken } from './support/load.js';
import { waitFor } from '../sidecar/util/wait-for.js';

/**
 * Disk full and read-only <AppData> under the DIRECTORY store: the store folder and the journal are on small
 * tmpfs file systems this test mounts (as root, chmod does not stop writes; a mount does). Writes get a 503
 * with a clear error, validation goes on from the mirror, nothing acknowledged is lost, and the sidecar
 * recovers by itself once there is room (or the file system is writable) again.
 *
 * Skipped, saying why, where mounting is not permitted (not root, no CAP_SYS_ADMIN).
 */
const run = promisify(execFile);
let dir: string;
const mounts: string[] = [];
const sidecars: SidecarProcess[] = [];
let secretFile = '';
let canMount: string | true = true;

async function mountTmpfs(path: string, sizeKb: number): Promise<void> {
  await mkdir(path, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0700`, 'tmpfs', path]);
  mounts.push(path);
}

async function remount(path: string, mode: 'ro' | 'rw'): Promise<void> {
  await run('mount', ['-o', `remount,${mode}`, path]);
}

/** Fills the file system holding `path` to the last byte; returns the filler's path. */
async function fill(path: string): Promise<string> {
  const filler = join(path, `filler-${Date.now()}`);
  const handle = await open(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) {
      const { bytesWritten } = await handle.write(chunk);
      if (bytesWritten < chunk.length) break;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  // the last partial block too
  try {
    for (;;) await handle.write(Buffer.alloc(1, 1));
  } catch {
    /* full */
  }
  await handle.close();
  return filler;
}

before(async () => {
  dir = await tempDir('tokensync-faults-disk-');
  const cli = await writeProperties(join(dir, 'cli.properties'), { 'app.data.dir': join(dir, 'cli') });
  assert.equal((await runCli(['secret', 'generate', '--config', cli])).code, 0);
  secretFile = join(dir, 'cli', 'token_secret');
  try {
    await mountTmpfs(join(dir, 'probe'), 64);
  } catch (err) {
    canMount = `mounting a tmpfs is not permitted here (${(err as Error).message.split('\n')[0]}): run as root with CAP_SYS_ADMIN`;
  }
});

after(async () => {
  await Promise.all(sidecars.map((s) => s.stop()));
  for (const m of mounts.reverse()) await run('umount', ['-l', m]).catch(() => undefined);
});

async function sidecar(id: string, props: Record<string, string | number>): Promise<SidecarProcess> {
  const node = await new SidecarProcess({
    nodeId: id,
    props: {
      'authentication.token.secret.file': secretFile,
      'cluster.store.directory.shards': 8,
      'cluster.store.directory.rescan.interval': '500ms',
      ...props,
    },
    dir: join(dir, `${id}-conf`),
  }).start();
  sidecars.push(node);
  return node;
}

async function issueStable(node: SidecarProcess, n: number, subject: string): Promise<IssuedToken[]> {
  const out: IssuedToken[] = [];
  for (let i = 0; i < n; i++) {
    const res = await node.api.issue({ subject: `${subject}-${i}` });
    assert.equal(res.status, 201, res.text);
    out.push({ jti: res.body.jti, token: res.body.token, node: node.spec.nodeId, replicated: true, at: Date.now() });
  }
  return out;
}

/** Writes while the disk is unusable: every answer is 201/204 (journaled) or a clear 503, never a 500. */
async function writesWhileBroken(node: SidecarProcess, victims: IssuedToken[], n: number) {
  const out = {
    tried: 0,
    accepted: 0,
    refused503: 0,
    other: [] as string[],
    messages: new Set<string>(),
    acceptedTokens: [] as IssuedToken[],
    revoked: [] as string[],
  };
  for (let i = 0; i < n; i++) {
    out.tried++;
    const victim = i % 3 === 2 ? victims.shift() : undefined;
    const res = victim ? await node.api.revoke(victim.jti) : await node.api.issue({ subject: `broken-${i}` });
    if (res.status === 201 || res.status === 204) {
      out.accepted++;
      if (victim) out.revoked.push(victim.jti);
      else out.acceptedTokens.push({ jti: res.body.jti, token: res.body.token, node: node.spec.nodeId, replicated: false, at: Date.now() });
    } else if (res.status === 503) {
      out.refused503++;
      out.messages.add(`${res.body.error}: ${res.body.message}`);
    } else out.other.push(`${res.status} ${res.text}`);
  }
  return out;
}

test('disk full under <AppData> (DIRECTORY store and journal): writes answer 503 with a clear error, validation goes on, recovery is automatic', async (t) => {
  if (canMount !== true) return t.skip(canMount);
  const mount = join(dir, 'full');
  await mountTmpfs(mount, 256);
  const props = { 'cluster.store.directory.path': join(mount, 'shared') };
  const a = await sidecar('full-a', { ...props, 'app.data.dir': join(mount, 'a') });
  const b = await sidecar('full-b', { ...props, 'app.data.dir': join(mount, 'b') });
  const stable = await issueStable(a, 20, 'full');
  await waitFor(
    async () => (await Promise.all(stable.map((s) => b.api.validate(s.token)))).every((v) => v.status === 200),
    'b knows them',
    10_000,
    50,
  );

  const filler = await fill(mount);
  const broken = await writesWhileBroken(a, [...stable.slice(10)], size(30, 300));
  t.diagnostic(`disk full: ${JSON.stringify({ ...broken, messages: [...broken.messages], acceptedTokens: broken.acceptedTokens.length })}`);
  assert.deepEqual(broken.other, [], 'no 500, no other status');
  assert.ok(broken.refused503 > 0, 'writes are refused with 503 once nothing can be kept');
  for (const m of broken.messages) assert.match(m, /ENOSPC|no space/i, 'the error names the cause');
  assert.notEqual((await a.api.get('/healthz')).body.store, 'connected', '/healthz reports the store degraded');
  let validations = 0;
  for (const node of [a, b]) {
    for (const s of stable.slice(0, 10)) {
      assert.equal((await node.api.validate(s.token)).status, 200, `validation continues on ${node.spec.nodeId}`);
      validations++;
    }
  }

  await rm(filler);
  await waitFor(
    async () => (await a.api.get('/healthz')).body.store !== 'suspended' && (await a.api.get('/healthz')).body.journalPending === 0,
    'a recovers once there is room',
    20_000,
    100,
  );
  const after = await a.api.issue({ subject: 'after-full' });
  assert.equal(after.status, 201, after.text);
  assert.equal(after.body.replicated, true);
  await waitFor(async () => (await b.api.validate(after.body.token)).status === 200, 'b sees the issue after recovery', 10_000, 50);
  // nothing acknowledged lost: accepted issues valid, accepted revocations refused, on both nodes, also after a restart
  await a.kill();
  await a.start();
  for (const node of [a, b]) {
    for (const tok of broken.acceptedTokens)
      assert.equal((await node.api.validate(tok.token)).status, 200, `accepted during the full disk: ${tok.jti} on ${node.spec.nodeId}`);
    for (const jti of broken.revoked)
      assert.equal((await node.api.validate(stable.find((s) => s.jti === jti)!.token)).body.reason, 'revoked');
  }
  t.diagnostic(
    `FIGURES ${JSON.stringify({ full: FULL, scenario: 'disk full', writesTried: broken.tried, accepted: broken.accepted, refused503: broken.refused503, validationsDuring: validations, validationsFailed: 0 })}`,
  );
  await a.stop();
  await b.stop();
});

test('the journal disk fills while the store is unreachable: acknowledged writes survive kill -9, refused ones are 503, the journal is not torn', async (t) => {
  if (canMount !== true) return t.skip(canMount);
  const storeMount = join(dir, 'store-ro');
  const journalMount = join(dir, 'journal-small');
  await mountTmpfs(storeMount, 256);
  await mountTmpfs(journalMount, 64);
  const a = await sidecar('journal-a', {
    'cluster.store.directory.path': join(storeMount, 'shared'),
    'app.data.dir': join(dir, 'journal-a'),
    'cluster.store.journal.dir': join(journalMount, 'journal'),
  });
  const stable = await issueStable(a, 10, 'jr');
  // leave the journal a few KB (tmpfs frees whole pages): a few entries fit, then one is cut short by ENOSPC
  const big = await fill(journalMount);
  const fh = await open(big, 'r+');
  const { size: bytes } = await fh.stat();
  await fh.truncate(Math.max(0, bytes - 6 * 1024));
  await fh.close();

  await remount(storeMount, 'ro');
  const broken = await writesWhileBroken(a, [...stable], 60);
  t.diagnostic(
    `journal disk full: ${JSON.stringify({ ...broken, messages: [...broken.messages], acceptedTokens: broken.acceptedTokens.length })}`,
  );
  assert.deepEqual(broken.other, [], 'no 500, no other status');
  assert.ok(broken.accepted > 0 && broken.refused503 > 0, 'some writes were journaled, then the journal was full');
  // room again: the next writes are journaled after the cut-short one, not glued to it
  await rm(big);
  const later = await writesWhileBroken(a, [], 5);
  assert.equal(later.accepted, 5, JSON.stringify([...later.messages]));
  await a.kill();
  await remount(storeMount, 'rw');
  await a.start(); // replays the journal
  await waitFor(async () => (await a.api.get('/healthz')).body.journalPending === 0, 'journal replayed', 20_000, 100);
  for (const tok of [...broken.acceptedTokens, ...later.acceptedTokens])
    assert.equal((await a.api.validate(tok.token)).status, 200, `acknowledged during the outage, lost after kill -9: ${tok.jti}`);
  for (const jti of broken.revoked) assert.equal((await a.api.validate(stable.find((s) => s.jti === jti)!.token)).body.reason, 'revoked');
  t.diagnostic(
    `FIGURES ${JSON.stringify({ full: FULL, scenario: 'journal disk full', writesTried: broken.tried + later.tried, accepted: broken.accepted + later.accepted, refused503: broken.refused503, lost: 0 })}`,
  );
  await a.stop();
});

test('read-only store folder under a running sidecar: writes are journaled, validation goes on; writable again: replayed', async (t) => {
  if (canMount !== true) return t.skip(canMount);
  const mount = join(dir, 'ro-store');
  await mountTmpfs(mount, 8192); // a record file takes a 4 KiB page on tmpfs
  const a = await sidecar('ro-a', { 'cluster.store.directory.path': join(mount, 'shared'), 'app.data.dir': join(dir, 'ro-a') });
  const stable = await issueStable(a, 20, 'ro');
  // the store keeps no file open between writes, so the kernel lets it be remounted read-only under the sidecar
  await remount(mount, 'ro');
  const broken = await writesWhileBroken(a, [...stable.slice(10)], size(30, 300));
  t.diagnostic(
    `read-only store: ${JSON.stringify({ ...broken, messages: [...broken.messages], acceptedTokens: broken.acceptedTokens.length })}`,
  );
  assert.deepEqual(broken.other, []);
  assert.equal(broken.accepted, broken.tried, 'journaled while the store is read-only');
  assert.equal((await a.api.get('/healthz')).body.store, 'suspended');
  for (const s of stable.slice(0, 10)) assert.equal((await a.api.validate(s.token)).status, 200, 'validation continues');
  for (const tok of broken.acceptedTokens) assert.equal((await a.api.validate(tok.token)).status, 200, 'journaled issues valid at once');
  await remount(mount, 'rw');
  await waitFor(async () => (await a.api.get('/healthz')).body.journalPending === 0, 'journal replayed once writable', 20_000, 100).catch(
    async (err) => {
      throw new Error(
        `${(err as Error).message}: ${JSON.stringify((await a.api.get('/healthz')).body)}\n${a.logs
          .split('\n')
          .filter((l) => /journal|store state|error/i.test(l))
          .slice(-12)
          .join('\n')}`,
      );
    },
  );
  const other = await sidecar('ro-b', { 'cluster.store.directory.path': join(mount, 'shared'), 'app.data.dir': join(dir, 'ro-b') });
  for (const tok of broken.acceptedTokens) assert.equal((await other.api.validate(tok.token)).status, 200, 'replayed into the store');
  for (const jti of broken.revoked)
    assert.equal((await other.api.validate(stable.find((s) => s.jti === jti)!.token)).body.reason, 'revoked');
  t.diagnostic(
    `FIGURES ${JSON.stringify({ full: FULL, scenario: 'read-only store', writesTried: broken.tried, accepted: broken.accepted, validationsDuring: 10 + broken.acceptedTokens.length, validationsFailed: 0, lost: 0 })}`,
  );
  await a.stop();
  await other.stop();
});

test('read-only <AppData> (journal and DIRECTORY store) at start: the sidecar refuses to start with one clear line', async (t) => {
  if (canMount !== true) return t.skip(canMount);
  const mount = join(dir, 'ro-all');
  await mountTmpfs(mount, 512);
  const a = await sidecar('ro-all', { 'app.data.dir': join(mount, 'a') });
  await issueStable(a, 5, 'ro-all');
  await a.stop();
  sidecars.splice(sidecars.indexOf(a), 1);
  await remount(mount, 'ro');
  const err = await a.start().then(
    () => undefined,
    (e: Error) => e.message,
  );
  assert.ok(err, 'a sidecar whose <AppData> is read-only does not start');
  t.diagnostic(
    `start on a read-only <AppData>: ${err!
      .split('\n')
      .filter((l) => /EROFS|read-only/i.test(l))
      .slice(0, 2)
      .join(' | ')}`,
  );
  assert.match(err!, /EROFS|read-only/i, 'the error names the cause');
  assert.match(err!, /journal|appdata|app\.data\.dir|directory/i, 'and what to fix');
  await remount(mount, 'rw');
});
