import { type RecordLayout, type RecordRef, layout1Name, parseRecordName, recordName } from './token-record.js';

/** The command that converts a layout-1 store (named in the one line a sidecar logs on meeting one). */
export const UPGRADE_COMMAND = 'tokensync store upgrade';

/** `layoutVersion` of `/meta` or meta.json: absent is 1 (written before the field meant anything but 1). */
export function parseLayoutVersion(value: unknown, where: string): RecordLayout {
  if (value === undefined || value === 1) return 1;
  if (value === 2) return 2;
  throw new Error(`${where} says layoutVersion ${String(value)}; this tokensync understands 1 and 2`);
}

/**
 * The upgrade command for the store a properties file names, ready to paste (the path shell-quoted when it needs
 * it); without a file, the bare command, which takes the defaults as the sidecar did when run from the same folder.
 */
export function upgradeCommand(configFile: string | undefined): string {
  if (configFile === undefined) return UPGRADE_COMMAND;
  const quoted = /^[\w@%+=:,./-]+$/.test(configFile) ? configFile : `'${configFile.replaceAll("'", "'\\''")}'`;
  return `${UPGRADE_COMMAND} --config ${quoted}`;
}

/** The one line a sidecar logs (and `config check --connect` prints) when its store still has layout 1. */
export function layout1Notice(where: string, command: string = UPGRADE_COMMAND): string {
  return `${where} has layout 1 (record names without their expiry; the reaper reads every record); convert it while running with: ${command}`;
}

/**
 * The name to try first for a ref in a store of `layout`: the ref's own name when it speaks that layout, else
 * undefined (look the jti up in its shard's listing: a ref from a token's claims does not know the expiry).
 */
export function directName(ref: RecordRef, layout: RecordLayout): string | undefined {
  return (ref.expiresAt === undefined ? 1 : 2) === layout ? recordName(ref) : undefined;
}

/**
 * The name a shard listing holds for a jti, in either layout, when its subject and generation are the ref's (a
 * record is found by what its name says, expiry aside): during `store upgrade` a record may still have its layout-1
 * name, or already its layout-2 one.
 */
export function listedName(names: readonly string[], ref: RecordRef): string | undefined {
  const prefix = `${ref.jti}~`;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const listed = parseRecordName(name);
    if (listed?.jti === ref.jti && listed.subject === ref.subject && (listed.gen ?? 0) === (ref.gen ?? 0)) return name;
  }
  return undefined;
}

/**
 * A record's identity whatever its layout (its name without the expiry), for comparing two stores' listings: a
 * layout-1 store's name and a layout-2 store's name of one record have the same key. Undefined for a non-record.
 */
export function recordKey(name: string): string | undefined {
  const ref = parseRecordName(name);
  return ref && layout1Name(ref);
}
