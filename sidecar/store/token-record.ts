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
   * without one, what the mirroring node stamped. Also in the record's name when above 0 (see {@link recordName}).
   */
  gen?: number;
}

/**
 * Identifies a record: the subject rides in its name, so listing a shard reveals whose tokens it holds, and so
 * does its logout generation when above 0 (a token without `lgn` is ordered against logouts by it).
 */
export interface RecordRef {
  jti: string;
  subject: string;
  gen?: number;
}

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

/** `<jti>~<base64url(subject)>[~<gen>]`: the record's name in both stores; the generation only when above 0. */
export function recordName(ref: RecordRef): string {
  const name = `${ref.jti}~${Buffer.from(ref.subject).toString('base64url')}`;
  return ref.gen ? `${name}~${ref.gen}` : name;
}

const GEN_SUFFIX = /^[1-9][0-9]{0,15}$/;

export function parseRecordName(name: string): RecordRef | undefined {
  const i = name.indexOf('~');
  if (i <= 0) return undefined;
  const jti = name.slice(0, i);
  let encoded = name.slice(i + 1);
  let gen: number | undefined;
  const j = encoded.indexOf('~');
  if (j >= 0) {
    const suffix = encoded.slice(j + 1);
    if (!GEN_SUFFIX.test(suffix)) return undefined;
    gen = Number(suffix);
    if (!Number.isSafeInteger(gen)) return undefined;
    encoded = encoded.slice(0, j);
  }
  if (!isValidJti(jti) || !/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  const subject = Buffer.from(encoded, 'base64url').toString();
  return gen === undefined ? { jti, subject } : { jti, subject, gen };
}

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
export function isRecordExpired(record: TokenRecord, now: number, skewMs: number): boolean {
  return record.expiresAt !== null && now > record.expiresAt + skewMs;
}

/** A record's (or ref's) identity alone: jti, subject and the generation its name carries. */
export function refOf(r: RecordRef): RecordRef {
  return r.gen ? { jti: r.jti, subject: r.subject, gen: r.gen } : { jti: r.jti, subject: r.subject };
}
