import fsCallback, { readFileSync, promises as fs } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { join } from 'node:path';
import type { Logger } from '../../util/logger.js';
import { BadRequestError } from '../../errors/bad-request-error.js';
import type { ListPage, ListQuery } from '../token-store.js';
import { checkListLimit, formatListCursor, parseListCursor } from '../list-cursor.js';
import type { RecordLayout, RecordRef, TokenRecord } from '../token-record.js';
import {
  isValidJti,
  isValidRef,
  isValidSubject,
  kindOfJti,
  parseRecord,
  parseRecordName,
  recordName,
  refOf,
  shardOf,
} from '../token-record.js';
import { call, errno, syncDir, tempName, writeDurable, writeDurableCallback } from '../fs-util.js';
import { directName, listedName } from '../record-layout.js';
import { isProbeJti } from '../probe-record.js';

/** Files {@link DirectoryRecords.readMany} reads before it lets the event loop run. */
const READ_SLICE = 256;

/** What the record files need of the store they belong to. */
export interface DirectoryRecordsContext {
  dir(...parts: string[]): string;
  shardDir(shard: number): string;
  shardCount(): number;
  /** How new records are named (meta.json's layout). */
  recordLayout(): RecordLayout;
  /** A local write to a shard finished: a listing that started before it is stale. */
  wrote(shard: number): void;
  unavailable(err: unknown, what: string): Error;
  logger: Logger;
}

/**
 * The record files of the DIRECTORY store, one per record under `<root>/tokens/<shard>/`, named as its layout says
 * (see RecordLayout): written to a temp file, fsynced, then hard-linked into place (create-if-absent); a one-time
 * token is consumed by renaming it away, so of several racing processes exactly one finds the file.
 */
export class DirectoryRecords {
  constructor(private readonly ctx: DirectoryRecordsContext) {}

  /** A record name in the folder of its jti's shard. */
  private pathIn(jti: string, name: string): string {
    return join(this.ctx.shardDir(shardOf(jti, this.ctx.shardCount())), name);
  }

  /** The path of the record a ref names (the name it implies), for refs taken from a listing. */
  private recordPath(ref: RecordRef): string {
    return this.pathIn(ref.jti, recordName(ref));
  }

  /** Where a new record goes: named by the store's layout. */
  private createPath(record: TokenRecord): string {
    const layout = this.ctx.recordLayout();
    return this.pathIn(record.jti, recordName(refOf(record, layout), layout));
  }

  /**
   * Applies `op` to the record a ref names: by its own name when it speaks the store's layout, else, or when
   * that is gone, by the name its shard lists for the jti (`store upgrade` may have renamed it meanwhile; a
   * rename is atomic, so one of the names is there). `op` answers ENOENT by throwing; resolves `undefined` then.
   */
  private async onRecord<T>(ref: RecordRef, op: (path: string) => Promise<T>): Promise<T | undefined> {
    const direct = directName(ref, this.ctx.recordLayout());
    if (direct !== undefined) {
      try {
        return await op(this.pathIn(ref.jti, direct));
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
      }
    }
    const listed = listedName(await this.listShard(shardOf(ref.jti, this.ctx.shardCount())), ref);
    if (listed === undefined || listed === direct) return undefined;
    try {
      return await op(this.pathIn(ref.jti, listed));
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async create(record: TokenRecord): Promise<boolean> {
    checkRecord(record);
    const shard = shardOf(record.jti, this.ctx.shardCount());
    const tmp = tempName(this.ctx.dir('tmp'), 'record');
    try {
      await writeDurable(tmp, JSON.stringify(record));
      try {
        await fs.link(tmp, this.createPath(record));
      } catch (err) {
        if (errno(err) === 'EEXIST') return false;
        throw err;
      }
      await syncDir(this.ctx.shardDir(shard));
      return true;
    } catch (err) {
      throw this.ctx.unavailable(err, 'write a token record');
    } finally {
      this.ctx.wrote(shard);
      await fs.rm(tmp, { force: true }).catch(() => {});
    }
  }

  /**
   * Many records at once, for the store migration: for each, what `create` would answer (`true` created,
   * `false` the name was taken) or the error that record met. Each record is written to a temp file, fsynced
   * and linked into place as by `create`, all of them at once on the thread pool (the file system commits
   * concurrent fsyncs together); then every shard folder linked into is fsynced once, and only then do the
   * records count as created: one fsync a record and one a shard, where `create` costs two a record.
   */
  async createMany(records: readonly TokenRecord[]): Promise<Array<boolean | Error>> {
    const results = new Array<boolean | Error>(records.length).fill(false);
    const linkedInto = new Map<number, number[]>();
    await Promise.all(
      records.map(async (record, i) => {
        try {
          checkRecord(record);
        } catch (err) {
          results[i] = err as Error;
          return;
        }
        const shard = shardOf(record.jti, this.ctx.shardCount());
        const tmp = tempName(this.ctx.dir('tmp'), 'record');
        try {
          await writeDurableCallback(tmp, JSON.stringify(record));
          try {
            await call<void>((cb) => fsCallback.link(tmp, this.createPath(record), cb));
          } catch (err) {
            if (errno(err) === 'EEXIST') return;
            throw err;
          }
          results[i] = true;
          const linked = linkedInto.get(shard);
          if (linked) linked.push(i);
          else linkedInto.set(shard, [i]);
        } catch (err) {
          results[i] = this.ctx.unavailable(err, 'write a token record');
        } finally {
          this.ctx.wrote(shard);
          fsCallback.unlink(tmp, () => {});
        }
      }),
    );
    await Promise.all(
      [...linkedInto].map(async ([shard, linked]) => {
        try {
          await syncDir(this.ctx.shardDir(shard));
        } catch (err) {
          const error = this.ctx.unavailable(err, 'write a token record');
          for (const i of linked) results[i] = error;
        }
      }),
    );
    return results;
  }

  async delete(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    const shard = shardOf(ref.jti, this.ctx.shardCount());
    try {
      return (await this.onRecord(ref, (path) => fs.unlink(path).then(() => true))) ?? false;
    } catch (err) {
      throw this.ctx.unavailable(err, 'delete a token record');
    } finally {
      this.ctx.wrote(shard);
    }
  }

  async consume(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    const shard = shardOf(ref.jti, this.ctx.shardCount());
    const aside = tempName(this.ctx.dir('tmp'), 'consumed');
    try {
      // rename is atomic: of several processes racing, one moves the file and the rest find it gone.
      if (!(await this.onRecord(ref, (path) => fs.rename(path, aside).then(() => true)))) return false;
    } catch (err) {
      throw this.ctx.unavailable(err, 'consume a one-time token');
    } finally {
      this.ctx.wrote(shard);
    }
    await fs.rm(aside, { force: true }).catch(() => {});
    return true;
  }

  async exists(ref: RecordRef): Promise<boolean> {
    if (!isValidRef(ref)) return false;
    try {
      return (await this.onRecord(ref, (path) => fs.access(path).then(() => true))) ?? false;
    } catch (err) {
      throw this.ctx.unavailable(err, 'read a token record');
    }
  }

  async read(ref: RecordRef): Promise<TokenRecord | undefined> {
    if (!isValidRef(ref)) return undefined;
    try {
      return await this.onRecord(ref, async (path) => (await this.readPath(path, true))!);
    } catch (err) {
      throw this.ctx.unavailable(err, 'read a token record');
    }
  }

  /**
   * Many records at once, for the store migration: `undefined` where `read` would answer it (gone, or not a
   * record). The files are read synchronously on the calling thread, {@link READ_SLICE} of them between turns
   * of the event loop. Each asynchronous read is four thread-pool round trips (open, stat, read, close), and
   * each round trip wakes a pool thread that, on a busy machine, preempts the main thread: about 100 µs of
   * CPU a record with `fs.promises.readFile`, against about 5 µs read synchronously (measured here on ext4,
   * 20,000 records). Caveat: on a network share a slice blocks the event loop for as many round trips to the
   * file server; the sidecar never calls this.
   */
  async readMany(refs: readonly RecordRef[]): Promise<Array<TokenRecord | undefined>> {
    const records: Array<TokenRecord | undefined> = new Array<TokenRecord | undefined>(refs.length).fill(undefined);
    for (let i = 0; i < refs.length; i++) {
      if (i > 0 && i % READ_SLICE === 0) await nextTurn();
      if (!isValidRef(refs[i]!)) continue;
      const path = this.recordPath(refs[i]!);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        if (errno(err) === 'ENOENT') continue;
        throw this.ctx.unavailable(err, 'read a token record');
      }
      records[i] = this.parseAt(path, text);
    }
    return records;
  }

  /** `rawMissing`: let ENOENT through (to {@link onRecord}) rather than answer undefined. */
  async readPath(path: string, rawMissing = false): Promise<TokenRecord | undefined> {
    let text: string;
    try {
      // the callback form: fs.promises.readFile costs about three times the CPU for a file this small
      text = await call<string>((cb) => fsCallback.readFile(path, 'utf8', cb));
    } catch (err) {
      if (errno(err) === 'ENOENT' && !rawMissing) return undefined;
      if (errno(err) === 'ENOENT') throw err;
      throw this.ctx.unavailable(err, 'read a token record');
    }
    return this.parseAt(path, text);
  }

  private parseAt(path: string, text: string): TokenRecord | undefined {
    try {
      return parseRecord(text);
    } catch {
      this.ctx.logger.warn('ignoring an unreadable token record', { path });
      return undefined;
    }
  }

  /** `fresh` changes nothing here: a listing of the folder holds every file created before it. */
  async listShard(shard: number, _options: { fresh?: boolean } = {}): Promise<string[]> {
    try {
      return await call<string[]>((cb) => fsCallback.readdir(this.ctx.shardDir(shard), cb));
    } catch (err) {
      throw this.ctx.unavailable(err, 'list a shard');
    }
  }

  async list(query: ListQuery): Promise<ListPage> {
    const limit = checkListLimit(query.limit);
    const start = parseListCursor(query.cursor, this.ctx.shardCount());
    let after = start.after;
    const items: TokenRecord[] = [];
    for (let shard = start.shard; shard < this.ctx.shardCount(); shard++) {
      const names = (await this.listShard(shard)).sort();
      for (const name of names) {
        if (after !== undefined && name <= after) continue;
        const ref = parseRecordName(name);
        if (!ref || isProbeJti(ref.jti)) continue; // a propagation probe is never a token
        if (query.subject !== undefined && ref.subject !== query.subject) continue;
        const derivedKind = kindOfJti(ref.jti);
        if (query.kind !== undefined && derivedKind !== undefined && derivedKind !== query.kind) continue;
        const record = await this.readPath(join(this.ctx.shardDir(shard), name));
        if (!record || (query.kind !== undefined && record.kind !== query.kind)) continue;
        items.push(record);
        if (items.length >= limit) return { items, nextCursor: formatListCursor(shard, name) };
      }
      after = undefined;
    }
    return { items, nextCursor: null };
  }
}

/** What the ZooKeeper store refuses, refused here too: a name that is not a record's could leave the shard folder. */
function checkRecord(record: TokenRecord): void {
  if (!isValidJti(record.jti)) throw new BadRequestError(`jti '${String(record.jti)}' is not a valid token id`);
  if (!isValidSubject(record.subject)) throw new BadRequestError('subject is empty, too long or has control characters');
}
