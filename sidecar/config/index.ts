export {
  DEFAULT_OPTIONS,
  type LogLevel,
  type LogOptions,
  type OutagePolicy,
  type SidecarOptions,
  type StoreOptions,
  type StoreType,
  type TokenAlgorithm,
  type TokenOptions,
  type TokensyncOptions,
  type ZooKeeperAuth,
  type ZooKeeperOptions,
} from './options.js';
export {
  loadConfig,
  parseProperties,
  type ConfigEnvironment,
  type LoadConfigOptions,
  type LoadedConfig,
  type ParsedConfig,
  type ParsePropertiesOptions,
} from './load-config.js';
export { KNOWN_KEYS, type ConfigKey, type KnownKey } from './keys.js';
export { describeOptions, REDACTED, type OptionsDescription } from './describe-options.js';
export { DURATION_FORMS, formatDuration, parseDuration } from './duration.js';
export { DEFAULT_ZOOKEEPER_PORT, formatConnectString, parseConnectString, type ConnectString } from './connect-string.js';
export { ConfigError, type ConfigErrorCode } from '../errors/config-error.js';
