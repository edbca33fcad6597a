import { ConfigError } from '../errors/config-error.js';
import { formatHostPort, parseHostPort } from './host-port.js';

/** A parsed ZooKeeper connect string. */
export interface ConnectString {
  /** `host:port` per server, IPv6 in brackets (`[::1]:2181`). */
  servers: string[];
  /** Normalized chroot: `/app` or `/app/sub`, without a trailing slash; `''` for none. */
  chroot: string;
}

export const DEFAULT_ZOOKEEPER_PORT = 2181;

const FORM = 'use host:port[,host:port...][/chroot]';

/**
 * Parses a ZooKeeper connect string.
 *
 * Accepts the standard form `zk1:2181,zk2:2181/app` and the per-host form
 * `zk1:2181/app,zk2:2181/app`, which people write by analogy with URLs but which
 * the C and Java clients would read as a chroot of `/app,zk2:2181/app`. The
 * per-host form needs the same chroot after every host. A port defaults to 2181.
 * Because commas separate hosts, a chroot cannot contain one.
 *
 * @throws ConfigError (`config.invalid`, value = `text`, no key)
 */
export function parseConnectString(text: string): ConnectString {
  const trimmed = text.trim();
  if (trimmed === '') throw invalid(text, `is empty (${FORM})`);

  const entries = trimmed.split(',').map((entry) => entry.trim());
  const servers: string[] = [];
  const chroots: (string | undefined)[] = [];
  for (const entry of entries) {
    if (entry === '') throw invalid(text, `has an empty server between commas (${FORM})`);
    const slash = entry.indexOf('/');
    const hostPort = slash < 0 ? entry : entry.slice(0, slash);
    chroots.push(slash < 0 ? undefined : normalizeChroot(entry.slice(slash), text));
    const server = formatHostPort(parseServer(hostPort, text));
    if (servers.some((known) => known.toLowerCase() === server.toLowerCase())) {
      throw invalid(text, `lists ${server} twice`);
    }
    servers.push(server);
  }
  return { servers, chroot: reconcileChroots(chroots, entries, text) };
}

/** The standard form every ZooKeeper client accepts: `h1:p1,h2:p2/chroot`. */
export function formatConnectString({ servers, chroot }: ConnectString): string {
  if (servers.length === 0) throw new RangeError('formatConnectString: no servers');
  return servers.join(',') + chroot;
}

function parseServer(hostPort: string, text: string) {
  try {
    return parseHostPort(hostPort, { defaultPort: DEFAULT_ZOOKEEPER_PORT, minPort: 1 });
  } catch (error) {
    if (!(error instanceof ConfigError) || hostPort === text.trim()) throw error;
    throw invalid(text, `has a bad server "${hostPort}": it ${error.problem}`);
  }
}

function reconcileChroots(chroots: (string | undefined)[], entries: string[], text: string): string {
  const given = chroots.filter((chroot): chroot is string => chroot !== undefined);
  const differing = given.find((chroot) => chroot !== given[0]);
  if (differing !== undefined) {
    throw invalid(text, `has differing chroots "${given[0]}" and "${differing}" (give one chroot, after the last host)`);
  }
  const onLastOnly = given.length === 1 && chroots.at(-1) !== undefined;
  if (given.length > 0 && given.length < chroots.length && !onLastOnly) {
    const first = entries[chroots.findIndex((chroot) => chroot !== undefined)];
    throw invalid(text, `has a chroot after "${first}" but not after every host (give it once, after the last host)`);
  }
  return given[0] ?? '';
}

// ZooKeeper's PathUtils.validatePath rejects these code points in any znode path.
const FORBIDDEN_IN_PATH = /[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/;

function normalizeChroot(raw: string, text: string): string {
  if (raw === '/') return '';
  const chroot = raw.endsWith('/') ? raw.slice(0, -1) : raw;
  const segments = chroot.split('/').slice(1);
  const bad = (why: string) => invalid(text, `has an invalid chroot "${raw}": ${why} (use /name or /name/name...)`);
  if (segments.includes('')) throw bad('empty segment');
  if (segments.some((segment) => segment === '.' || segment === '..')) throw bad('"." and ".." are not allowed');
  if (FORBIDDEN_IN_PATH.test(chroot)) throw bad('control or reserved characters');
  // ZooKeeper keeps /zookeeper for itself (quotas, config) and refuses writes there.
  if (segments[0] === 'zookeeper') throw bad('/zookeeper is reserved by ZooKeeper');
  return chroot;
}

function invalid(value: string, problem: string): ConfigError {
  return new ConfigError('config.invalid', problem, { value });
}
