import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mirror } from '../mirror/mirror.js';
import { DirectoryStore } from '../store/directory/directory-store.js';
import { Journal } from '../store/journal.js';
import { type TokenKind, type TokenRecord, newJti } from '../store/token-record.js';
import { systemClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import { CutoverFallback } from './cutover-fallback.js';
import { WritePath } from './write-path.js';

/** The cutover fallback over two real DIRECTORY stores: ours (with mirror, journal and write path) and the previous one. */

const roots: string[] = [];
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.splice(0)) await close();
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

async function stores() {
  const root = await mkdtemp(join(tmpdir(), 'ts-cutover-'));
  roots.push(root);
  const logger = silentLogger();
  const ours = new DirectoryStore({ root: join(root, 'ours'), shards: 4, rescanIntervalMs: 60_000, logger, nodeId: 'n', clock: systemClock });
  const previous = new DirectoryStore({ root: join(root, 'previous'), shards: 4, rescanIntervalMs: 60_000, logger, nodeId: 'n', clock: systemClock });
  const mirror = new Mirror(() => ours.shards, { clock: systemClock });
  mirror.attach(ours);
  const journal = new Journal(join(root, 'journal'), logger);
  await journal.open();
  await ours.start({ watch: true });
  await previous.start({ watch: false });
  const writes = new WritePath(ours, mirror, journal, systemClock, logger);
  closers.push(async () => {
    writes.close();
    mirror.detach();
    await ours.close();
    await previous.close().catch(() => undefined);
    await journal.close();
  });
  return { ours, previous, previousRoot: join(root, 'previous'), writes, logger };
}

function record(kind: TokenKind, subject = 'alice'): TokenRecord {
  const now = Date.now();
  return { jti: newJti(kind), subject, kind, issuedAt: now, expiresAt: now + 600_000, node: 'old', gen: 0 };
}
const refOf = (r: TokenRecord) => ({ jti: r.jti, subject: r.subject });

test('without a fallback store nothing is found, consumed, revoked or written, and nothing is counted', async () => {
  const { writes, logger } = await stores();
  const cutover = new CutoverFallback({ writes, logger });
  const r = record('session');
  assert.equal(await cutover.confirm(refOf(r)), false);
  assert.equal(await cutover.consume(refOf(r)), false);
  assert.equal(await cutover.revoke(r.jti), false);
  await cutover.also({ op: 'create', record: r });
  assert.deepEqual(cutover.stats, { confirmed: 0, copied: 0, writes: 0, failedWrites: 0 });
});

test('a token only the previous store holds is confirmed and copied into ours; a one-time token stays there and is consumed there once', async () => {
  const { ours, previous, writes, logger } = await stores();
  const cutover = new CutoverFallback({ fallback: () => previous, writes, logger });
  const session = record('session');
  const onetime = record('onetime');
  await previous.create(session);
  await previous.create(onetime);
  assert.equal(await cutover.confirm(refOf(session)), true);
  assert.equal(await ours.exists(refOf(session)), true);
  assert.equal(await cutover.confirm(refOf(onetime)), true);
  assert.equal(await ours.exists(refOf(onetime)), false);
  assert.equal(await cutover.confirm({ jti: session.jti, subject: 'mallory' }), false); // filed under another subject
  assert.deepEqual(cutover.stats, { confirmed: 2, copied: 1, writes: 0, failedWrites: 0 });
  assert.equal(await cutover.consume(refOf(onetime)), true);
  assert.equal(await cutover.consume(refOf(onetime)), false);
});

test('our writes reach the previous store too (one-time tokens excepted); a revoke finds a record only it holds', async () => {
  const { previous, writes, logger } = await stores();
  const cutover = new CutoverFallback({ fallback: () => previous, writes, logger });
  const session = record('session');
  const onetime = record('onetime');
  await cutover.also({ op: 'create', record: session });
  await cutover.also({ op: 'create', record: onetime });
  assert.equal(await previous.exists(refOf(session)), true);
  assert.equal(await previous.exists(refOf(onetime)), false);
  await cutover.also({ op: 'marker', subject: 'alice', floor: 3 });
  assert.equal((await previous.listMarkers()).get('alice')?.gen, 3);
  assert.equal(await cutover.revoke(session.jti), true);
  assert.equal(await previous.exists(refOf(session)), false);
  assert.equal(await cutover.revoke(session.jti), false);
  assert.deepEqual(cutover.stats, { confirmed: 0, copied: 0, writes: 2, failedWrites: 0 });
});

test('a previous store that fails costs a logged, counted failure, never an error', async () => {
  const { previous, previousRoot, writes, logger } = await stores();
  const cutover = new CutoverFallback({ fallback: () => previous, writes, logger });
  // its folder gone, a file in its place: every request fails
  await rm(previousRoot, { recursive: true, force: true });
  await writeFile(previousRoot, '');
  const r = record('session');
  await cutover.also({ op: 'create', record: r });
  assert.equal(await cutover.confirm(refOf(r)), false);
  assert.equal(await cutover.consume(refOf(r)), false);
  assert.deepEqual(cutover.stats, { confirmed: 0, copied: 0, writes: 1, failedWrites: 1 });
});
