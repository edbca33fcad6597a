import { EXP_EMPTY } from './compact-name.js';

/** Words per slot: the jti's 16 bytes, the expiry word, then (subject id << 2 | kind). */
const W = 6;
/** Room added when an insert finds the table full: an eighth, at least a few slots (amortised copies, little slack). */
const GROWTH = 0.125;
const MIN_GROWTH = 8;

/**
 * One shard's records, 24 bytes a slot in one Uint32Array, kept sorted by (jti words, kind): a jti's 16 random
 * bytes spread evenly, so a binary search finds one in log2(n) steps (12 at 10,000,000 tokens over 4,096 shards),
 * and a listing fills the table to 100% where open addressing stops near 88% (27.3 bytes a token; here 24).
 * Slots [0, size) are used, in order; an insert or a removal moves the slots after it (callers that remove while
 * iterating collect first). A listing's new records come in one {@link merge}: sorted once, then merged with the
 * held ones in one pass.
 */
export class JtiTable {
  private slots: Uint32Array;
  private used = 0;

  constructor(capacity = 0) {
    this.slots = new Uint32Array(capacity * W);
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
    const i = this.lowerBound(words, kind);
    return i < this.used && this.compareAt(i, words, kind) === 0 ? i : -1;
  }

  /** Adds a jti not held (the caller has looked); returns its slot (the slots after it move up by one). */
  insert(words: Uint32Array, kind: number, exp: number, subjectId: number): number {
    const at = this.lowerBound(words, kind);
    if (this.used === this.capacity) this.resize(this.used + Math.max(MIN_GROWTH, Math.ceil(this.used * GROWTH)));
    const s = this.slots;
    if (at < this.used) s.copyWithin((at + 1) * W, at * W, this.used * W);
    const i = at * W;
    s[i] = words[0]!;
    s[i + 1] = words[1]!;
    s[i + 2] = words[2]!;
    s[i + 3] = words[3]!;
    s[i + 4] = exp;
    s[i + 5] = ((subjectId << 2) | kind) >>> 0;
    this.used++;
    return at;
  }

  /**
   * Adds `count` records given as slots (6 words each, in any order) in `batch`, none of them held: sorts them,
   * then merges them with the held slots into one array sized to fit. A jti given twice is added once, with the
   * later copy's expiry when the first's is unknown; `dropped` is told the subject word of every copy left out.
   */
  merge(batch: Uint32Array, count: number, dropped: (subjectWord: number) => void, unknownExp: number): void {
    if (count === 0) return;
    const order = sortedOrder(batch, count);
    const old = this.slots;
    const held = this.used;
    const next = new Uint32Array((held + count) * W);
    let o = 0;
    let n = 0;
    let b = 0;
    while (b < count) {
      const bi = order[b]! * W;
      while (o < held && compareSlots(old, o * W, batch, bi) < 0) copySlot(old, o++ * W, next, n++ * W);
      if (n > 0 && compareSlots(batch, bi, next, (n - 1) * W) === 0) {
        // the same jti twice in one listing (its layout-1 and layout-2 names while `store upgrade` runs)
        if (next[(n - 1) * W + 4] === unknownExp) next[(n - 1) * W + 4] = batch[bi + 4]!;
        dropped(batch[bi + 5]!);
      } else copySlot(batch, bi, next, n++ * W);
      b++;
    }
    if (o < held) next.set(old.subarray(o * W, held * W), n * W);
    n += held - o;
    this.slots = n * W === next.length ? next : next.slice(0, n * W);
    this.used = n;
  }

  isUsed(slot: number): boolean {
    return slot < this.used;
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
    for (let i = 0; i < this.used * W; i += W) if (s[i + 5]! >>> 2 === subjectId) n++;
    return n;
  }

  /** Copies a slot's jti words into `out`. */
  jti(slot: number, out: Uint32Array): void {
    out.set(this.slots.subarray(slot * W, slot * W + 4));
  }

  /** Empties a slot; the slots after it move down by one (iterate backwards, or collect first). */
  removeAt(slot: number): void {
    const s = this.slots;
    s.copyWithin(slot * W, (slot + 1) * W, this.used * W);
    this.used--;
    s.fill(EXP_EMPTY, this.used * W, this.used * W + W);
  }

  /** Gives memory back after many removals. */
  shrinkIfSparse(): void {
    if (this.capacity > MIN_GROWTH && this.used < this.capacity * 0.7) this.resize(this.used + Math.ceil(this.used * GROWTH));
  }

  /**
   * The first slot whose key is not below (words, kind): where that jti is, or would go. The first word is
   * random, so its share of 2^32 says about where it sits (off by about the square root of the size): search
   * outwards from there by doubling steps, then halve within the last step; the slots read lie close together.
   */
  private lowerBound(words: Uint32Array, kind: number): number {
    const n = this.used;
    if (n === 0) return 0;
    const w0 = words[0]!;
    const guess = Math.floor((w0 * n) / 4294967296);
    let lo: number;
    let hi: number;
    if (this.below(guess, w0, words, kind)) {
      lo = guess + 1;
      let step = 1;
      while (lo + step <= n && this.below(lo + step - 1, w0, words, kind)) {
        lo += step;
        step *= 2;
      }
      hi = Math.min(n, lo + step - 1);
    } else {
      hi = guess;
      let step = 1;
      while (hi - step >= 0 && !this.below(hi - step, w0, words, kind)) {
        hi -= step;
        step *= 2;
      }
      lo = Math.max(0, hi - step + 1);
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.below(mid, w0, words, kind)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether the slot's key is below (words, kind). */
  private below(slot: number, w0: number, words: Uint32Array, kind: number): boolean {
    const v = this.slots[slot * W]!;
    return v < w0 || (v === w0 && this.compareAt(slot, words, kind) < 0);
  }

  private compareAt(slot: number, words: Uint32Array, kind: number): number {
    const s = this.slots;
    const i = slot * W;
    for (let k = 0; k < 4; k++) if (s[i + k] !== words[k]) return s[i + k]! < words[k]! ? -1 : 1;
    return (s[i + 5]! & 3) - kind;
  }

  private resize(capacity: number): void {
    const next = new Uint32Array(capacity * W);
    next.set(this.slots.subarray(0, this.used * W));
    this.slots = next;
  }
}

function copySlot(from: Uint32Array, fi: number, to: Uint32Array, ti: number): void {
  for (let k = 0; k < W; k++) to[ti + k] = from[fi + k]!;
}

/** Orders two slots (at word offsets) by jti words, then kind. */
function compareSlots(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  for (let k = 0; k < 4; k++) if (a[ai + k] !== b[bi + k]) return a[ai + k]! < b[bi + k]! ? -1 : 1;
  return (a[ai + 5]! & 3) - (b[bi + 5]! & 3);
}

/**
 * The batch's slot numbers in key order. A native numeric sort of (first word * 2^21 + slot number) does nearly
 * all the work (the first words are random: equal ones are rare); runs of an equal first word are then put in
 * order by the whole key.
 */
function sortedOrder(batch: Uint32Array, count: number): Uint32Array {
  if (count >= 1 << 21) return fullSort(batch, count);
  const keys = new Float64Array(count);
  for (let i = 0; i < count; i++) keys[i] = batch[i * W]! * 2097152 + i;
  keys.sort();
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = keys[i]! % 2097152;
  for (let i = 1; i < count; i++) {
    if (batch[order[i]! * W] !== batch[order[i - 1]! * W]) continue;
    let end = i + 1;
    while (end < count && batch[order[end]! * W] === batch[order[i]! * W]) end++;
    const run = Array.from(order.subarray(i - 1, end)).sort((x, y) => compareSlots(batch, x * W, batch, y * W));
    order.set(run, i - 1);
    i = end - 1;
  }
  return order;
}

function fullSort(batch: Uint32Array, count: number): Uint32Array {
  const order = Array.from({ length: count }, (_, i) => i).sort((x, y) => compareSlots(batch, x * W, batch, y * W));
  return Uint32Array.from(order);
}

/** Words per slot, for callers that build a {@link JtiTable.merge} batch. */
export const SLOT_WORDS = W;
