import { isIP } from 'node:net';
import { BadRequestError } from '../errors/bad-request-error.js';
import { parseDuration } from '../config/duration.js';
import { TOKEN_KINDS, type TokenKind, type TokenRecord } from '../store/token-record.js';
import type { IssueRequest } from '../service/token-service.js';

/** Parsed request bodies: anything not of the documented shape is a 400 naming the field. */

type Json = Record<string, unknown>;

export function asObject(body: unknown): Json {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('the body must be a JSON object');
  return body as Json;
}

function optionalString(body: Json, field: 'clientIp', max = 4096): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new BadRequestError(`${field} must be a string`, `request.${field}`);
  if (value.length > max) throw new BadRequestError(`${field} is longer than ${max} characters`, `request.${field}`);
  return value;
}

export function clientIpField(body: Json): string | undefined {
  const ip = optionalString(body, 'clientIp', 64);
  if (ip !== undefined && isIP(ip) === 0) throw new BadRequestError(`clientIp "${ip}" is not an IPv4 or IPv6 address`, 'request.clientIp');
  return ip;
}

export function tokenField(body: Json): string {
  const token = body.token;
  if (typeof token !== 'string' || token === '') throw new BadRequestError('token must be a non-empty string', 'request.token');
  return token;
}

const MAX_TTL_MS = 10 * 365 * 24 * 3600 * 1000;

function ttlField(body: Json): number | undefined {
  const ttl = body.ttl;
  if (ttl === undefined || ttl === null) return undefined;
  let ms: number;
  if (typeof ttl === 'number') {
    if (!Number.isFinite(ttl) || ttl <= 0) throw new BadRequestError(`ttl must be a positive number of seconds, got ${ttl}`, 'request.ttl');
    ms = ttl * 1000;
  } else if (typeof ttl === 'string') {
    try {
      ms = parseDuration(ttl);
    } catch {
      throw new BadRequestError(`ttl "${ttl.slice(0, 40)}" is not a duration (use 45s, 30m, 12h, 7d or seconds)`, 'request.ttl');
    }
    if (ms <= 0) throw new BadRequestError('ttl must be positive', 'request.ttl');
  } else {
    throw new BadRequestError('ttl must be seconds (a number) or a duration string', 'request.ttl');
  }
  if (ms > MAX_TTL_MS) throw new BadRequestError('ttl may be at most 10 years', 'request.ttl');
  if (ms < 1000) throw new BadRequestError('ttl must be at least one second', 'request.ttl');
  return ms;
}

const MAX_ATTRIBUTES = 32;

function attributesField(body: Json): TokenRecord['attributes'] {
  const attrs = body.attributes;
  if (attrs === undefined || attrs === null) return undefined;
  if (typeof attrs !== 'object' || Array.isArray(attrs)) {
    throw new BadRequestError('attributes must be an object of strings, numbers or booleans', 'request.attributes');
  }
  const entries = Object.entries(attrs as Json);
  if (entries.length > MAX_ATTRIBUTES) throw new BadRequestError(`at most ${MAX_ATTRIBUTES} attributes`, 'request.attributes');
  const out: NonNullable<TokenRecord['attributes']> = {};
  for (const [key, value] of entries) {
    if (key.length > 64) throw new BadRequestError('attribute names are at most 64 characters', 'request.attributes');
    // Assigning it would set the object's prototype: the attribute would vanish, and a reader merging attributes could be polluted.
    if (key === '__proto__') throw new BadRequestError('attribute name "__proto__" is not allowed', 'request.attributes');
    // JSON.parse reads 1e400 as Infinity, which the store's JSON would write as null: refuse rather than change it.
    const scalar = (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean' || value === null;
    if (typeof value === 'string' ? value.length > 1024 : !scalar) {
      const rule = 'must be a string (up to 1024 characters), finite number, boolean or null';
      throw new BadRequestError(`attribute "${key.slice(0, 64)}" ${rule}`, 'request.attributes');
    }
    out[key] = value as string | number | boolean | null;
  }
  return out;
}

export function parseIssue(body: Json): IssueRequest {
  const subject = body.subject;
  if (typeof subject !== 'string' || subject.trim() === '') {
    throw new BadRequestError('subject must be a non-empty string', 'request.subject');
  }
  const kind = body.kind ?? 'session';
  if (typeof kind !== 'string' || !TOKEN_KINDS.includes(kind as TokenKind)) {
    throw new BadRequestError(`kind must be one of ${TOKEN_KINDS.join(', ')}`, 'request.kind');
  }
  return { subject, kind: kind as TokenKind, ttlMs: ttlField(body), clientIp: clientIpField(body), attributes: attributesField(body) };
}

export function parseKind(value: string | null): TokenKind | undefined {
  if (value === null || value === '') return undefined;
  if (!TOKEN_KINDS.includes(value as TokenKind)) throw new BadRequestError(`kind must be one of ${TOKEN_KINDS.join(', ')}`, 'request.kind');
  return value as TokenKind;
}

export function parseLimit(value: string | null, fallback = 100, max = 1000): number {
  if (value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new BadRequestError(`limit must be a whole number from 1 to ${max}`, 'request.limit');
  return n;
}

/** The last time isoOrNull wrote, and how: tokens issued within one second share their expiry. */
let lastIsoMs = NaN;
let lastIso = '';

export function isoOrNull(ms: number | null): string | null {
  if (ms === null) return null;
  if (ms !== lastIsoMs) {
    lastIso = new Date(ms).toISOString(); // throws (RangeError) for a time a Date cannot hold, before anything is remembered
    lastIsoMs = ms;
  }
  return lastIso;
}
