import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseLines } from 'dot-properties';
import { ConfigError } from '../errors/config-error.js';
import { formatDuration } from './duration.js';
import { isConfigKey, KEY_SPECS, type ConfigKey, type KeySpec, type KeyValue } from './keys.js';
import { DEFAULT_OPTIONS as D, type TokensyncOptions } from './options.js';
import { nearest } from './suggest.js';
import { isValidNodeId, type ParseContext } from './value-rules.js';

/** Where defaults that depend on the machine come from; tests pin them. */
export interface ConfigEnvironment {
  /** Default `node.id`. @default os.hostname() */
  hostname?: string;
  /** Resolves relative paths when there is no properties file. @default process.cwd() */
  cwd?: string;
}

export interface ParsePropertiesOptions {
  /** Directory relative paths are resolved against: the properties file's. @default env.cwd */
  baseDir?: string;
  /** Unknown keys are errors (`config check --strict`) instead of warnings. @default false */
  strict?: boolean;
  env?: ConfigEnvironment;
}

export interface LoadConfigOptions {
  /** Unknown keys are errors instead of warnings. @default false */
  strict?: boolean;
  env?: ConfigEnvironment;
}

export interface ParsedConfig {
  options: TokensyncOptions;
  /** One line each: unknown keys (with a suggestion), keys set twice. */
  warnings: string[];
}

export interface LoadedConfig extends ParsedConfig {
  /** Absolute path of the properties file, when there was one. */
  path?: string;
}

type ParsedValues = { [K in ConfigKey]?: KeyValue<K> };

/**
 * Reads a configuration file; without a path, every option takes its default.
 *
 * @throws ConfigError `config.unreadable` naming the path when the file cannot
 * be read, or whatever {@link parseProperties} throws.
 */
export async function loadConfig(path?: string, options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.env?.cwd ?? process.cwd();
  if (path === undefined) return parseProperties('', { ...options, baseDir: cwd });

  const absolute = resolve(cwd, path);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    throw new ConfigError('config.unreadable', `is not a readable configuration file (${describeFsError(error)})`, {
      value: absolute,
      cause: error,
    });
  }
  const parsed = parseProperties(text, { ...options, baseDir: dirname(absolute) });
  return { options: { ...parsed.options, configFile: absolute }, warnings: parsed.warnings, path: absolute };
}

/**
 * Parses the text of a Java-style properties file into validated options.
 *
 * Keys are case-sensitive, as in Java. Values are trimmed. An empty value is an
 * error, except for path keys, where it means "not set". Keys are checked in
 * file order and the first bad value throws; checks across keys (a connect
 * string for ZOOKEEPER, absolute lifetime against expiration) come after.
 *
 * @throws ConfigError `config.invalid` for a bad value, `config.missing` for a
 * required key, `config.unknown_key` for an unknown key when `strict`.
 */
export function parseProperties(text: string, options: ParsePropertiesOptions = {}): ParsedConfig {
  const cwd = options.env?.cwd ?? process.cwd();
  const context: ParseContext = { baseDir: resolve(cwd, options.baseDir ?? '.') };
  const warnings: string[] = [];
  const entries = readEntries(text, warnings);

  const values: ParsedValues = {};
  for (const [key, raw] of entries) {
    if (isConfigKey(key)) {
      const value = parseValue(key, raw, context);
      if (value !== undefined) (values as Record<ConfigKey, unknown>)[key] = value;
    } else {
      const suggestion = nearest(key, Object.keys(KEY_SPECS));
      const hint = suggestion === undefined ? '' : ` (did you mean ${JSON.stringify(suggestion)}?)`;
      if (options.strict) throw new ConfigError('config.unknown_key', `unknown key${hint}`, { key });
      warnings.push(`unknown key ${JSON.stringify(key)}${hint}`);
    }
  }

  const parsed = assemble(values, context, options.env?.hostname ?? D.nodeId);
  checkAcrossKeys(parsed, entries);
  return { options: parsed, warnings };
}

/** Key/value pairs in file order; a repeated key keeps its first position and its last value, as in Java. */
function readEntries(text: string, warnings: string[]): Map<string, string> {
  // A BOM from a Windows editor would otherwise become part of the first key.
  const lines = parseLines(text.replace(/^\uFEFF/, ''));
  const entries = new Map<string, string>();
  for (const line of lines) {
    if (!Array.isArray(line)) continue;
    const [key = '', value = ''] = line;
    if (entries.has(key)) warnings.push(`key ${JSON.stringify(key)} is set more than once; the last value is used`);
    entries.set(key, value);
  }
  return entries;
}

function parseValue(key: ConfigKey, raw: string, context: ParseContext): unknown {
  const spec: KeySpec<unknown> = KEY_SPECS[key];
  const text = raw.trim();
  if (text === '') {
    if (spec.emptyMeansUnset) return undefined;
    throw new ConfigError('config.invalid', `is empty (use ${spec.allowed}, or remove the line for the default: ${spec.default})`, {
      key,
      value: raw,
    });
  }
  try {
    return spec.parse(text, context);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Belt and braces: a secret key's rule already leaves the value out.
    if (spec.secret) throw new ConfigError(error.code, error.problem, { key });
    throw error.key === undefined ? error.withKey(key) : error;
  }
}

function assemble(v: ParsedValues, { baseDir }: ParseContext, hostname: string): TokensyncOptions {
  const appDataDir = v['app.data.dir'] ?? resolve(baseDir, D.appDataDir);
  const inAppData = (path: string) => resolve(appDataDir, path);
  const connect = v['cluster.store.zookeeper.connect'];
  const auth = v['cluster.store.zookeeper.auth'];
  const fallbackConfig = v['cluster.store.fallback.config'];
  const adminTokenFile = v['sidecar.admin.token.file'];

  return {
    nodeId: v['node.id'] ?? defaultNodeId(hostname),
    appDataDir,
    store: {
      type: v['cluster.store.type'] ?? D.store.type,
      directoryPath: v['cluster.store.directory.path'] ?? inAppData(D.store.directoryPath),
      zookeeper: {
        ...(connect && { connect }),
        sessionTimeoutMs: v['cluster.store.zookeeper.session.timeout'] ?? D.store.zookeeper.sessionTimeoutMs,
        ...(auth && { auth }),
        shards: v['cluster.store.zookeeper.shards'] ?? D.store.zookeeper.shards,
        writeBatch: v['cluster.store.zookeeper.write.batch'] ?? D.store.zookeeper.writeBatch,
        ...(v['cluster.store.zookeeper.resync.jitter'] !== undefined && { resyncJitterMs: v['cluster.store.zookeeper.resync.jitter'] }),
      },
      directoryShards: v['cluster.store.directory.shards'] ?? D.store.directoryShards,
      rescanIntervalMs: v['cluster.store.directory.rescan.interval'] ?? D.store.rescanIntervalMs,
      outagePolicy: v['cluster.store.outage.policy'] ?? D.store.outagePolicy,
      reaperIntervalMs: v['cluster.store.reaper.interval'] ?? D.store.reaperIntervalMs,
      reaperRate: v['cluster.store.reaper.rate'] ?? D.store.reaperRate,
      journalDir: v['cluster.store.journal.dir'] ?? inAppData(D.store.journalDir),
      ...(fallbackConfig && { fallbackConfig }),
    },
    token: {
      cookie: v['authentication.token.cookie'] ?? D.token.cookie,
      secretFile: v['authentication.token.secret.file'] ?? inAppData(D.token.secretFile),
      algorithm: v['authentication.token.algorithm'] ?? D.token.algorithm,
      expirationMs: v['authentication.token.expiration'] ?? D.token.expirationMs,
      sliding: v['authentication.token.sliding'] ?? D.token.sliding,
      absoluteLifetimeMs: v['authentication.token.absolute.lifetime'] ?? D.token.absoluteLifetimeMs,
      idleTimeoutMs: v['authentication.token.idle.timeout'] ?? D.token.idleTimeoutMs,
      onetimeExpirationMs: v['authentication.token.onetime.expiration'] ?? D.token.onetimeExpirationMs,
      requireConsistentIp: v['authentication.token.require.consistent.ip'] ?? D.token.requireConsistentIp,
      clockSkewMs: v['authentication.token.clock.skew'] ?? D.token.clockSkewMs,
    },
    sidecar: {
      listen: v['sidecar.listen'] ?? { ...D.sidecar.listen },
      ...(adminTokenFile && { adminTokenFile }),
      trustedProxies: v['sidecar.trusted.proxies'] ?? [...D.sidecar.trustedProxies],
      maxBodyBytes: v['sidecar.max.body'] ?? D.sidecar.maxBodyBytes,
    },
    log: { level: v['log.level'] ?? D.log.level },
  };
}

function defaultNodeId(hostname: string): string {
  if (isValidNodeId(hostname)) return hostname;
  throw new ConfigError(
    'config.invalid',
    `is the host name, which is not a valid node id (set node.id to ${KEY_SPECS['node.id'].allowed})`,
    { key: 'node.id', value: hostname },
  );
}

function checkAcrossKeys(options: TokensyncOptions, entries: Map<string, string>): void {
  if (options.store.type === 'ZOOKEEPER' && options.store.zookeeper.connect === undefined) {
    const key: ConfigKey = 'cluster.store.zookeeper.connect';
    throw new ConfigError('config.missing', `is required when cluster.store.type is ZOOKEEPER (use ${KEY_SPECS[key].allowed})`, { key });
  }

  const { expirationMs, absoluteLifetimeMs } = options.token;
  if (absoluteLifetimeMs < expirationMs) {
    const key: ConfigKey = 'authentication.token.absolute.lifetime';
    const written = entries.get(key)?.trim();
    const expiration = formatDuration(expirationMs);
    throw new ConfigError(
      'config.invalid',
      `${written === undefined ? '(the default) ' : ''}is shorter than authentication.token.expiration, ${expiration} ` +
        `(use at least ${expiration})`,
      { key, value: written ?? KEY_SPECS[key].default },
    );
  }
}

const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a parent is not a directory',
};

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return error instanceof Error ? error.message : String(error);
  return `${FS_REASONS[code] ?? 'cannot read'}, ${code}`;
}
