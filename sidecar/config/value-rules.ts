import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { inspect } from 'node:util';
import { ConfigError } from '../errors/config-error.js';
import { parseConnectString, type ConnectString } from './connect-string.js';
import { formatDuration, parseDuration } from './duration.js';
import { parseHostPort, type HostPort } from './host-port.js';
import type { ZooKeeperAuth } from './options.js';

export interface ParseContext {
  /** Directory that relative paths are resolved against. */
  baseDir: string;
}

/**
 * How one key's text becomes a typed value. `parse` gets the trimmed, non-empty
 * text and throws a ConfigError without a key; the loader adds the key.
 */
export interface ValueRule<T> {
  /** What is allowed, in words, e.g. `a duration from 2s to 10m`. */
  allowed: string;
  parse(text: string, context: ParseContext): T;
  /** An empty value means "not set" (use the default) instead of an error. */
  emptyMeansUnset?: boolean;
}

export function duration(min: number, max = Number.MAX_SAFE_INTEGER, allowed = describeDurationRange(min, max)): ValueRule<number> {
  return {
    allowed,
    parse(text) {
      const ms = parseDuration(text);
      if (ms < min || ms > max) throw invalid(text, `is out of range (use ${allowed})`);
      return ms;
    },
  };
}

function describeDurationRange(min: number, max: number): string {
  if (max !== Number.MAX_SAFE_INTEGER) return `a duration from ${formatDuration(min)} to ${formatDuration(max)}`;
  return min === 1 ? 'a duration greater than 0' : `a duration of at least ${formatDuration(min)}`;
}

const TRUE_WORDS = ['true', 'yes', 'on', '1'];
const FALSE_WORDS = ['false', 'no', 'off', '0'];

export function boolean(): ValueRule<boolean> {
  return {
    allowed: 'true or false (also yes/no, on/off, 1/0)',
    parse(text) {
      const word = text.toLowerCase();
      if (TRUE_WORDS.includes(word)) return true;
      if (FALSE_WORDS.includes(word)) return false;
      throw invalid(text, 'is not a boolean (use true, false, yes, no, on, off, 1 or 0)');
    },
  };
}

/** One of `choices`, matched case-insensitively and returned as spelled in `choices`. */
export function oneOf<const C extends string>(noun: string, choices: readonly C[]): ValueRule<C> {
  const allowed = listInWords(choices);
  return {
    allowed,
    parse(text) {
      const choice = choices.find((candidate) => candidate.toLowerCase() === text.toLowerCase());
      if (choice === undefined) throw invalid(text, `is not ${noun} (use ${allowed})`);
      return choice;
    },
  };
}

export function powerOfTwo(min: number, max: number): ValueRule<number> {
  const allowed = `a power of two from ${min} to ${max}`;
  return {
    allowed,
    parse(text) {
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!(n >= min && n <= max && (n & (n - 1)) === 0)) throw invalid(text, `is not ${allowed}`);
      return n;
    },
  };
}

export function wholeNumber(min: number, max: number): ValueRule<number> {
  const allowed = `a whole number from ${min} to ${max}`;
  return {
    allowed,
    parse(text) {
      const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
      if (!(n >= min && n <= max)) throw invalid(text, `is not ${allowed}`);
      return n;
    },
  };
}

export function positiveNumber(): ValueRule<number> {
  const allowed = 'a number greater than 0';
  return {
    allowed,
    parse(text) {
      const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
      if (!(n > 0 && Number.isFinite(n))) throw invalid(text, `is not ${allowed}`);
      return n;
    },
  };
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 * 1024 };

/** Bytes, or binary kilobytes / megabytes with a `k` / `m` suffix (`16k`, `1m`). */
export function byteSize(min: number, max: number): ValueRule<number> {
  const allowed = `a size from ${formatSize(min)} to ${formatSize(max)}`;
  return {
    allowed,
    parse(text) {
      const match = /^(\d+)([km]?)$/i.exec(text);
      if (!match) throw invalid(text, `is not a size (use bytes, or a k or m suffix: 16384, 16k, 1m)`);
      const bytes = Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()];
      if (bytes < min || bytes > max) throw invalid(text, `is out of range (use ${allowed})`);
      return bytes;
    },
  };
}

export function formatSize(bytes: number): string {
  for (const [suffix, unit] of [
    ['m', 1024 * 1024],
    ['k', 1024],
  ] as const) {
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}

/** A file or directory path, resolved against the properties file's directory. */
export function path(): ValueRule<string> {
  return {
    allowed: 'a path (relative to the properties file)',
    emptyMeansUnset: true,
    parse(text, { baseDir }) {
      if (text.includes('\0')) throw invalid(text, 'is not a path (it contains a NUL character)');
      return resolve(baseDir, text);
    },
  };
}

// Starting with a letter or digit keeps ".", ".." and option-like names out:
// the id ends up in file names and znode names.
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const NODE_ID_ALLOWED = "1 to 253 letters, digits, '.', '_' or '-', starting with a letter or digit";

export function nodeId(): ValueRule<string> {
  return {
    allowed: NODE_ID_ALLOWED,
    parse(text) {
      if (!NODE_ID.test(text)) throw invalid(text, `is not a valid node id (use ${NODE_ID_ALLOWED})`);
      return text;
    },
  };
}

export function isValidNodeId(text: string): boolean {
  return NODE_ID.test(text);
}

// RFC 6265 cookie-name = RFC 2616 token: visible ASCII except separators.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const COOKIE_CHARS = "letters, digits and !#$%&'*+-.^_`|~";

export function cookieName(): ValueRule<string> {
  return {
    allowed: `a cookie name of ${COOKIE_CHARS}`,
    parse(text) {
      if (!COOKIE_NAME.test(text)) throw invalid(text, `is not a valid cookie name (use ${COOKIE_CHARS})`);
      return text;
    },
  };
}

export function connectString(): ValueRule<ConnectString> {
  return { allowed: 'host:port[,host:port...][/chroot]', parse: parseConnectString };
}

/** `host:port`, `[ipv6]:port`, or a port alone on loopback (the default host); port 0 asks the OS for a free one. */
export function listenAddress(): ValueRule<HostPort> {
  return {
    allowed: 'host:port, [IPv6]:port, or a port alone (listens on 127.0.0.1)',
    parse(text) {
      if (!/^\d+$/.test(text)) return parseHostPort(text, { minPort: 0 });
      try {
        return parseHostPort(`127.0.0.1:${text}`, { minPort: 0 });
      } catch (error) {
        // name the value as written, not the address made from it
        throw error instanceof ConfigError ? new ConfigError(error.code, error.problem, { value: text }) : error;
      }
    },
  };
}

const NO_ADDRESSES = 'none';

/** Comma-separated IP addresses or CIDR ranges; `none` for an empty list. */
export function addressList(): ValueRule<string[]> {
  const allowed = 'comma-separated IP addresses or CIDRs such as 10.0.0.0/8 or ::1, or none';
  return {
    allowed,
    parse(text) {
      if (text.toLowerCase() === NO_ADDRESSES) return [];
      return text.split(',').map((raw) => {
        const entry = raw.trim();
        if (entry === '') throw invalid(text, `has an empty entry between commas (use ${allowed})`);
        if (!isAddressOrCidr(entry)) throw invalid(entry, `is not an IP address or CIDR (use ${allowed})`);
        return entry;
      });
    },
  };
}

function isAddressOrCidr(entry: string): boolean {
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * `digest:user:password`; the password may contain ':'. Error messages never
 * show the value, since any part of it may be the password.
 */
export function digestAuth(): ValueRule<ZooKeeperAuth> {
  const allowed = 'digest:user:password';
  return {
    allowed,
    parse(text) {
      const [scheme, user = '', ...passwordParts] = text.split(':');
      const password = passwordParts.join(':');
      if (scheme.toLowerCase() !== 'digest') {
        throw hidden(`must start with "digest:" (use ${allowed}; value not shown)`);
      }
      if (user === '' || password === '') {
        throw hidden(`must have a non-empty user and password (use ${allowed}; value not shown)`);
      }
      return redactedAuth(user, password);
    },
  };
}

/**
 * Options get passed to loggers whole more often than anyone intends, so the
 * auth object keeps its password out of JSON and `util.inspect` by itself.
 * The password stays an ordinary property for the ZooKeeper client.
 */
function redactedAuth(user: string, password: string): ZooKeeperAuth {
  const auth: ZooKeeperAuth = { scheme: 'digest', user, password };
  const redacted = () => ({ scheme: auth.scheme, user: auth.user, password: '***' });
  Object.defineProperty(auth, 'toJSON', { value: redacted });
  Object.defineProperty(auth, inspect.custom, { value: redacted });
  return auth;
}

function listInWords(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

function invalid(value: string, problem: string): ConfigError {
  return new ConfigError('config.invalid', problem, { value });
}

function hidden(problem: string): ConfigError {
  return new ConfigError('config.invalid', problem);
}
