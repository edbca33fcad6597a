import { randomBytes } from 'node:crypto';
import { isGen } from './logout-marker.js';

export type TokenKind = 'session' | 'api' | 'onetime';
export const TOKEN_KINDS: readonly TokenKind[] = ['session', 'api', 'onetime'];

/**
 * What the store holds for one token. Never the token itself: read access to
 * the store must not let anyone log in. Records are immutable; revoking one
 * deletes it, so the set of record names is all a mirror needs.
 */
export interface TokenRecord {
  jti: string;
  subject: string;
  kind: TokenKind;
  /** First login, ms since the epoch. Reissued session tokens keep it. */
  issuedAt: number;
  /** When the record may be reaped (ms): the latest moment any token of this jti can be valid. `null` for api tokens. */
  expiresAt: number | null;
  /**
   * session tokens: the `exp` of the token as issued (ms), which a sliding reissue moves later, up to
   * {@link expiresAt}. Absent on records written before it was kept.
   */
  tokenExpiresAt?: number;
  /** node.id of the sidecar that issued (or mirrored) it. */
  node: string;
  /** Client address the token is bound to, when bound. */
  clientIp?: string;
  attributes?: Record<string, string | number | boolean | null>;
  /**
   * The subject's logout generation the issuing (or mirroring) node knew: the token's `lgn`, or for a token
   * without one, what the mirroring node stamped. Also in the record's name when above 0 (always in layout 2, see {@link recordName}).
   */
  gen?: number;
}

/**
 * Identifies a record: the subject rides in its name, so listing a shard reveals whose tokens it holds, and so
 * does its logout generation when above 0 (a token without `lgn` is ordered against logouts by it), and, in
 * layout 2, when it expires (so a notification alone tells a mirror, and the reaper, when to drop it).
 */
export interface RecordRef {
  jti: string;
  subject: string;
  gen?: number;
  /**
   * The record's `expiresAt` as its name says (ms; a multiple of 1000 when parsed from a layout-2 name, rounded
   * up from the record's): `null` never expires; `undefined` the name does not say (layout 1).
   */
  expiresAt?: number | null;
}

/**
 * How a store names its records (`/meta`'s and meta.json's `layoutVersion`; absent means 1):
 * 1: `<jti>~<b64 subject>[~<gen>]`; 2: `<jti>~<b64 subject>~<gen>~<exp>` (see {@link layout2Name}).
 */
export type RecordLayout = 1 | 2;
export const LATEST_LAYOUT: RecordLayout = 2;

const KIND_PREFIX: Record<TokenKind, string> = { session: 's', api: 'a', onetime: 'o' };
const PREFIX_KIND: Record<string, TokenKind> = { s: 'session', a: 'api', o: 'onetime' };

/** Longest subject accepted, in UTF-8 bytes; its base64url form must fit a file name. */
export const MAX_SUBJECT_BYTES = 128;
const JTI_PATTERN = /^[A-Za-z0-9_.-]{8,64}$/;

/**
 * A new jti: the kind's letter, a dot, then 128 random bits. The kind is in the
 * name so that "remove the subject's pending one-time token" and per-kind
 * counts work from child lists alone, without reading records.
 */
export function newJti(kind: TokenKind): string {
  return `${KIND_PREFIX[kind]}.${randomBytes(16).toString('base64url')}`;
}

/** The kind encoded in a jti made by {@link newJti}; undefined for a jti the application chose. */
export function kindOfJti(jti: string): TokenKind | undefined {
  return jti.length === 24 && jti.charCodeAt(1) === 46 /* . */ ? PREFIX_KIND[jti[0]!] : undefined;
}

export function isValidJti(jti: unknown): jti is string {
  return typeof jti === 'string' && JTI_PATTERN.test(jti);
}

export function isValidSubject(subject: unknown): subject is string {
  return (
    typeof subject === 'string' &&
    subject.length > 0 &&
    Buffer.byteLength(subject) <= MAX_SUBJECT_BYTES &&
    // control characters would make log lines and headers ambiguous
    !/[\u0000-\u001f\u007f]/.test(subject)
  );
}

/** Whether a ref can name a record at all (both stores answer "not there" for one that cannot). */
export function isValidRef(ref: RecordRef): boolean {
  return isValidJti(ref.jti) && isValidSubject(ref.subject);
}

/** Layout 1: `<jti>~<base64url(subject)>[~<gen>]`, the generation only when above 0. */
export function layout1Name(ref: RecordRef): string {
  const name = `${ref.jti}~${Buffer.from(ref.subject).toString('base64url')}`;
  return ref.gen ? `${name}~${ref.gen}` : name;
}

/**
 * Layout 2: `<jti>~<base64url(subject)>~<gen>~<exp>`, the generation always (`0` for none) and `exp` the
 * record's `expiresAt` in whole seconds, rounded up (never earlier than the record says), or `-` for a record
 * that never expires. Throws for a ref whose expiry is not known.
 */
export function layout2Name(ref: RecordRef): string {
  if (ref.expiresAt === undefined) throw new TypeError(`record ${ref.jti}: a layout-2 name needs its expiresAt`);
  const exp = ref.expiresAt === null ? '-' : String(Math.ceil(ref.expiresAt / 1000));
  return `${ref.jti}~${Buffer.from(ref.subject).toString('base64url')}~${ref.gen ?? 0}~${exp}`;
}

/**
 * A record's name in both stores. With `layout`, the name a store of that layout gives it; without, the name
 * the ref itself implies (layout 2 when its expiry is known): the inverse of {@link parseRecordName}.
 */
export function recordName(ref: RecordRef, layout?: RecordLayout): string {
  return (layout ?? (ref.expiresAt === undefined ? 1 : 2)) === 2 ? layout2Name(ref) : layout1Name(ref);
}

const GEN_1 = /^[1-9][0-9]{0,15}$/;
const GEN_2 = /^(?:0|[1-9][0-9]{0,15})$/;
const EXP_2 = /^(?:-|0|[1-9][0-9]{0,12})$/;
const ENCODED = /^[A-Za-z0-9_-]+$/;

/** Layout 1 or 2 names; undefined for anything else (a name that is not a record is skipped, never guessed at). */
export function parseRecordName(name: string): RecordRef | undefined {
  const parts = name.split('~', 5);
  if (parts.length < 2 || parts.length > 4) return undefined;
  const [jti, encoded, genText, expText] = parts as [string, string, string?, string?];
  if (!isValidJti(jti) || !ENCODED.test(encoded)) return undefined;
  let gen = 0;
  let expiresAt: number | null | undefined;
  if (expText !== undefined) {
    if (!GEN_2.test(genText!) || !EXP_2.test(expText)) return undefined;
    gen = Number(genText);
    expiresAt = expText === '-' ? null : Number(expText) * 1000;
  } else if (genText !== undefined) {
    if (!GEN_1.test(genText)) return undefined;
    gen = Number(genText);
  }
  if (!Number.isSafeInteger(gen)) return undefined;
  const ref: RecordRef = { jti, subject: Buffer.from(encoded, 'base64url').toString() };
  if (gen > 0) ref.gen = gen;
  if (expiresAt !== undefined) ref.expiresAt = expiresAt;
  return ref;
}

/**
 * Whether a record name's tail, from the `~` at `tilde` on, has the form {@link parseRecordName} accepts (syntax
 * only): the mirror checks this for names whose jti it holds already, without decoding the subject again.
 */
export function isRecordNameTail(name: string, tilde: number): boolean {
  RECORD_TAIL.lastIndex = tilde;
  return RECORD_TAIL.test(name);
}
const RECORD_TAIL = /~[A-Za-z0-9_-]+(?:~[1-9][0-9]{0,15}|~(?:0|[1-9][0-9]{0,15})~(?:-|0|[1-9][0-9]{0,12}))?$/y;

export function encodeSubject(subject: string): string {
  return Buffer.from(subject).toString('base64url');
}

export function decodeSubject(encoded: string): string | undefined {
  return /^[A-Za-z0-9_-]+$/.test(encoded) ? Buffer.from(encoded, 'base64url').toString() : undefined;
}

/**
 * The shard a jti lives in (FNV-1a over its characters). Cheap enough for the
 * validation hot path, stable across processes and languages.
 */
export function shardOf(jti: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < jti.length; i++) {
    h ^= jti.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (shards - 1);
}

/** Shard names are fixed-width hex so that they sort and page predictably. */
export function shardName(shard: number, shards: number): string {
  const width = Math.max(1, (shards - 1).toString(16).length);
  return shard.toString(16).padStart(width, '0');
}

export function parseRecord(text: string | Buffer): TokenRecord {
  const r = JSON.parse(text.toString()) as TokenRecord;
  if (!isValidJti(r.jti) || typeof r.subject !== 'string' || !TOKEN_KINDS.includes(r.kind) || (r.gen !== undefined && !isGen(r.gen))) {
    throw new Error('not a token record');
  }
  return r;
}

/** True once no token of this record can be valid any more, with the clock skew allowed for. */
export function isRecordExpired(record: Pick<TokenRecord, 'expiresAt'>, now: number, skewMs: number): boolean {
  return record.expiresAt !== null && now > record.expiresAt + skewMs;
}

/** {@link isRecordExpired} from a name alone: `undefined` when the name does not say (layout 1). */
export function isRefExpired(ref: RecordRef, now: number, skewMs: number): boolean | undefined {
  return ref.expiresAt === undefined ? undefined : ref.expiresAt !== null && now > ref.expiresAt + skewMs;
}

/**
 * A record's (or ref's) identity alone: jti, subject, and the generation and expiry its name carries. A record's
 * `expiresAt` is rounded up to whole seconds, as its layout-2 name says it; with `layout` 1, the expiry is left
 * out (the ref names the record as a layout-1 store does).
 */
export function refOf(r: RecordRef, layout: RecordLayout = 2): RecordRef {
  const ref: RecordRef = { jti: r.jti, subject: r.subject };
  if (r.gen) ref.gen = r.gen;
  if (layout === 2 && r.expiresAt !== undefined) ref.expiresAt = r.expiresAt === null ? null : Math.ceil(r.expiresAt / 1000) * 1000;
  return ref;
}
