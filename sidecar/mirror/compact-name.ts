/**
 * Record names taken apart into the fixed-size pieces the compact mirror keeps: a newJti-form jti as 16 bytes and
 * its kind, the subject as UTF-8 bytes, the generation, and the expiry as uint32 seconds (see {@link EXP_UNKNOWN}).
 * One reusable {@link NameParts} is filled per call, so a listing of thousands of names allocates nothing per name.
 */

/** Expiry words: 0 marks an empty table slot, 1 a layout-1 name (expiry unknown), all ones "never". */
export const EXP_EMPTY = 0;
export const EXP_UNKNOWN = 1;
export const EXP_NEVER = 0xffffffff;

export const MAX_SUBJECT_BYTES = 255;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Kind letters of newJti (`s.`, `a.`, `o.`), by the 2-bit code the table keeps. */
export const KIND_LETTERS = 'sao';

export class NameParts {
  readonly jti = new Uint8Array(16);
  /** The jti's bytes as four words (same memory as {@link jti}). */
  readonly words = new Uint32Array(this.jti.buffer);
  kind = 0;
  readonly subject = new Uint8Array(MAX_SUBJECT_BYTES);
  subjectLength = 0;
  gen = 0;
  exp = EXP_UNKNOWN;
}

/** The expiry word for an `expiresAt` in ms (null: never; undefined: unknown). Seconds 0 and 1 would read as empty/unknown. */
export function expWord(expiresAt: number | null | undefined): number {
  if (expiresAt === undefined) return EXP_UNKNOWN;
  if (expiresAt === null) return EXP_NEVER;
  return Math.min(EXP_NEVER - 1, Math.max(2, Math.ceil(expiresAt / 1000)));
}

/** The `expiresAt` (ms) an expiry word stands for. */
export function expiresAtOf(exp: number): number | null | undefined {
  return exp === EXP_UNKNOWN ? undefined : exp === EXP_NEVER ? null : exp * 1000;
}

/**
 * Decodes a newJti-form jti (`<s|a|o>.<22 base64url chars>`, 16 bytes) starting at `s[start]` into `out`: its kind
 * code, or -1 when it is not one (or not canonical: the last character's unused bits set, which would not
 * survive re-encoding).
 */
export function decodeJti(s: string, start: number, out: NameParts): number {
  const kind = KIND_LETTERS.indexOf(s[start] ?? '');
  if (kind < 0 || s.charCodeAt(start + 1) !== 46 /* . */) return -1;
  const bytes = out.jti;
  let p = start + 2;
  let b = 0;
  for (let group = 0; group < 5; group++) {
    const v = (sextet(s, p) << 18) | (sextet(s, p + 1) << 12) | (sextet(s, p + 2) << 6) | sextet(s, p + 3);
    if (v < 0) return -1;
    bytes[b++] = v >>> 16;
    bytes[b++] = (v >>> 8) & 0xff;
    bytes[b++] = v & 0xff;
    p += 4;
  }
  const hi = sextet(s, p);
  const lo = sextet(s, p + 1);
  if (hi < 0 || lo < 0 || (lo & 0x0f) !== 0) return -1;
  bytes[15] = (hi << 2) | (lo >>> 4);
  out.kind = kind;
  return kind;
}

function sextet(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c < 128 ? DECODE[c]! : -1;
}

/** shardOf (token-record.ts) of `s[0, length)`, without slicing it out of a record name. */
export function shardOfPrefix(s: string, length: number, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (shards - 1);
}

/** The jti string of 16 bytes and a kind code. */
export function encodeJti(bytes: Uint8Array, kind: number): string {
  return `${KIND_LETTERS[kind]}.${Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString('base64url')}`;
}

/**
 * Fills `out` from a record name of a newJti-form jti and a plain-ASCII subject, in either layout
 * (`<jti>~<b64>[~<gen>]`, `<jti>~<b64>~<gen>~<exp|->`). False for anything else: the caller then parses the name
 * the general way (parseRecordName), which decides whether it is a record at all.
 */
export function parseCompactName(name: string, out: NameParts): boolean {
  if (name.charCodeAt(24) !== 126 /* ~ */ || decodeJti(name, 0, out) < 0) return false;
  const t2 = name.indexOf('~', 25);
  const end = t2 < 0 ? name.length : t2;
  if (!decodeAsciiSubject(name, 25, end, out)) return false;
  if (t2 < 0) {
    out.gen = 0;
    out.exp = EXP_UNKNOWN;
    return true;
  }
  const t3 = name.indexOf('~', t2 + 1);
  const gen = decimal(name, t2 + 1, t3 < 0 ? name.length : t3);
  if (gen < 0) return false;
  if (t3 < 0) {
    if (gen === 0) return false; // layout 1 writes no generation 0
    out.gen = gen;
    out.exp = EXP_UNKNOWN;
    return true;
  }
  out.gen = gen;
  if (name.length === t3 + 2 && name.charCodeAt(t3 + 1) === 45 /* - */) {
    out.exp = EXP_NEVER;
    return true;
  }
  const exp = decimal(name, t3 + 1, name.length);
  if (exp < 0 || name.length - t3 - 1 > 13) return false;
  out.exp = expWord(exp * 1000);
  return true;
}

/** A canonical decimal (no leading zero) of at most 15 digits in s[from, to), or -1. */
function decimal(s: string, from: number, to: number): number {
  if (to <= from || to - from > 15 || (to - from > 1 && s.charCodeAt(from) === 48)) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** base64url in s[from, to) into out.subject, as Buffer.from(.., 'base64url') would; false unless every byte is printable ASCII. */
function decodeAsciiSubject(s: string, from: number, to: number, out: NameParts): boolean {
  const n = to - from;
  const bytes = Math.floor((n * 6) / 8);
  if (n === 0 || bytes === 0 || bytes > MAX_SUBJECT_BYTES) return false;
  const target = out.subject;
  let acc = 0;
  let bits = 0;
  let b = 0;
  for (let i = from; i < to; i++) {
    const v = sextet(s, i);
    if (v < 0) return false;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      const byte = (acc >>> bits) & 0xff;
      if (byte < 0x20 || byte > 0x7e) return false;
      target[b++] = byte;
    }
  }
  out.subjectLength = b;
  return true;
}

/** Fills `out` from a parsed ref's pieces; false when the jti is not of newJti form or the subject too long. */
export function fillFromRef(jti: string, subject: string, gen: number, expiresAt: number | null | undefined, out: NameParts): boolean {
  if (jti.length !== 24 || decodeJti(jti, 0, out) < 0) return false;
  const written = Buffer.from(out.subject.buffer, out.subject.byteOffset, MAX_SUBJECT_BYTES).write(subject, 'utf8');
  if (written === 0 || Buffer.byteLength(subject) !== written) return false;
  out.subjectLength = written;
  out.gen = gen;
  out.exp = expWord(expiresAt);
  return true;
}
