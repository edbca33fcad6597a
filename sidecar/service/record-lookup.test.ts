import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mirror } from '../mirror/mirror.js';
import { DirectoryStore } from '../store/directory/directory-store.js';
import { CutoverStore } from '../store/cutover-store.js';
import { type TokenRecord, newJti } from '../store/token-record.js';
import type { TokenStore } from '../store/token-store.js';
import type { TokenClaims } from '../tokens/token-claims.js';
import { systemClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import { RecordLookup } from './record-lookup.js';

/** Lookups of records the mirror cannot answer for, against real DIRECTORY stores (the mirror not attached: it learns only from the lookup). */

const roots: string[] = [];
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.splice(0)) await close();
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

async function setup(withPrevious = false) {
  const root = await mkdtemp(join(tmpdir(), 'ts-lookup-'));
  roots.push(root);
  const logger = silentLogger();
  const open = (name: string) =>
    new DirectoryStore({ root: join(root, name), shards: 4, rescanIntervalMs: 60_000, logger, nodeId: 'n', clock: systemClock });
  const ours = open('ours');
  const previous = open('previous');
  const store: TokenStore = withPrevious ? new CutoverStore(ours, previous, logger) : ours;
  await store.start({ watch: false });
  closers.push(() => store.close());
  const mirror = new Mirror(() => ours.shards, { clock: systemClock });
  return { ours, previous, mirror, lookup: new RecordLookup(store, mirror) };
}

function record(gen = 0): TokenRecord {
  const now = Date.now();
  return { jti: newJti('session'), subject: 'alice', kind: 'session', issuedAt: now, expiresAt: now + 600_000, node: 'n', gen };
}
/** The expiry a layout-2 name carries: whole seconds, rounded up. */
const named = (r: TokenRecord) => Math.ceil(r.expiresAt! / 1000) * 1000;
const claimsOf = (r: TokenRecord, lgn?: number): TokenClaims => ({
  sub: r.subject,
  jti: r.jti,
  knd: r.kind,
  iat: 0,
  ath: 0,
  ...(lgn !== undefined ? { lgn } : {}),
});

test('a record the mirror does not know is confirmed from the store and added to the mirror, by lgn or by its listed name', async () => {
  const { ours, mirror, lookup } = await setup();
  const withLgn = record(2);
  const signedByApp = record(3);
  await ours.create(withLgn);
  await ours.create(signedByApp);
  assert.deepEqual(await lookup.confirm(claimsOf(withLgn, 2)), { jti: withLgn.jti, subject: 'alice', gen: 2 });
  assert.equal(mirror.lookup(withLgn.jti).presence, 'present');
  // no lgn: the generation is learnt from the record's name
  assert.deepEqual(await lookup.confirm(claimsOf(signedByApp)), {
    jti: signedByApp.jti,
    subject: 'alice',
    gen: 3,
    expiresAt: named(signedByApp),
  });
  assert.equal(await lookup.confirm({ ...claimsOf(record()), sub: 'mallory' }), undefined);
});

test('a missing record is remembered briefly: created right after, it is not found until the memory lapses', async () => {
  const { ours, lookup } = await setup();
  const late = record();
  assert.equal(await lookup.confirm(claimsOf(late, 0)), undefined);
  await ours.create(late);
  assert.equal(await lookup.confirm(claimsOf(late, 0)), undefined, 'answered from memory, no store read');
});

test('a token id is resolved from the mirror, else from its shard listing', async () => {
  const { ours, mirror, lookup } = await setup();
  const listed = record(1);
  await ours.create(listed);
  assert.deepEqual(await lookup.refByJti(listed.jti), { jti: listed.jti, subject: 'alice', gen: 1, expiresAt: named(listed) });
  const known = { jti: newJti('session'), subject: 'bob' };
  mirror.add(known);
  assert.deepEqual(await lookup.refByJti(known.jti), known);
  assert.equal(await lookup.refByJti(newJti('session')), undefined);
});

test('during a cutover, a token without lgn that only the previous store holds is confirmed there and copied into ours', async () => {
  const { ours, previous, mirror, lookup } = await setup(true);
  const old = record();
  await previous.create(old);
  assert.deepEqual(await lookup.confirm(claimsOf(old)), { jti: old.jti, subject: 'alice' });
  assert.equal(await ours.exists({ jti: old.jti, subject: 'alice' }), true);
  assert.equal(mirror.lookup(old.jti).presence, 'present');
});
