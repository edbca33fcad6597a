import type { Logger } from '../../util/logger.js';
import { BadRequestError } from '../../errors/bad-request-error.js';
import type { ListPage, ListQuery } from '../token-store.js';
import type { RecordRef, TokenRecord } from '../token-record.js';
import { isValidRef, kindOfJti, parseRecord, parseRecordName } from '../token-record.js';
import { directName, listedName } from '../record-layout.js';
import { checkListLimit, formatListCursor, parseListCursor } from '../list-cursor.js';
import { forEachBounded } from '../../util/for-each-bounded.js';
import type { ZkLayout } from './layout.js';
import type { ZkClient } from './zk-client.js';
import { ZkCode, ZkError, isZkError } from './zk-error.js';
import type { ZkSession } from './zk-session.js';
import { ZooKeeperStoreError } from './zookeeper-store-error.js';
import { isProbeJti } from '../probe-record.js';

/** Shard listings fetched ahead while paging through `list()`. */
const LIST_PREFETCH = 16;

const noop = (): void => undefined;

export interface RecordReadsOptions {
  session: ZkSession;
  layout: ZkLayout;
  readConcurrency: number;
  logger: Logger;
}

/** Reads of records: one at a time, in bulk for a migration, shard listings and paged listings. */
export class RecordReads {
  constructor(private readonly options: RecordReadsOptions) {}

  /**
   * Asked when a validly signed token is not in the mirror, typically because it was issued on another node
   * a moment ago: a `sync` goes first (pipelined, no extra round trip to wait for) so that a follower that
   * has not applied that create yet cannot answer "no". By the ref's own name when it speaks the store's
   * layout, else by the shard's listing (see {@link listedName}).
   */
  async exists(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    const { layout } = this.options;
    return this.options.session.run(async (client) => {
      const shardPath = layout.shardPath(layout.shardOf(ref.jti));
      const direct = directName(ref, layout.recordLayout);
      if (direct !== undefined) {
        const [, stat] = await Promise.all([client.sync(shardPath), client.exists(layout.pathIn(ref.jti, direct))]);
        if (stat !== null) return true;
      } else {
        const [, names] = await Promise.all([client.sync(shardPath), client.getChildren(shardPath)]);
        if (listedName(names, ref) !== undefined) return true;
      }
      // a "no" must hold every create already acknowledged (and a rename by `store upgrade`): ask again behind a write
      const [, again] = await Promise.all([barrier(client, shardPath), client.getChildren(shardPath)]);
      return listedName(again, ref) !== undefined;
    });
  }

  async read(ref: RecordRef): Promise<TokenRecord | undefined> {
    if (!isValidRef(ref)) return undefined;
    const { layout } = this.options;
    return this.options.session.run(async (client) => {
      const shardPath = layout.shardPath(layout.shardOf(ref.jti));
      const direct = directName(ref, layout.recordLayout);
      if (direct !== undefined) {
        const record = await getRecord(client, layout.pathIn(ref.jti, direct), client.sync(shardPath));
        if (record) return record;
      }
      const [, names] = await Promise.all([client.sync(shardPath), client.getChildren(shardPath)]);
      const listed = listedName(names, ref);
      return listed === undefined || listed === direct ? undefined : getRecord(client, layout.pathIn(ref.jti, listed));
    });
  }

  /**
   * Records the caller has just listed with `listShard`, one pipelined `get` each and no `sync`: the
   * listing's sync went first on this session, and a session never reads older state than it has seen, so
   * each get sees at least what the listing saw. As `read` for each: `undefined` once deleted; a node that is
   * not a record fails the whole call (the migration then reads those records one by one).
   */
  async readMany(refs: readonly RecordRef[]): Promise<Array<TokenRecord | undefined>> {
    const { layout } = this.options;
    return this.options.session.run((client) =>
      Promise.all(
        refs.map(async (ref) => {
          if (!isValidRef(ref)) return undefined;
          const path = layout.recordPath(ref);
          try {
            return parseRecordAt(path, (await client.get(path)).data);
          } catch (error) {
            if (isZkError(error, ZkCode.NONODE)) return undefined;
            throw error;
          }
        }),
      ),
    );
  }

  /**
   * A `sync` goes first (pipelined), as for {@link exists}: revoking a token issued on another node a moment
   * ago looks its subject up here, and a follower that has not applied the create yet would answer without it.
   */
  async listShard(shard: number, options: { fresh?: boolean } = {}): Promise<string[]> {
    const { layout } = this.options;
    if (!Number.isInteger(shard) || shard < 0 || shard >= layout.shards) {
      throw new BadRequestError(`shard ${shard} is not in 0..${layout.shards - 1}`);
    }
    return this.options.session.run(async (client) => {
      const path = layout.shardPath(shard);
      const [, names] = await Promise.all([options.fresh ? barrier(client, path) : client.sync(path), client.getChildren(path)]);
      return names;
    });
  }

  /**
   * Shard by shard from the cursor, names sorted within a shard; subject and (for our jtis) kind are
   * filtered from the names, and only records that pass are read, pipelined. At most
   * {@link LIST_PREFETCH} shard listings are held at once.
   */
  async list(query: ListQuery): Promise<ListPage> {
    const { layout, readConcurrency } = this.options;
    const limit = checkListLimit(query.limit);
    const { shard: first, after } = parseListCursor(query.cursor, layout.shards);
    return this.options.session.run(async (client) => {
      const shards = layout.shards;
      const items: TokenRecord[] = [];
      const listings = new Map<number, Promise<string[]>>();
      const listing = (shard: number): Promise<string[]> => {
        let names = listings.get(shard);
        if (!names) {
          names = client.getChildren(layout.shardPath(shard));
          names.catch(noop); // consumed below, or abandoned when the page is full
          listings.set(shard, names);
        }
        return names;
      };
      for (let shard = first; shard < shards; shard++) {
        // prefetch; listing() catches its own errors
        for (let ahead = shard; ahead < Math.min(shards, shard + LIST_PREFETCH); ahead++) void listing(ahead);
        const names = (await listing(shard)).sort();
        listings.delete(shard);
        const candidates: Array<{ name: string; path: string }> = [];
        for (const name of names) {
          if (shard === first && after !== undefined && name <= after) continue;
          const ref = parseRecordName(name);
          if (!ref || isProbeJti(ref.jti)) continue; // a propagation probe is never a token
          if (query.subject !== undefined && ref.subject !== query.subject) continue;
          const kind = kindOfJti(ref.jti);
          if (query.kind !== undefined && kind !== undefined && kind !== query.kind) continue;
          candidates.push({ name, path: `${layout.shardPath(shard)}/${name}` });
        }
        for (let next = 0; next < candidates.length;) {
          const chunk = candidates.slice(next, next + (limit - items.length));
          next += chunk.length;
          const records: Array<TokenRecord | undefined> = new Array(chunk.length);
          await forEachBounded(chunk.keys(), readConcurrency, async (i) => {
            records[i] = await this.readListed(client, chunk[i]!.path);
          });
          for (const [i, record] of records.entries()) {
            if (!record || (query.kind !== undefined && record.kind !== query.kind)) continue;
            items.push(record);
            if (items.length === limit) return { items, nextCursor: formatListCursor(shard, chunk[i]!.name) };
          }
        }
      }
      return { items, nextCursor: null };
    });
  }

  private async readListed(client: ZkClient, path: string): Promise<TokenRecord | undefined> {
    try {
      const { data } = await client.get(path);
      return parseRecord(data);
    } catch (error) {
      if (isZkError(error, ZkCode.NONODE)) return undefined; // deleted since the listing
      if (error instanceof ZkError) throw error;
      this.options.logger.warn(`skipping ${path}: not a token record`);
      return undefined;
    }
  }
}

/**
 * Makes the reads sent right behind it on this session see every write committed before it. A `sync` does that on
 * a follower, but the leader answers a sync at once and may serve the read behind it before its commit thread
 * applied a transaction a follower already acknowledged. A write cannot be answered before every earlier transaction
 * is applied on its server, so with the multi patch the barrier is a one-op transaction (a version check, `-1`: any)
 * that changes nothing. Only asked after a plain read missed.
 */
export function barrier(client: ZkClient, path: string): Promise<void> {
  return client.canMulti ? client.multi([{ op: 'check', path, version: -1 }]) : client.sync(path);
}

/** One record by path (`undefined` when there is none), behind `before` (a sync sent with it) when given. */
async function getRecord(client: ZkClient, path: string, before?: Promise<void>): Promise<TokenRecord | undefined> {
  try {
    const [, { data }] = await Promise.all([before, client.get(path)]);
    return parseRecordAt(path, data);
  } catch (error) {
    if (isZkError(error, ZkCode.NONODE)) return undefined;
    throw error;
  }
}

function parseRecordAt(path: string, data: Buffer): TokenRecord {
  try {
    return parseRecord(data);
  } catch (error) {
    throw new ZooKeeperStoreError(`${path} does not hold a token record`, 'store.zookeeper.corrupt', { cause: error });
  }
}
