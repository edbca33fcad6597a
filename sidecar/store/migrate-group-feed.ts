import type { TokenStore } from './token-store.js';
import { recordKey } from './record-layout.js';
import { type Retrying, listGroup } from './migrate-support.js';

/** Shard listings fetched ahead of the group being copied (at least one group ahead). */
const LIST_AHEAD = 64;

/**
 * The source's record names that the target lacks, group after group of shards (a few groups listed ahead;
 * never the whole store in one array). A name the target lists already is counted through `onPresent` and
 * costs neither a read nor a write: running the migration again is mostly listings.
 */
export class GroupFeed {
  private readonly groups: number;
  /** Groups listed ahead: about {@link LIST_AHEAD} shard listings, whatever the shard counts. */
  private readonly groupsAhead: number;
  private next = 0;
  /** Listings of the groups ahead; `settled` once `names` is in (or the listing failed). */
  private readonly ahead = new Map<number, { listing: Promise<string[]>; settled: boolean }>();
  private names: string[] = [];
  private position = 0;

  /** `target` undefined: it held nothing when the run started, so nothing is filtered out. */
  constructor(
    private readonly source: TokenStore,
    private readonly target: TokenStore | undefined,
    private readonly retrying: Retrying,
    private readonly onPresent: (count: number) => void,
  ) {
    this.groups = target ? Math.min(source.shards, target.shards) : source.shards;
    const listingsPerGroup = (source.shards + (target?.shards ?? 0)) / this.groups;
    this.groupsAhead = Math.max(1, Math.ceil(LIST_AHEAD / listingsPerGroup));
  }

  /**
   * Up to `max` names: the rest of the current group, then the next groups' as long as their listings are
   * in already (a chunk that holds a name never waits for a listing), so that a store of many small shards
   * still gives chunks worth a bulk read or write. `undefined` once every group is through. One caller.
   */
  async take(max: number): Promise<string[] | undefined> {
    const out: string[] = [];
    while (out.length < max) {
      if (this.position < this.names.length) {
        const to = Math.min(this.names.length, this.position + max - out.length);
        for (let i = this.position; i < to; i++) out.push(this.names[i]!);
        this.position = to;
        continue;
      }
      if (this.next >= this.groups) break;
      if (out.length > 0 && this.ahead.get(this.next)?.settled !== true) break;
      await this.advance();
    }
    return out.length > 0 ? out : undefined;
  }

  /** Lists ahead, then makes the next group's names the current ones (in group order). */
  private async advance(): Promise<void> {
    for (let g = this.next; g < Math.min(this.groups, this.next + this.groupsAhead); g++) {
      if (this.ahead.has(g)) continue;
      const entry = { listing: this.missingIn(g), settled: false };
      entry.listing.then(
        () => (entry.settled = true),
        () => (entry.settled = true), // awaited below, in order
      );
      this.ahead.set(g, entry);
    }
    const group = this.next;
    const names = await this.ahead.get(group)!.listing;
    this.ahead.delete(group);
    this.next = group + 1;
    this.names = names;
    this.position = 0;
  }

  private async missingIn(group: number): Promise<string[]> {
    const [sourceNames, targetNames] = await Promise.all([
      listGroup(this.source, this.groups, group, this.retrying),
      this.target ? listGroup(this.target, this.groups, group, this.retrying) : [],
    ]);
    // by key, not by name: a layout-1 source's record has another name in a layout-2 target
    const present = new Set(targetNames.map(recordKey));
    const missing: string[] = [];
    let found = 0;
    for (const name of sourceNames) {
      const key = recordKey(name);
      if (key !== undefined && present.has(key)) found++;
      else missing.push(name);
    }
    if (found > 0) this.onPresent(found);
    return missing;
  }
}
