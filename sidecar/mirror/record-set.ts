import { kindOfJti, parseRecordName, type RecordRef } from '../store/token-record.js';
import {
  NameParts,
  decodeJti,
  shardOfPrefix,
  encodeJti,
  expiresAtOf,
  expWord,
  EXP_NEVER,
  EXP_UNKNOWN,
  KIND_LETTERS,
  fillFromRef,
  parseCompactName,
} from './compact-name.js';
import { JtiTable, SLOT_WORDS } from './jti-table.js';
import { SubjectPool } from './subject-pool.js';

/** What the mirror does beside holding a record: its caches and one-time index follow every add and removal. */
export interface RecordHooks {
  /** Told of every one-time record added, and of every record while {@link watching} says so. */
  added(jti: string, subject: () => string): void;
  /** Whether every add must be told (else a listing's records make no jti string nor closure each: less garbage). */
  watching(): boolean;
  removed(ref: RecordRef): void;
}

/**
 * Every live record the mirror holds, by shard. A record of a newJti-form jti (nearly all) takes one 24-byte
 * slot of its shard's {@link JtiTable} (jti bytes, expiry seconds, interned subject id and kind); its logout
 * generation, when above 0, sits in a Map beside it. A jti the application chose keeps its whole ref in a small
 * per-shard Map. Per shard rather than one table: a listing replaces one shard wholesale, which must touch that
 * shard's entries only.
 */
export class RecordSet {
  private readonly tables: JtiTable[];
  private readonly rare: Array<Map<string, RecordRef> | undefined>;
  readonly subjects = new SubjectPool();
  /** Generation above 0 of a table record, by jti. */
  private readonly gens = new Map<string, number>();
  private count = 0;
  /** Shards listed at least once, counted until the subject pool's estimate is made (see {@link noteListed}). */
  private readonly listed: Uint8Array;
  private listedCount = 0;
  private readonly parts = new NameParts();
  private readonly scratchWords = new Uint32Array(4);
  private marks = new Uint8Array(64);
  /** A listing's records not held yet, as table slots, merged in at the end of {@link applyShard}. */
  private batch: Uint32Array = new Uint32Array(64 * SLOT_WORDS);

  constructor(
    readonly shards: number,
    private readonly hooks: RecordHooks,
  ) {
    this.tables = Array.from({ length: shards }, () => new JtiTable());
    this.rare = new Array<Map<string, RecordRef> | undefined>(shards);
    this.listed = new Uint8Array(shards);
  }

  private get estimateAfter(): number {
    return Math.ceil(this.shards / 64);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes of the typed arrays (tables and subject pool), for stats. */
  get bytes(): number {
    return this.tables.reduce((sum, t) => sum + t.bytes, this.subjects.bytes);
  }

  /** A held record's ref (with the expiry its name gave), or undefined. */
  get(shard: number, jti: string): RecordRef | undefined {
    const table = this.tables[shard]!;
    if (jti.length === 24 && decodeJti(jti, 0, this.parts) >= 0) {
      const slot = table.find(this.parts.words, this.parts.kind);
      return slot < 0 ? undefined : this.refAt(table, slot, jti);
    }
    return this.rare[shard]?.get(jti);
  }

  /** The expiry word of a held record (see compact-name.ts), or -1 when not held; for the expiry check of a lookup. */
  expWord(shard: number, jti: string): number {
    if (jti.length === 24 && decodeJti(jti, 0, this.parts) >= 0) {
      const table = this.tables[shard]!;
      const slot = table.find(this.parts.words, this.parts.kind);
      return slot < 0 ? -1 : table.exp(slot);
    }
    const ref = this.rare[shard]?.get(jti);
    return ref === undefined ? -1 : expWordOf(ref);
  }

  has(shard: number, jti: string): boolean {
    return this.expWord(shard, jti) >= 0;
  }

  /** Adds a record not held; false when its jti is held already. */
  add(shard: number, ref: RecordRef): boolean {
    if (this.has(shard, ref.jti)) return false;
    if (fillFromRef(ref.jti, ref.subject, ref.gen ?? 0, ref.expiresAt, this.parts)) this.insertParts(shard, ref.jti);
    else this.addRare(shard, ref);
    return true;
  }

  /** Sets a held record's expiry (its record renamed to a name that says it). */
  setExpiry(shard: number, jti: string, expiresAt: number | null): void {
    if (jti.length === 24 && decodeJti(jti, 0, this.parts) >= 0) {
      const table = this.tables[shard]!;
      const slot = table.find(this.parts.words, this.parts.kind);
      if (slot >= 0) table.setExp(slot, expWord(expiresAt));
      return;
    }
    const ref = this.rare[shard]?.get(jti);
    if (ref) ref.expiresAt = expiresAt;
  }

  /** Removes a held record; its ref, or undefined when not held. */
  remove(shard: number, jti: string): RecordRef | undefined {
    if (jti.length === 24 && decodeJti(jti, 0, this.parts) >= 0) {
      const table = this.tables[shard]!;
      const slot = table.find(this.parts.words, this.parts.kind);
      if (slot < 0) return undefined;
      const ref = this.refAt(table, slot, jti);
      this.removeSlot(table, slot, jti);
      this.hooks.removed(ref);
      return ref;
    }
    const ref = this.rare[shard]?.get(jti);
    if (ref === undefined) return undefined;
    this.rare[shard]!.delete(jti);
    this.count--;
    this.hooks.removed(ref);
    return ref;
  }

  /**
   * Makes a shard hold exactly the records `names` lists (names of other shards, or not records at all, are
   * skipped): the held ones are recognised from their names' fixed-size parts, without decoding subjects; the
   * new ones are gathered into one batch and merged into the table at the end (one sort, one copy).
   */
  applyShard(shard: number, names: readonly string[], shardOfJti: (jti: string) => number): void {
    const table = this.tables[shard]!;
    if (this.marks.length < table.size) this.marks = new Uint8Array(Math.ceil(table.size * 1.5));
    const marks = this.marks;
    marks.fill(0, 0, table.size);
    let marked = 0;
    const rare = this.rare[shard];
    const rareSeen = rare && rare.size > 0 ? new Set<string>() : undefined;
    let batched = 0;
    let told: Map<string, number> | undefined;
    const p = this.parts;
    for (const name of names) {
      let ref: RecordRef | undefined;
      if (parseCompactName(name, p)) {
        if (shardOfPrefix(name, 24, this.shards) !== shard) continue;
      } else {
        ref = parseRecordName(name);
        if (!ref || shardOfJti(ref.jti) !== shard) continue;
        if (!fillFromRef(ref.jti, ref.subject, ref.gen ?? 0, ref.expiresAt, p)) {
          rareSeen?.add(ref.jti);
          const held = rare?.get(ref.jti);
          if (!held) this.addRare(shard, ref);
          else if (held.expiresAt === undefined && ref.expiresAt !== undefined) held.expiresAt = ref.expiresAt;
          continue;
        }
      }
      const slot = table.find(p.words, p.kind);
      if (slot >= 0) {
        if (marks[slot] === 0) marked++;
        marks[slot] = 1;
        // a record renamed by `store upgrade` is listed under its layout-2 name: take the expiry it gives
        if (p.exp !== EXP_UNKNOWN && table.exp(slot) === EXP_UNKNOWN) table.setExp(slot, p.exp);
        continue;
      }
      const id = this.subjects.acquire(p.subject, p.subjectLength);
      if ((batched + 1) * SLOT_WORDS > this.batch.length) this.batch = grownBatch(this.batch, batched + 1);
      const batch = this.batch;
      const b = batched++ * SLOT_WORDS;
      batch[b] = p.words[0]!;
      batch[b + 1] = p.words[1]!;
      batch[b + 2] = p.words[2]!;
      batch[b + 3] = p.words[3]!;
      batch[b + 4] = p.exp;
      batch[b + 5] = ((id << 2) | p.kind) >>> 0;
      if (this.mustTell()) {
        const jti = ref?.jti ?? name.slice(0, 24);
        (told ??= new Map()).set(jti, id);
        if (p.gen > 0) this.gens.set(jti, p.gen);
      }
    }
    if (marked !== table.size) this.removeUnmarked(shard, table);
    if (rare && rareSeen) for (const jti of [...rare.keys()]) if (!rareSeen.has(jti)) this.remove(shard, jti);
    const before = table.size;
    table.merge(this.batch, batched, (word) => this.subjects.release(word >>> 2), EXP_UNKNOWN);
    this.count += table.size - before;
    if (batched > 4096) this.batch = new Uint32Array(64 * SLOT_WORDS); // a big listing's batch is not kept
    const subjects = this.subjects;
    for (const [jti, id] of told ?? []) this.hooks.added(jti, () => subjects.subject(id));
    if (this.listedCount < this.estimateAfter && this.listed[shard] === 0) this.noteListed(shard);
  }

  /**
   * Once a 64th of the shards has been listed the first time (the initial load; shards hold alike, jtis being
   * random), sizes the subject pool for all of them: one rehash instead of one per 1.5x of growth.
   */
  private noteListed(shard: number): void {
    this.listed[shard] = 1;
    if (++this.listedCount !== this.estimateAfter || this.shards < 64) return;
    const estimate = (this.subjects.size * this.shards) / this.listedCount;
    if (estimate > 65_536) this.subjects.reserve(Math.ceil(estimate * 1.05));
  }

  /**
   * Removes every record of a shard whose name's expiry is before `nowSeconds` (the caller allows for the clock
   * skew); their refs.
   */
  expire(shard: number, nowSeconds: number): RecordRef[] {
    const table = this.tables[shard]!;
    const out: RecordRef[] = [];
    const jtis: string[] = [];
    for (let slot = 0; slot < table.size; slot++) {
      const exp = table.exp(slot);
      if (exp > EXP_UNKNOWN && exp !== EXP_NEVER && exp < nowSeconds) jtis.push(this.jtiAt(table, slot));
    }
    for (const [jti, ref] of this.rare[shard] ?? []) {
      const exp = expWordOf(ref);
      if (exp > EXP_UNKNOWN && exp !== EXP_NEVER && exp < nowSeconds) jtis.push(jti);
    }
    for (const jti of jtis) {
      const ref = this.remove(shard, jti);
      if (ref) out.push(ref);
    }
    if (jtis.length > 0) table.shrinkIfSparse();
    return out;
  }

  /** Every record of a shard. */
  *entries(shard: number): IterableIterator<RecordRef> {
    const table = this.tables[shard]!;
    for (let slot = 0; slot < table.size; slot++) if (table.isUsed(slot)) yield this.refAt(table, slot, this.jtiAt(table, slot));
    yield* this.rare[shard]?.values() ?? [];
  }

  /** A subject's records: one pass over the tables' subject words, a ref made for its records only. */
  *entriesOf(subject: string): IterableIterator<RecordRef> {
    const id = this.subjects.find(subject);
    for (let shard = 0; id >= 0 && shard < this.shards; shard++) {
      const table = this.tables[shard]!;
      for (let slot = 0; slot < table.size; slot++)
        if (table.isUsed(slot) && table.subjectId(slot) === id) yield this.refAt(table, slot, this.jtiAt(table, slot));
    }
    for (const rare of this.rare) if (rare) for (const ref of rare.values()) if (ref.subject === subject) yield ref;
  }

  /** How many records a subject holds: one pass over the tables' subject words, no string made per record. */
  countOf(subject: string): number {
    let n = 0;
    const id = this.subjects.find(subject);
    if (id >= 0) for (const table of this.tables) n += table.countSubject(id);
    for (const rare of this.rare) if (rare) for (const ref of rare.values()) if (ref.subject === subject) n++;
    return n;
  }

  /** Inserts {@link parts}, a record of `jti` not held. */
  private insertParts(shard: number, jti: string): void {
    const p = this.parts;
    const id = this.subjects.acquire(p.subject, p.subjectLength);
    this.tables[shard]!.insert(p.words, p.kind, p.exp, id);
    this.count++;
    if (!this.mustTell()) return;
    if (p.gen > 0) this.gens.set(jti, p.gen);
    const subjects = this.subjects;
    this.hooks.added(jti, () => subjects.subject(id));
  }

  /** Whether the record in {@link parts} needs its jti string kept or told (a generation, one-time, or watched). */
  private mustTell(): boolean {
    return this.parts.gen > 0 || this.parts.kind === ONETIME_KIND || this.hooks.watching();
  }

  private addRare(shard: number, ref: RecordRef): void {
    let rare = this.rare[shard];
    if (!rare) this.rare[shard] = rare = new Map();
    rare.set(ref.jti, ref);
    this.count++;
    this.hooks.added(ref.jti, () => ref.subject);
  }

  private removeSlot(table: JtiTable, slot: number, jti: string): void {
    this.subjects.release(table.subjectId(slot));
    if (this.gens.size > 0) this.gens.delete(jti);
    table.removeAt(slot);
    this.count--;
  }

  private removeUnmarked(shard: number, table: JtiTable): void {
    const gone: string[] = [];
    for (let slot = 0; slot < table.size; slot++) if (table.isUsed(slot) && this.marks[slot] === 0) gone.push(this.jtiAt(table, slot));
    for (const jti of gone) this.remove(shard, jti);
    table.shrinkIfSparse();
  }

  private jtiAt(table: JtiTable, slot: number): string {
    table.jti(slot, this.scratchWords);
    return encodeJti(new Uint8Array(this.scratchWords.buffer), table.kind(slot));
  }

  private refAt(table: JtiTable, slot: number, jti: string): RecordRef {
    const ref: RecordRef = { jti, subject: this.subjects.subject(table.subjectId(slot)) };
    const gen = this.gens.size > 0 ? this.gens.get(jti) : undefined;
    if (gen) ref.gen = gen;
    const expiresAt = expiresAtOf(table.exp(slot));
    if (expiresAt !== undefined) ref.expiresAt = expiresAt;
    return ref;
  }
}

/** The table's kind code of a one-time jti (`o.`, see KIND_LETTERS). */
const ONETIME_KIND = KIND_LETTERS.indexOf('o');

/** A batch array with room for `slots` slots (grown by half, copied). */
function grownBatch(batch: Uint32Array, slots: number): Uint32Array {
  const next = new Uint32Array(Math.max(slots, Math.ceil((batch.length / SLOT_WORDS) * 1.5)) * SLOT_WORDS);
  next.set(batch);
  return next;
}

function expWordOf(ref: RecordRef): number {
  return expWord(ref.expiresAt);
}

/** Whether a jti is of the one-time kind, from its name alone. */
export function isOnetime(jti: string): boolean {
  return kindOfJti(jti) === 'onetime';
}
