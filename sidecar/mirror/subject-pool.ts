/**
 * Interned subjects for the compact mirror: each distinct subject's UTF-8 bytes once, in one growing byte arena,
 * under a small dense id with a reference count (a subject typically holds a few tokens; one with 65,535 at once
 * stays interned for good). Lookups by bytes or by
 * string go through an open-addressing table of ids (linear probing, deletion by backward shift).
 */
const MAX_LOAD = 0.85;
/** Growth of the per-id arrays; the index grows by 1.5x, since a rehash hashes every subject again. */
const GROWTH = 1.25;
/** A subject referenced this often stays interned for good (a count that cannot be trusted to reach 0 again). */
const PINNED = 0xffff;

export class SubjectPool {
  private arena = new Uint8Array(1024);
  private view = Buffer.from(this.arena.buffer);
  private arenaUsed = 0;
  private deadBytes = 0;
  private offsets = new Uint32Array(64);
  private lengths = new Uint8Array(64);
  private refs = new Uint16Array(64);
  private nextId = 0;
  private readonly freeIds: number[] = [];
  /** id + 1 per slot; 0 is empty. */
  private slots = new Uint32Array(64);
  /** The low byte of each slot's hash, so that most probes that miss compare no bytes. */
  private tags = new Uint8Array(64);
  private live = 0;
  private readonly scratch = Buffer.alloc(256);

  get size(): number {
    return this.live;
  }

  /** Bytes held (arrays' capacities), for tests and stats. */
  get bytes(): number {
    return (
      this.arena.byteLength +
      this.offsets.byteLength +
      this.lengths.byteLength +
      this.refs.byteLength +
      this.slots.byteLength +
      this.tags.byteLength
    );
  }

  /** The id of `bytes[0, length)`, interned if new, with one more reference. */
  acquire(bytes: Uint8Array, length: number): number {
    const h = hashBytes(bytes, 0, length);
    const tag = h & 0xff;
    let slot = this.home(h);
    for (;;) {
      const v = this.slots[slot]!;
      if (v === 0) break;
      if (this.tags[slot] === tag && this.equalBytes(v - 1, bytes, length)) {
        if (this.refs[v - 1] !== PINNED) this.refs[v - 1]!++;
        return v - 1;
      }
      slot = slot + 1 === this.slots.length ? 0 : slot + 1;
    }
    const id = this.store(bytes, length);
    this.slots[slot] = id + 1;
    this.tags[slot] = tag;
    this.live++;
    if (this.live > this.slots.length * MAX_LOAD) this.rehash(Math.ceil(this.slots.length * 1.5));
    return id;
  }

  /** One reference fewer; the subject is forgotten with its last. */
  release(id: number): void {
    if (this.refs[id] === PINNED || --this.refs[id]! > 0) return;
    let slot = this.home(hashBytes(this.arena, this.offsets[id]!, this.offsets[id]! + this.lengths[id]!));
    while (this.slots[slot] !== id + 1) slot = slot + 1 === this.slots.length ? 0 : slot + 1;
    this.deleteSlot(slot);
    this.live--;
    this.deadBytes += this.lengths[id]!;
    this.freeIds.push(id);
    if (this.deadBytes > 4096 && this.deadBytes * 2 > this.arenaUsed) this.compact();
  }

  /** The id of a subject held, or -1. */
  find(subject: string): number {
    const length = this.scratch.write(subject, 'utf8');
    if (length > 255 || Buffer.byteLength(subject) !== length) return -1;
    const h = hashBytes(this.scratch, 0, length);
    const tag = h & 0xff;
    let slot = this.home(h);
    for (;;) {
      const v = this.slots[slot]!;
      if (v === 0) return -1;
      if (this.tags[slot] === tag && this.equalBytes(v - 1, this.scratch, length)) return v - 1;
      slot = slot + 1 === this.slots.length ? 0 : slot + 1;
    }
  }

  subject(id: number): string {
    const offset = this.offsets[id]!;
    return this.view.toString('utf8', offset, offset + this.lengths[id]!);
  }

  /** Whether `subject` is the one under `id` (the validation path: no string made). */
  is(id: number, subject: string): boolean {
    const offset = this.offsets[id]!;
    const length = this.lengths[id]!;
    if (subject.length === length) {
      let i = 0;
      for (let c = subject.charCodeAt(0); i < length && c < 0x80 && c === this.arena[offset + i]; c = subject.charCodeAt(++i));
      if (i === length) return true;
    }
    return this.subject(id) === subject;
  }

  private store(bytes: Uint8Array, length: number): number {
    if (this.arenaUsed + length > this.arena.length) this.growArena(this.arenaUsed + length);
    const id = this.freeIds.length > 0 ? this.freeIds.pop()! : this.nextId++;
    if (id >= this.offsets.length) {
      const n = Math.ceil(this.offsets.length * GROWTH);
      this.offsets = grown(this.offsets, new Uint32Array(n));
      this.lengths = grown(this.lengths, new Uint8Array(n));
      this.refs = grown(this.refs, new Uint16Array(n));
    }
    for (let i = 0; i < length; i++) this.arena[this.arenaUsed + i] = bytes[i]!;
    this.offsets[id] = this.arenaUsed;
    this.lengths[id] = length;
    this.refs[id] = 1;
    this.arenaUsed += length;
    return id;
  }

  private growArena(needed: number): void {
    // 1.25x: the arena is the pool's biggest array, and copying it is cheap next to the slack a bigger step leaves
    const next = new Uint8Array(Math.max(needed, Math.ceil(this.arena.length * 1.25)));
    next.set(this.arena.subarray(0, this.arenaUsed));
    this.arena = next;
    this.view = Buffer.from(next.buffer);
  }

  /** Copies the live subjects into a fresh arena (their ids stay), once half of it is dead. */
  private compact(): void {
    const next = new Uint8Array(Math.max(1024, Math.ceil((this.arenaUsed - this.deadBytes) * 1.25)));
    let used = 0;
    for (let id = 0; id < this.nextId; id++) {
      if (this.refs[id] === 0) continue;
      const offset = this.offsets[id]!;
      next.set(this.arena.subarray(offset, offset + this.lengths[id]!), used);
      this.offsets[id] = used;
      used += this.lengths[id]!;
    }
    this.arena = next;
    this.view = Buffer.from(next.buffer);
    this.arenaUsed = used;
    this.deadBytes = 0;
  }

  private equalBytes(id: number, bytes: Uint8Array, length: number): boolean {
    if (this.lengths[id] !== length) return false;
    const offset = this.offsets[id]!;
    for (let i = 0; i < length; i++) if (this.arena[offset + i] !== bytes[i]) return false;
    return true;
  }

  private home(h: number): number {
    return Math.floor((h * this.slots.length) / 4294967296);
  }

  private hashOfId(id: number): number {
    const offset = this.offsets[id]!;
    return hashBytes(this.arena, offset, offset + this.lengths[id]!);
  }

  /** Backward-shift deletion: later entries of the probe run move up, so no tombstones are needed. */
  private deleteSlot(slot: number): void {
    const n = this.slots.length;
    let hole = slot;
    let j = slot;
    for (;;) {
      j = j + 1 === n ? 0 : j + 1;
      const v = this.slots[j]!;
      if (v === 0) break;
      const k = this.home(this.hashOfId(v - 1));
      // the entry at j may move to the hole unless its home lies cyclically in (hole, j]
      const movable = hole <= j ? k <= hole || k > j : k <= hole && k > j;
      if (movable) {
        this.slots[hole] = v;
        this.tags[hole] = this.tags[j]!;
        hole = j;
      }
    }
    this.slots[hole] = 0;
  }

  private rehash(capacity: number): void {
    const old = this.slots;
    this.slots = new Uint32Array(capacity);
    this.tags = new Uint8Array(capacity);
    for (const v of old) {
      if (v === 0) continue;
      const h = this.hashOfId(v - 1);
      let slot = this.home(h);
      while (this.slots[slot] !== 0) slot = slot + 1 === capacity ? 0 : slot + 1;
      this.slots[slot] = v;
      this.tags[slot] = h & 0xff;
    }
  }
}

function grown<T extends Uint8Array | Uint16Array | Uint32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** FNV-1a over bytes, finished with a multiply-xorshift so that the high bits (which pick the slot) mix well. */
export function hashBytes(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}
