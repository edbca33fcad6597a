import { BadRequestError } from '../errors/bad-request-error.js';

/** Where a listing page starts: a shard, and within it the names after `after` (sorted). */
export interface ListPosition {
  shard: number;
  after?: string;
}

/** A page's cursor, `<shard>:<last name>`: opaque to callers, the same for both stores. */
export function formatListCursor(shard: number, name: string): string {
  return `${shard}:${name}`;
}

/**
 * `undefined` or `''` starts at shard 0; a shard past the last one is the end (an empty last page: the API has
 * always answered it so); anything not of the form this store returns is a BadRequestError.
 */
export function parseListCursor(cursor: string | undefined, shards: number): ListPosition {
  if (cursor === undefined || cursor === '') return { shard: 0 };
  const colon = cursor.indexOf(':');
  const shard = colon > 0 ? Number(cursor.slice(0, colon)) : NaN;
  if (!/^\d+$/.test(cursor.slice(0, Math.max(colon, 0))) || !Number.isInteger(shard)) {
    throw new BadRequestError(`cursor '${cursor.slice(0, 80)}' was not issued by this store`, 'request.invalid');
  }
  if (shard >= shards) return { shard: shards };
  const after = cursor.slice(colon + 1);
  return after === '' ? { shard } : { shard, after };
}

/** A page size both stores accept: a positive integer, else a BadRequestError (neither clamps). */
export function checkListLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) throw new BadRequestError(`limit ${limit} must be a positive integer`);
  return limit;
}
