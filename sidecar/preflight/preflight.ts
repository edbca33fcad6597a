import type { TokensyncOptions } from '../config/options.js';
import { TokensyncError } from '../errors/tokensync-error.js';
import { createFallbackStore } from '../store/create-store.js';
import { silentLogger } from '../util/logger.js';
import { readAdminToken } from './admin-token.js';
import { probeListen } from './listen-check.js';
import { planSecret } from './secret-plan.js';

/** One result of {@link preflight}: an `error` is something start-up refuses. */
export interface Finding {
  level: 'error' | 'warning' | 'info';
  message: string;
}

/**
 * The checks start-up makes beyond the properties file's values (the sidecar runs the same functions), made
 * without writing anything: the signing secret (present, mode, strength, or whether one would be created),
 * the admin token file, the listen address, the fallback store's properties file.
 */
export async function preflight(options: TokensyncOptions): Promise<Finding[]> {
  const findings: Finding[] = [];
  const refused = (err: unknown) => {
    if (!(err instanceof TokensyncError)) throw err;
    findings.push({ level: 'error', message: err.message });
  };

  await planSecret(options).then((plan) => {
    if (plan.action === 'create') {
      const why = 'a new single node on a DIRECTORY store nobody else uses';
      const message = `secret: none yet; the first start creates ${plan.path} (${why}); copy it to every node before starting them`;
      findings.push({ level: 'info', message });
    } else {
      const kids = plan.keys.map((k) => k.kid);
      const also = kids.length > 1 ? `, also accepting ${kids.slice(1).join(', ')}` : '';
      findings.push({ level: 'info', message: `secret: ${options.token.secretFile}, signing with ${kids[0]}${also}` });
    }
  }, refused);

  if (options.sidecar.adminTokenFile) {
    const file = options.sidecar.adminTokenFile;
    await readAdminToken(file).then(() => findings.push({ level: 'info', message: `admin token: ${file}` }), refused);
  }

  const { host, port } = options.sidecar.listen;
  const listen = await probeListen(host, port);
  if (listen.error) findings.push({ level: 'error', message: listen.error.message });
  if (listen.inUse) {
    const message =
      `sidecar.listen: ${host}:${port} is in use now (by this node's running sidecar?); ` + 'a second sidecar there would not start';
    findings.push({ level: 'warning', message });
  }

  // the previous store of a cutover must load too, or the sidecar will not start
  await createFallbackStore(options, silentLogger()).then((previous) => previous?.close(), refused);
  return findings;
}
