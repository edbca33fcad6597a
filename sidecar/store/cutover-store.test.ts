import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryStore } from './directory/directory-store.js';
import { type TokenKind, type TokenRecord, newJti } from './token-record.js';
import { hasFallback, hasReplayReceipts } from './token-store.js';
import { systemClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import { CutoverStore } from './cutover-store.js';

/** The cutover decorator over two real DIRECTORY stores: ours and the previous one. */

const roots: string[] = [];
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.splice(0)) await close();
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

async function stores(options: { watch?: boolean } = {}) {
  const root = await mkdtemp(join(tmpdir(), 'ts-cutover-'));
  roots.push(root);
  const logger = silentLogger();
  const open = (name: string) =>
    new DirectoryStore({ root: join(root, name), shards: 4, rescanIntervalMs: 60_000, logger, nodeId: 'n', clock: systemClock });
  const ours = open('ours');
  const previous = open('previous');
  const cutover = new CutoverStore(ours, previous, logger);
  closers.push(() => cutover.close());
  await cutover.start({ watch: options.watch ?? false });
  return { ours, previous, previousRoot: join(root, 'previous'), cutover };
}

function record(kind: TokenKind, subject = 'alice'): TokenRecord {
  const now = Date.now();
  return { jti: newJti(kind), subject, kind, issuedAt: now, expiresAt: now + 600_000, node: 'old', gen: 0 };
}
const refOf = (r: TokenRecord) => ({ jti: r.jti, subject: r.subject });

test('a token only the previous store holds is found and copied into ours; a one-time token stays there and is consumed there once', async () => {
  const { ours, previous, cutover } = await stores();
  assert.ok(hasFallback(cutover));
  assert.equal(hasReplayReceipts(cutover), false, 'DIRECTORY has no receipts, so neither has the decorator');
  const session = record('session');
  const onetime = record('onetime');
  await previous.create(session);
  await previous.create(onetime);
  assert.equal(await cutover.exists(refOf(session)), true);
  assert.equal(await ours.exists(refOf(session)), true);
  assert.equal(await cutover.exists(refOf(onetime)), true);
  assert.equal(await ours.exists(refOf(onetime)), false);
  assert.equal(await cutover.exists({ jti: session.jti, subject: 'mallory' }), false); // filed under another subject
  assert.equal(await cutover.exists(refOf(record('session'))), false);
  assert.deepEqual(cutover.stats, { confirmed: 2, copied: 1, writes: 0, failedWrites: 0 });
  assert.equal(await cutover.consume(refOf(onetime)), true);
  assert.equal(await cutover.consume(refOf(onetime)), false);
  assert.equal(await previous.exists(refOf(onetime)), false);
});

test('writes reach both stores (one-time records only ours); a delete finds a record only the previous store holds', async () => {
  const { ours, previous, cutover } = await stores();
  const session = record('session');
  const onetime = record('onetime');
  assert.equal(await cutover.create(session), true);
  assert.equal(await cutover.create(onetime), true);
  assert.equal(await previous.exists(refOf(session)), true);
  assert.equal(await previous.exists(refOf(onetime)), false);
  assert.equal(await ours.exists(refOf(onetime)), true);
  await previous.raiseMarker('alice', 5);
  const gen = await cutover.raiseMarker('alice');
  assert.equal(gen, 1, 'our store decides the generation');
  assert.equal((await previous.listMarkers()).get('alice')?.gen, 6, 'the previous store raised over what it held');
  assert.equal(await cutover.raiseMarker('bob', 3), 3);
  assert.equal((await previous.listMarkers()).get('bob')?.gen, 3, 'at least our generation');

  const theirs = record('session', 'carol');
  await previous.create(theirs);
  assert.deepEqual(
    await cutover.fallbackRef(theirs.jti),
    { ...refOf(theirs), expiresAt: Math.ceil(theirs.expiresAt! / 1000) * 1000 },
    'as its layout-2 name says',
  );
  assert.equal(await cutover.fallbackRef(record('session').jti), undefined);
  assert.equal(await cutover.delete(refOf(theirs)), true, 'there in the previous store');
  assert.equal(await previous.exists(refOf(theirs)), false);
  assert.equal(await cutover.delete(refOf(theirs)), false);
  assert.equal(await cutover.delete(refOf(session)), true);
  assert.equal(await ours.exists(refOf(session)), false);
  assert.equal(await previous.exists(refOf(session)), false);
  assert.equal(await cutover.delete(refOf(onetime)), true, 'ours held it: the previous store is not asked');
  const theirOnetime = record('onetime', 'carol');
  await previous.create(theirOnetime);
  assert.equal(await cutover.delete(refOf(theirOnetime)), true, 'only the previous store held it');
  assert.equal(await previous.exists(refOf(theirOnetime)), false);
  assert.deepEqual(cutover.stats, { confirmed: 0, copied: 0, writes: 7, failedWrites: 0 });
});

test('a previous store that fails costs a logged, counted failure, never an error', async () => {
  const { ours, previousRoot, cutover } = await stores();
  // its folder gone, a file in its place: every request fails
  await rm(previousRoot, { recursive: true, force: true });
  await writeFile(previousRoot, '');
  const r = record('session');
  assert.equal(await cutover.create(r), true);
  assert.equal(await ours.exists(refOf(r)), true);
  const stranger = record('session');
  assert.equal(await cutover.exists(refOf(stranger)), false);
  assert.equal(await cutover.consume(refOf(stranger)), false);
  assert.equal(await cutover.fallbackRef(stranger.jti), undefined);
  assert.deepEqual(cutover.stats, { confirmed: 0, copied: 0, writes: 1, failedWrites: 1 });
});

test("events are our store's, passed on only to who listens here; close stops passing them on", async () => {
  const { ours, cutover } = await stores({ watch: true });
  const seen: number[] = [];
  cutover.on('shard', (shard) => seen.push(shard));
  ours.on('error', () => undefined);
  ours.emit('error', new Error('nobody listens for errors on the decorator: not passed on, not thrown'));
  ours.emit('shard', 2, []);
  assert.deepEqual(seen, [2]);
  await cutover.close();
  ours.emit('shard', 3, []);
  assert.deepEqual(seen, [2]);
});
