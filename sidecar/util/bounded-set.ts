/**
 * A set that forgets its oldest members past `capacity`, with an optional
 * time to live per member. Map keeps insertion order, so eviction is O(1).
 */
export class BoundedSet<K> {
  private readonly items = new Map<K, number>();

  constructor(
    private readonly capacity: number,
    private readonly ttlMs = Infinity,
  ) {}

  add(key: K, now = 0): void {
    this.items.delete(key);
    this.items.set(key, now + this.ttlMs);
    if (this.items.size > this.capacity) {
      this.items.delete(this.items.keys().next().value as K);
    }
  }

  has(key: K, now = 0): boolean {
    const until = this.items.get(key);
    if (until === undefined) return false;
    if (now > until) {
      this.items.delete(key);
      return false;
    }
    return true;
  }

  delete(key: K): boolean {
    return this.items.delete(key);
  }

  get size(): number {
    return this.items.size;
  }

  clear(): void {
    this.items.clear();
  }
}
