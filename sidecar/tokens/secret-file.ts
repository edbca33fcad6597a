import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { SecretError } from '../errors/secret-error.js';

/** One signing secret: `kid` names it in token headers without revealing it. */
export interface SigningKey {
  kid: string;
  key: KeyObject;
}

/** The shortest line accepted: 43 base64url characters carry 32 random bytes. */
export const MIN_SECRET_CHARS = 43;

/**
 * A fresh secret line: 48 random bytes in base64url (64 characters). The HMAC
 * key is the line's bytes as written, so an application that signs its own
 * tokens can simply read the line.
 */
export function generateSecretLine(): string {
  return randomBytes(48).toString('base64url');
}

/** Stable, non-reversible name of a secret (a hash prefix of it). */
export function kidOf(secret: string): string {
  return createHash('sha256').update('tokensync-kid\0').update(secret).digest('base64url').slice(0, 12);
}

/** Parses the secret file's text: one secret per line; blank lines and `#` comments skipped. The first line signs. */
export function parseSecrets(text: string, path = 'token_secret'): SigningKey[] {
  const keys: SigningKey[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.length < MIN_SECRET_CHARS || /\s/.test(line)) {
      throw new SecretError(
        `${path}: line ${i + 1} is too weak (${line.length} characters; each secret needs at least ${MIN_SECRET_CHARS} ` +
          `characters of randomness, one per line; create one with: tokensync secret generate)`,
        'secret.weak',
      );
    }
    keys.push({ kid: kidOf(line), key: createSecretKey(Buffer.from(line, 'utf8')) });
  }
  if (keys.length === 0) {
    throw new SecretError(`${path}: holds no secret (create one with: tokensync secret generate)`, 'secret.empty');
  }
  return keys;
}

/**
 * Reads the secret file, refusing one that group or others may read: anyone
 * who can read it can sign tokens for any subject.
 */
export async function readSecretFile(path: string): Promise<SigningKey[]> {
  let stat;
  try {
    stat = await fs.stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SecretError(
      code === 'ENOENT'
        ? `${path}: no secret file (create one with: tokensync secret generate --config <file>, or set authentication.token.secret.file)`
        : `${path}: cannot read the secret file (${code})`,
      code === 'ENOENT' ? 'secret.missing' : 'secret.unreadable',
    );
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new SecretError(
      `${path}: mode ${(stat.mode & 0o777).toString(8)} lets other users read the signing secret; run: chmod 600 ${path}`,
      'secret.permissions',
    );
  }
  return parseSecrets(await fs.readFile(path, 'utf8'), path);
}

/** Writes a secret file atomically with mode 0600. */
export async function writeSecretFile(path: string, lines: string[]): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(lines.join('\n') + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, path);
}
