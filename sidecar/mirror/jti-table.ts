import { EXP_EMPTY } from './compact-name.js';

/** Words per slot: the jti's 16 bytes, the expiry word, then (subject id << 2 | kind). */
const W = 6;
/** Grown past this load; a listing sizes a table to {@link LISTED_LOAD} (the load it mostly stays near). */
const MAX_LOAD = 0.92;
const LISTED_LOAD = 0.88;
const GROWTH = 1.5;
const MIN_CAPACITY = 8;

/**
 * One shard's records, 24 bytes a slot in one Uint32Array: open addressing with linear probing, the home slot
 * picked from the jti's (random) first words by multiply-shift ("fastrange"), so capacities need not be powers
 * of two and grow by 1.5x; deletion by backward shift, so no tombstones. Lookups compare the jti's words only.
 */
export class JtiTable {
  private slots: Uint32Array;
  private used = 0;

  constructor(capacity = MIN_CAPACITY) {
    this.slots = new Uint32Array(Math.max(MIN_CAPACITY, capacity) * W);
  }

  get size(): number {
    return this.used;
  }

  get capacity(): number {
    return this.slots.length / W;
  }

  get bytes(): number {
    return this.slots.byteLength;
  }

  /** The slot holding this jti (4 words and a kind), or -1. */
  find(words: Uint32Array, kind: number): number {
    const s = this.slots;
    const n = s.length;
    let i = this.home(words[0]!, words[1]!) * W;
    for (;;) {
      if (s[i + 4] === EXP_EMPTY) return -1;
      if (s[i] === words[0] && s[i + 1] === words[1] && s[i + 2] === words[2] && s[i + 3] === words[3] && (s[i + 5]! & 3) === kind)
        return i / W;
      i += W;
      if (i === n) i = 0;
    }
  }

  /** Adds a jti not held (the caller has looked); returns its slot. */
  insert(words: Uint32Array, kind: number, exp: number, subjectId: number): number {
    if (this.full) this.resize(Math.ceil(this.capacity * GROWTH));
    const s = this.slots;
    let i = this.home(words[0]!, words[1]!) * W;
    while (s[i + 4] !== EXP_EMPTY) {
      i += W;
      if (i === s.length) i = 0;
    }
    s[i] = words[0]!;
    s[i + 1] = words[1]!;
    s[i + 2] = words[2]!;
    s[i + 3] = words[3]!;
    s[i + 4] = exp;
    s[i + 5] = ((subjectId << 2) | kind) >>> 0;
    this.used++;
    return i / W;
  }

  /** Makes room for `n` records at once (a listing's size), so that loading them does not grow the table step by step. */
  reserve(n: number): void {
    if (n > this.capacity * MAX_LOAD) this.resize(Math.ceil(n / LISTED_LOAD));
  }

  isUsed(slot: number): boolean {
    return this.slots[slot * W + 4] !== EXP_EMPTY;
  }

  exp(slot: number): number {
    return this.slots[slot * W + 4]!;
  }

  setExp(slot: number, exp: number): void {
    this.slots[slot * W + 4] = exp;
  }

  subjectId(slot: number): number {
    return this.slots[slot * W + 5]! >>> 2;
  }

  kind(slot: number): number {
    return this.slots[slot * W + 5]! & 3;
  }

  /** Slots held by a subject id. */
  countSubject(subjectId: number): number {
    const s = this.slots;
    let n = 0;
    for (let i = 0; i < s.length; i += W) if (s[i + 4] !== EXP_EMPTY && s[i + 5]! >>> 2 === subjectId) n++;
    return n;
  }

  /** Copies a slot's jti words into `out`. */
  jti(slot: number, out: Uint32Array): void {
    out.set(this.slots.subarray(slot * W, slot * W + 4));
  }

  /** Empties a slot; later entries of its probe run move up (a slot's content may change: iterate backwards or restart). */
  removeAt(slot: number): void {
    const s = this.slots;
    const n = this.capacity;
    let hole = slot;
    let j = slot;
    for (;;) {
      j = j + 1 === n ? 0 : j + 1;
      if (s[j * W + 4] === EXP_EMPTY) break;
      const k = this.home(s[j * W]!, s[j * W + 1]!);
      // the entry at j may fill the hole unless its home lies cyclically in (hole, j]
      if (hole <= j ? k <= hole || k > j : k <= hole && k > j) {
        s.copyWithin(hole * W, j * W, j * W + W);
        hole = j;
      }
    }
    s.fill(0, hole * W, hole * W + W);
    this.used--;
  }

  /** Whether an insert now would grow the table (and so move every slot). */
  get full(): boolean {
    return this.used + 1 > this.capacity * MAX_LOAD;
  }

  /** Gives memory back after many removals (slots move). */
  shrinkIfSparse(): void {
    if (this.used < this.capacity * 0.3 && this.capacity > MIN_CAPACITY) this.resize(Math.ceil(this.used / LISTED_LOAD));
  }

  private home(w0: number, w1: number): number {
    return Math.floor((((w0 ^ w1) >>> 0) * this.capacity) / 4294967296);
  }

  private resize(capacity: number): void {
    const old = this.slots;
    this.slots = new Uint32Array(Math.max(MIN_CAPACITY, capacity, Math.ceil(this.used / MAX_LOAD) + 1) * W);
    const s = this.slots;
    const n = s.length;
    for (let o = 0; o < old.length; o += W) {
      if (old[o + 4] === EXP_EMPTY) continue;
      let i = this.home(old[o]!, old[o + 1]!) * W;
      while (s[i + 4] !== EXP_EMPTY) {
        i += W;
        if (i === n) i = 0;
      }
      s.set(old.subarray(o, o + W), i);
    }
  }
}
