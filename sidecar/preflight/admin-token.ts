import { promises as fs } from 'node:fs';
import { SecretError } from '../errors/secret-error.js';
import type { TokensyncOptions } from '../config/options.js';

/** Shortest admin token accepted: anything shorter can be guessed over the network. */
export const MIN_ADMIN_TOKEN_CHARS = 16;

/**
 * Reads `sidecar.admin.token.file` the way start-up does (and `config check` repeats).
 * @throws SecretError `admin.unreadable` or `admin.weak`, naming the file and the key.
 */
export async function readAdminToken(path: string): Promise<string> {
  const text = await fs.readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    const reason = err.code ?? err.message;
    const message = `${path}: cannot read the admin token file (${reason}); fix or unset sidecar.admin.token.file`;
    throw new SecretError(message, 'admin.unreadable');
  });
  const token = text.trim();
  if (token.length < MIN_ADMIN_TOKEN_CHARS) {
    const rule = `the admin token must be at least ${MIN_ADMIN_TOKEN_CHARS} characters`;
    throw new SecretError(`${path}: ${rule} (sidecar.admin.token.file)`, 'admin.weak');
  }
  return token;
}

/** The admin token start-up protects the admin endpoints with: none when `sidecar.admin.token.file` is unset. */
export async function loadAdminToken(options: Pick<TokensyncOptions, 'sidecar'>): Promise<string | undefined> {
  return options.sidecar.adminTokenFile ? readAdminToken(options.sidecar.adminTokenFile) : undefined;
}
