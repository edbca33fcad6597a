import type { TokensyncOptions } from './options.js';

/** The effective configuration as plain JSON data, secrets masked. */
export type OptionsDescription = TokensyncOptions;

export const REDACTED = '***';

/**
 * The effective configuration for people and logs (`config check --json`, the
 * startup line): a deep, JSON-safe copy with the ZooKeeper password replaced by
 * `"***"`. Absent optional settings are absent, not null.
 */
export function describeOptions(options: TokensyncOptions): OptionsDescription {
  const { zookeeper } = options.store;
  const masked: TokensyncOptions = {
    ...options,
    store: {
      ...options.store,
      zookeeper: {
        ...zookeeper,
        ...(zookeeper.auth && {
          auth: { scheme: zookeeper.auth.scheme, user: zookeeper.auth.user, password: REDACTED },
        }),
      },
    },
  };
  return JSON.parse(JSON.stringify(masked)) as OptionsDescription;
}
