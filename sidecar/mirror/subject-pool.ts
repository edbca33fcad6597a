/**
 * Interned subjects for the compact mirror: each distinct subject's UTF-8 bytes once, under a small dense id with
 * a reference count (a subject typically holds a few tokens; one with 65,535 at once stays interned for good).
 * Lookups by bytes or by string go through an open-addressing table of ids (linear probing, deletion by backward
 * shift).
 *
 * The arena and the per-id arrays grow by whole chunks, never by copying: a listing's load frees no big array
 * (freed arrays leave holes in the C heap, which RSS keeps; docs/benchmarks.md 4a), and each holds at most one
 * chunk of slack.
 */
/** Arena chunks of 64 KiB; an entry (a length byte, then the subject's at most 255 bytes) never straddles two. */
const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;
/** An offset word is chunk << 16 | position, so 65,536 chunks (4 GiB of subjects) at most. */
const MAX_CHUNKS = 1 << (32 - CHUNK_BITS);
/** Ids per chunk of the per-id arrays (offsets 64 KiB, reference counts 32 KiB). */
const ID_BITS = 14;
const ID_MASK = (1 << ID_BITS) - 1;
/** The record tables keep a subject id in 30 bits (jti-table.ts: id << 2 | kind). */
const MAX_IDS = 2 ** 30;
const MAX_LOAD = 0.85;
/** A subject referenced this often stays interned for good (a count that cannot be trusted to reach 0 again). */
const PINNED = 0xffff;
const NO_CHUNK = new Uint8Array(0);
const NO_VIEW = Buffer.alloc(0);

export class SubjectPool {
  /** Plain Uint8Arrays like the callers' bytes, so that hashBytes and the comparisons see one kind of array. */
  private readonly chunks: Uint8Array[] = [];
  /** The same chunks as Buffers, for decoding. */
  private readonly views: Buffer[] = [];
  /** Per chunk: bytes written, and of those the bytes of released subjects. */
  private readonly fill: number[] = [];
  private readonly dead: number[] = [];
  /** Indexes of chunks that compaction freed, for the next new chunks. */
  private readonly spareChunks: number[] = [];
  private tail = -1;
  private arenaUsed = 0;
  private deadBytes = 0;
  /** Per id: the offset word of its entry; for a free id, the next free id + 1 (a free list with no array of its own). */
  private readonly offsets: Uint32Array[] = [];
  private readonly refs: Uint16Array[] = [];
  private nextId = 0;
  private freeId = -1;
  /**
   * Per slot: id + 1 in the low `idBits` bits (0 is empty), the hash's low bits above them, so that most probes
   * that miss compare no bytes. `idBits` fits the capacity, and id + 1 never exceeds the capacity: ids are dense
   * (freed ones are taken first) and the table, which never shrinks, once held all of them. The hash keeps 12
   * bits at 500,000 subjects, 7 at 20,000,000.
   */
  private slots = new Int32Array(64);
  private idBits = 7;
  private idMask = 0x7f;
  private live = 0;
  private readonly scratch = new Uint8Array(256);
  private readonly scratchView = Buffer.from(this.scratch.buffer);

  /** Slots of the index (for tests). */
  get indexSlots(): number {
    return this.slots.length;
  }

  get size(): number {
    return this.live;
  }

  /** Bytes held (arrays' capacities), for tests and stats. */
  get bytes(): number {
    const arena = (this.chunks.length - this.spareChunks.length) * CHUNK;
    return arena + this.offsets.length * (ID_MASK + 1) * 6 + this.slots.byteLength;
  }

  /** The id of `bytes[0, length)`, interned if new, with one more reference. */
  acquire(bytes: Uint8Array, length: number): number {
    const h = hashBytes(bytes, 0, length);
    const key = h << this.idBits;
    const mask = this.idMask;
    let slot = this.home(h);
    for (;;) {
      const v = this.slots[slot]!;
      if (v === 0) break;
      if ((v & ~mask) === key && this.equalBytes((v & mask) - 1, bytes, length)) {
        const id = (v & mask) - 1;
        const refs = this.refs[id >>> ID_BITS]!;
        if (refs[id & ID_MASK] !== PINNED) refs[id & ID_MASK]!++;
        return id;
      }
      slot = slot + 1 === this.slots.length ? 0 : slot + 1;
    }
    const id = this.store(bytes, length);
    this.slots[slot] = key | (id + 1);
    this.live++;
    if (this.live > this.slots.length * MAX_LOAD) this.rehash(Math.ceil(this.slots.length * 1.5));
    return id;
  }

  /**
   * Sizes the index for `subjects` subjects now (an estimate while a big listing loads), so that reaching them
   * rehashes nothing: each rehash reads every subject's bytes again, at random places (most of the time of a
   * ten-million-token load went there).
   */
  reserve(subjects: number): void {
    const capacity = Math.ceil(subjects / MAX_LOAD) + 1;
    if (capacity > this.slots.length) this.rehash(capacity);
  }

  /** One reference fewer; the subject is forgotten with its last. */
  release(id: number): void {
    const refs = this.refs[id >>> ID_BITS]!;
    if (refs[id & ID_MASK] === PINNED || --refs[id & ID_MASK]! > 0) return;
    let slot = this.home(this.hashOfId(id));
    while ((this.slots[slot]! & this.idMask) !== id + 1) slot = slot + 1 === this.slots.length ? 0 : slot + 1;
    this.deleteSlot(slot);
    this.live--;
    const offset = this.offsetOf(id);
    const chunk = offset >>> CHUNK_BITS;
    const size = this.chunks[chunk]![offset & CHUNK_MASK]! + 1;
    this.dead[chunk]! += size;
    this.deadBytes += size;
    this.setOffset(id, this.freeId + 1);
    this.freeId = id;
    if (this.deadBytes > CHUNK && this.deadBytes * 2 > this.arenaUsed) this.compact();
  }

  /** The id of a subject held, or -1. */
  find(subject: string): number {
    const length = this.scratchView.write(subject, 'utf8');
    if (length > 255 || Buffer.byteLength(subject) !== length) return -1;
    const h = hashBytes(this.scratch, 0, length);
    const key = h << this.idBits;
    const mask = this.idMask;
    let slot = this.home(h);
    for (;;) {
      const v = this.slots[slot]!;
      if (v === 0) return -1;
      if ((v & ~mask) === key && this.equalBytes((v & mask) - 1, this.scratch, length)) return (v & mask) - 1;
      slot = slot + 1 === this.slots.length ? 0 : slot + 1;
    }
  }

  subject(id: number): string {
    const offset = this.offsetOf(id);
    const view = this.views[offset >>> CHUNK_BITS]!;
    const at = (offset & CHUNK_MASK) + 1;
    return view.toString('utf8', at, at + view[at - 1]!);
  }

  /** Whether `subject` is the one under `id` (the validation path: no string made). */
  is(id: number, subject: string): boolean {
    const offset = this.offsetOf(id);
    const chunk = this.chunks[offset >>> CHUNK_BITS]!;
    const at = (offset & CHUNK_MASK) + 1;
    const length = chunk[at - 1]!;
    if (subject.length === length) {
      let i = 0;
      for (let c = subject.charCodeAt(0); i < length && c < 0x80 && c === chunk[at + i]; c = subject.charCodeAt(++i));
      if (i === length) return true;
    }
    return this.subject(id) === subject;
  }

  private store(bytes: Uint8Array, length: number): number {
    if (this.freeId < 0 && this.nextId === MAX_IDS) throw new RangeError(`the subject pool holds ${MAX_IDS} subjects, its most`);
    const offset = this.reserveBytes(length + 1);
    const chunk = this.chunks[offset >>> CHUNK_BITS]!;
    const at = offset & CHUNK_MASK;
    chunk[at] = length;
    for (let i = 0; i < length; i++) chunk[at + 1 + i] = bytes[i]!;
    let id = this.freeId;
    if (id >= 0) this.freeId = this.offsetOf(id) - 1;
    else {
      id = this.nextId++;
      if ((id & ID_MASK) === 0) {
        this.offsets.push(new Uint32Array(ID_MASK + 1));
        this.refs.push(new Uint16Array(ID_MASK + 1));
      }
    }
    this.setOffset(id, offset);
    this.refs[id >>> ID_BITS]![id & ID_MASK] = 1;
    return id;
  }

  /** Room for `size` bytes at the arena's end, in a new chunk if the last lacks it; their offset word. */
  private reserveBytes(size: number): number {
    if (this.tail < 0 || this.fill[this.tail]! + size > CHUNK) this.tail = this.newChunk();
    const at = this.fill[this.tail]!;
    this.fill[this.tail] = at + size;
    this.arenaUsed += size;
    return ((this.tail << CHUNK_BITS) | at) >>> 0;
  }

  private newChunk(): number {
    const chunk = this.spareChunks.pop() ?? this.chunks.length;
    if (chunk === MAX_CHUNKS) throw new RangeError('the subject pool holds 4 GiB of subjects, its most');
    if (chunk === this.chunks.length) {
      this.chunks.push(NO_CHUNK);
      this.views.push(NO_VIEW);
      this.fill.push(0);
      this.dead.push(0);
    }
    this.chunks[chunk] = new Uint8Array(CHUNK);
    this.views[chunk] = Buffer.from(this.chunks[chunk].buffer);
    return chunk;
  }

  /**
   * Once half of the arena is dead: the live entries of every chunk at least a quarter dead move to the arena's
   * end (their ids stay) and those chunks are freed. What stays is then under a quarter dead, so the next
   * compaction (a pass over all ids) waits for another quarter of the arena to be released.
   */
  private compact(): void {
    const moving = this.fill.map((fill, chunk) => this.chunks[chunk] !== NO_CHUNK && this.dead[chunk]! * 4 >= fill);
    if (moving[this.tail]) this.tail = -1;
    for (let c = 0; c < this.offsets.length; c++) {
      const offsets = this.offsets[c]!;
      const refs = this.refs[c]!;
      const ids = Math.min(ID_MASK + 1, this.nextId - c * (ID_MASK + 1));
      for (let i = 0; i < ids; i++) {
        if (refs[i] === 0 || !moving[offsets[i]! >>> CHUNK_BITS]) continue;
        const from = this.chunks[offsets[i]! >>> CHUNK_BITS]!;
        const at = offsets[i]! & CHUNK_MASK;
        const size = from[at]! + 1;
        const to = this.reserveBytes(size);
        const into = this.chunks[to >>> CHUNK_BITS]!;
        // a loop, not a native copy: a call per entry of some 20 bytes costs more than the bytes
        for (let k = 0, j = to & CHUNK_MASK; k < size; k++) into[j + k] = from[at + k]!;
        offsets[i] = to;
      }
    }
    moving.forEach((move, chunk) => {
      if (!move) return;
      this.chunks[chunk] = NO_CHUNK;
      this.views[chunk] = NO_VIEW;
      this.arenaUsed -= this.fill[chunk]!;
      this.deadBytes -= this.dead[chunk]!;
      this.fill[chunk] = this.dead[chunk] = 0;
      this.spareChunks.push(chunk);
    });
  }

  private offsetOf(id: number): number {
    return this.offsets[id >>> ID_BITS]![id & ID_MASK]!;
  }

  private setOffset(id: number, offset: number): void {
    this.offsets[id >>> ID_BITS]![id & ID_MASK] = offset;
  }

  private equalBytes(id: number, bytes: Uint8Array, length: number): boolean {
    const offset = this.offsetOf(id);
    const chunk = this.chunks[offset >>> CHUNK_BITS]!;
    const at = (offset & CHUNK_MASK) + 1;
    if (chunk[at - 1] !== length) return false;
    for (let i = 0; i < length; i++) if (chunk[at + i] !== bytes[i]) return false;
    return true;
  }

  private home(h: number): number {
    return Math.floor((h * this.slots.length) / 4294967296);
  }

  private hashOfId(id: number): number {
    const offset = this.offsetOf(id);
    const chunk = this.chunks[offset >>> CHUNK_BITS]!;
    const at = (offset & CHUNK_MASK) + 1;
    return hashBytes(chunk, at, at + chunk[at - 1]!);
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
      const k = this.home(this.hashOfId((v & this.idMask) - 1));
      // the entry at j may move to the hole unless its home lies cyclically in (hole, j]
      const movable = hole <= j ? k <= hole || k > j : k <= hole && k > j;
      if (movable) {
        this.slots[hole] = v;
        hole = j;
      }
    }
    this.slots[hole] = 0;
  }

  private rehash(capacity: number): void {
    const old = this.slots;
    const oldMask = this.idMask;
    this.slots = new Int32Array(capacity);
    this.idBits = 32 - Math.clz32(capacity);
    this.idMask = -1 >>> (32 - this.idBits);
    for (const v of old) {
      if (v === 0) continue;
      const id = (v & oldMask) - 1;
      const h = this.hashOfId(id);
      let slot = this.home(h);
      while (this.slots[slot] !== 0) slot = slot + 1 === capacity ? 0 : slot + 1;
      this.slots[slot] = (h << this.idBits) | (id + 1);
    }
  }
}

/** FNV-1a over bytes, finished with a multiply-xorshift so that the high bits (which pick the slot) mix well. */
export function hashBytes(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}
