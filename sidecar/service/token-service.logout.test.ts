import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_OPTIONS } from '../config/options.js';
import { Mirror } from '../mirror/mirror.js';
import { DirectoryStore } from '../store/directory/directory-store.js';
import { Journal } from '../store/journal.js';
import { recordName, shardOf } from '../store/token-record.js';
import { TokenCodec } from '../tokens/token-codec.js';
import { TokenPolicy } from '../tokens/token-policy.js';
import { TEST_SECRET_A, testKeys } from '../tokens/test-keys.js';
import { ManualClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import { waitFor } from '../util/wait-for.js';
import { TokenService } from './token-service.js';
import { WritePath } from './write-path.js';

/**
 * Logout everywhere by generation, with two nodes (store, mirror, journal, write path, service) sharing one
 * DIRECTORY folder and clocks a day apart: far beyond any skew setting, since no clock decides a logout.
 */

const roots: string[] = [];
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.splice(0)) await close();
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

const codec = new TokenCodec(testKeys(TEST_SECRET_A));

async function node(root: string, id: string, clock: ManualClock) {
  const store = new DirectoryStore({
    root: join(root, 'shared'),
    shards: 8,
    rescanIntervalMs: 50,
    logger: silentLogger(),
    nodeId: id,
    clock,
  });
  const mirror = new Mirror(() => store.shards, { clock });
  mirror.attach(store);
  const journal = new Journal(join(root, `journal-${id}`), silentLogger());
  await journal.open();
  await store.start({ watch: true });
  const writes = new WritePath(store, mirror, journal, clock, silentLogger());
  const policy = new TokenPolicy(DEFAULT_OPTIONS.token, clock);
  const service = new TokenService({
    nodeId: id,
    cookieName: 'tokensync',
    outagePolicy: 'serve-cached',
    store,
    mirror,
    codec,
    policy,
    writes,
    clock,
    logger: silentLogger(),
  });
  closers.push(async () => {
    writes.close();
    mirror.detach();
    await store.close();
    await journal.close();
  });
  return { store, mirror, service, writes, clock };
}

async function cluster() {
  const root = await mkdtemp(join(tmpdir(), 'ts-logout-gen-'));
  roots.push(root);
  const day = 24 * 3600 * 1000;
  const a = await node(root, 'a', new ManualClock(Date.UTC(2026, 0, 2) + day)); // a day ahead
  const b = await node(root, 'b', new ManualClock(Date.UTC(2026, 0, 2)));
  return { a, b };
}

const valid = async (n: { service: TokenService }, token: string) => {
  const v = await n.service.validate(token);
  return v.valid ? 'valid' : v.reason;
};

test('a token issued on a node far ahead is refused everywhere after a logout on a node behind; a login after it is accepted at once', async () => {
  const { a, b } = await cluster();
  const early = await a.service.issue({ subject: 'alice', kind: 'session' });
  await waitFor(async () => (await valid(b, early.token)) === 'valid', 'token seen on b');
  const out = await b.service.logout('alice');
  assert.equal(out.gen, 1);
  assert.equal(await valid(b, early.token), 'revoked');
  await waitFor(() => a.mirror.gen('alice') === 1, 'marker seen on a');
  assert.equal(await valid(a, early.token), 'revoked');
  // the next login, on either node, whatever its clock says
  for (const n of [a, b]) {
    const next = await n.service.issue({ subject: 'alice', kind: 'session' });
    assert.equal(await valid(a, next.token), 'valid');
    assert.equal(await valid(b, next.token), 'valid');
  }
});

test('a reissued token keeps the generation it was first issued at, and a logout still ends it', async () => {
  const { a, b } = await cluster();
  const t = await a.service.issue({ subject: 'bob', kind: 'session' });
  a.clock.advance(DEFAULT_OPTIONS.token.expirationMs * 0.6);
  const v = await a.service.validate(t.token);
  assert.ok(v.valid && v.reissued, 'reissued past half its lifetime');
  const reissued = v.valid ? v.reissued!.token : '';
  assert.equal(JSON.parse(Buffer.from(reissued.split('.')[1]!, 'base64url').toString()).lgn, 0);
  await b.service.logout('bob');
  await waitFor(() => a.mirror.gen('bob') === 1, 'marker seen on a');
  assert.equal(await valid(a, reissued), 'revoked');
});

test('a token signed by the application (no lgn) is ordered by the generation the mirroring node stamps into its record name', async () => {
  const { a, b } = await cluster();
  const sign = (jti: string) => codec.sign({ sub: 'carol', jti, knd: 'api', iat: Math.floor(a.clock.now() / 1000), ath: a.clock.now() });
  await b.service.logout('carol');
  await waitFor(() => a.mirror.gen('carol') === 1, 'marker seen on a');
  const before = sign('app-token-before-2');
  const after2 = sign('app-token-after-2');
  const mirrored = await a.service.mirrorToken(before);
  assert.equal(mirrored.record.gen, 1);
  const names = await a.store.listShard(shardOf('app-token-before-2', a.store.shards));
  assert.ok(names.includes(recordName({ jti: 'app-token-before-2', subject: 'carol', gen: 1, expiresAt: null })), names.join());
  assert.equal(await valid(b, before), 'valid', 'known on b by its name alone (b asks the store, finds the name)');
  await a.service.logout('carol'); // generation 2: the token mirrored at 1 goes
  assert.equal(await valid(a, before), 'revoked');
  await waitFor(async () => (await valid(b, before)) === 'revoked', 'refused on b');
  await b.service.mirrorToken(after2);
  assert.equal(await valid(a, after2), 'valid');
  assert.equal(await valid(b, after2), 'valid');
  // and it can be revoked by jti, found under its full name
  assert.equal((await a.service.revoke('app-token-after-2')).revoked, true);
  assert.equal(await valid(a, after2), 'revoked');
  // b hears of the delete from the store's notification: revocation across nodes is eventual
  await waitFor(async () => (await valid(b, after2)) === 'revoked', 'revocation seen on b');
});

test('a token carrying a higher generation than a node knows is accepted there (it has not heard of the marker yet)', async () => {
  const { a, b } = await cluster();
  await a.store.raiseMarker('dan', 5); // as if written by another node b has not heard of yet
  await waitFor(() => a.mirror.gen('dan') === 5, 'a knows');
  b.mirror.detach(); // b deaf to the store from here
  const t = await a.service.issue({ subject: 'dan', kind: 'api' });
  assert.equal(await valid(b, t.token), 'valid');
});

test('a logout journaled while the store is unreachable refuses at once on this node; its replay ends the tokens issued elsewhere before it', async () => {
  const { a, b } = await cluster();
  const onB = await b.service.issue({ subject: 'erin', kind: 'session' });
  await waitFor(async () => (await valid(a, onB.token)) === 'valid', 'seen on a');
  const down = a.store as unknown as { stateValue: string };
  const real = down.stateValue;
  down.stateValue = 'suspended'; // a's writes are journaled from here
  const out = await a.service.logout('erin');
  assert.equal(out.replicated, false);
  assert.equal(out.gen, 1);
  assert.equal(await valid(a, onB.token), 'revoked');
  assert.equal(await valid(b, onB.token), 'valid', 'b cannot know before the replay');
  down.stateValue = real;
  a.writes.kick();
  await a.writes.drain();
  await waitFor(async () => (await valid(b, onB.token)) === 'revoked', 'refused on b after the replay');
  assert.equal((await b.store.listMarkers()).get('erin')?.gen, 1);
});
