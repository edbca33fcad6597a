import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TokensyncOptions } from '../config/options.js';
import { SecretError } from '../errors/secret-error.js';
import { storeUsage } from '../store/create-store.js';
import { generateSecretLine, readSecretFile, writeSecretFile, type SigningKey } from '../tokens/secret-file.js';

/** What start-up does about the signing secret: use the file, or create it (a brand-new single node only). */
export type SecretPlan = { action: 'use'; keys: SigningKey[] } | { action: 'create'; path: string };

const SECRET_KEY = 'authentication.token.secret.file';

/**
 * Decides, without writing anything, how a sidecar gets its signing secret. A secret is created only at the
 * default location of a node on a DIRECTORY store nobody else uses: a node that made its own secret while
 * joining others would refuse their tokens and they its tokens, one request in N behind a load balancer.
 *
 * @throws SecretError for every case the sidecar refuses (missing, unreadable, weak, readable by others).
 */
export async function planSecret(options: TokensyncOptions): Promise<SecretPlan> {
  const path = options.token.secretFile;
  try {
    return { action: 'use', keys: await readSecretFile(path) };
  } catch (err) {
    if (!(err instanceof SecretError) || err.code !== 'secret.missing') throw err;
  }
  const copyIt =
    `copy the cluster's token_secret from a running node (same content, mode 0600), or make it once with ` +
    `'tokensync secret generate --config <file>' and copy it to every node`;
  if (path !== join(options.appDataDir, 'token_secret')) {
    throw new SecretError(`${SECRET_KEY}: "${path}" does not exist; ${copyIt}`, 'secret.missing');
  }
  if (options.store.type === 'ZOOKEEPER') {
    throw new SecretError(
      `${path}: no secret file, and this node joins a ZOOKEEPER store whose members must all sign with one secret: ` +
        `${copyIt} (or set ${SECRET_KEY})`,
      'secret.missing',
    );
  }
  const usage = await storeUsage(options);
  if (usage && (usage.otherMembers.length > 0 || usage.hasRecords)) {
    const store = `the DIRECTORY store ${options.store.directoryPath}`;
    const why =
      usage.otherMembers.length > 0
        ? `other members (${usage.otherMembers.slice(0, 3).join(', ')}) use ${store}, whose tokens are all signed with one secret`
        : `${store} already holds tokens, signed with another secret`;
    throw new SecretError(`${path}: no secret file, and ${why}: ${copyIt} (or set ${SECRET_KEY})`, 'secret.missing');
  }
  return { action: 'create', path };
}

/** Carries out a `create` plan: a fresh secret file, mode 0600, in a folder only we may enter. */
export async function createSecretFile(path: string): Promise<SigningKey[]> {
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeSecretFile(path, [generateSecretLine()]);
  return readSecretFile(path);
}
