import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/** What a DIRECTORY store folder already holds, read without creating or changing anything. */
export interface DirectoryUsage {
  /** node.ids of other sidecars that published a member file here (live or not). */
  otherMembers: string[];
  /** Whether any token record or logout marker is stored. */
  hasRecords: boolean;
}

/**
 * Whether other sidecars use (or used) this folder: a node that would make its own signing secret must not
 * join a store whose tokens were signed with another one. Missing folders count as unused.
 */
export async function directoryUsage(root: string, selfNodeId: string): Promise<DirectoryUsage> {
  const list = (path: string) => fs.readdir(path).catch(() => [] as string[]);
  const otherMembers = (await list(join(root, 'members')))
    .filter((n) => n.endsWith('.json'))
    .map((n) => n.slice(0, -'.json'.length))
    .filter((id) => id !== selfNodeId);
  let hasRecords = (await list(join(root, 'subjects'))).length > 0;
  for (const shard of hasRecords ? [] : await list(join(root, 'tokens'))) {
    if ((await list(join(root, 'tokens', shard))).length > 0) {
      hasRecords = true;
      break;
    }
  }
  return { otherMembers, hasRecords };
}
