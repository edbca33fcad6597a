/**
 * A set that remembers at least its last `capacity` members, with an optional time to live per member.
 *
 * Two generations of at most `capacity` members each: adds go to the young one; when it is full it becomes the
 * old one and the previous old one is dropped whole, so every operation is O(1) and at most `2 * capacity`
 * members are held. Not one eviction per add: V8 leaves deleted entries at the front of a Map, so evicting
 * with `map.keys().next()` walks past all of them (docs/design-notes.md). Re-adding a member makes it young again.
 */
export class BoundedSet<K> {
  private young = new Map<K, number>();
  private old = new Map<K, number>();
  private readonly generation: number;

  constructor(
    capacity: number,
    private readonly ttlMs = Infinity,
  ) {
    if (!(capacity >= 1)) throw new RangeError(`BoundedSet capacity must be at least 1, not ${capacity}`);
    this.generation = Math.floor(capacity);
  }

  add(key: K, now = 0): void {
    this.old.delete(key);
    this.young.delete(key);
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, now + this.ttlMs);
  }

  has(key: K, now = 0): boolean {
    const until = this.young.get(key) ?? this.old.get(key);
    if (until === undefined) return false;
    if (now > until) {
      this.delete(key);
      return false;
    }
    return true;
  }

  delete(key: K): boolean {
    const inYoung = this.young.delete(key);
    return this.old.delete(key) || inYoung;
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}
