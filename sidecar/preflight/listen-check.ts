import { createServer } from 'node:net';
import { ConfigError } from '../errors/config-error.js';
import { formatHostPort } from '../config/host-port.js';

const REASONS: Record<string, string> = {
  EADDRINUSE: 'is in use by another process (EADDRINUSE); stop it, or choose another port',
  EADDRNOTAVAIL: 'is not an address of this machine (EADDRNOTAVAIL); use 127.0.0.1, 0.0.0.0 or one of its addresses',
  EACCES: 'needs privileges this process lacks (EACCES); use a port above 1023',
  ENOTFOUND: 'names a host that does not resolve (ENOTFOUND)',
  EAI_AGAIN: 'names a host that does not resolve (EAI_AGAIN)',
};

/** Why the sidecar cannot listen where `sidecar.listen` says, as the one-line configuration error start-up stops with. */
export function listenError(err: unknown, host: string, port: number): ConfigError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === undefined ? undefined : REASONS[code];
  if (reason === undefined) return undefined;
  return new ConfigError('config.invalid', reason, { key: 'sidecar.listen', value: formatHostPort({ host, port }), cause: err });
}

/**
 * Binds `host:port` for a moment, as start-up will, and lets go at once. `undefined` when it could; the port
 * being in use is reported apart (`inUse`), since `config check` is run beside the sidecar that uses it.
 */
export async function probeListen(host: string, port: number): Promise<{ error?: ConfigError; inUse?: boolean }> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, resolve);
    });
    return {};
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return { inUse: true };
    const where = { key: 'sidecar.listen', value: formatHostPort({ host, port }) };
    const reason = String((err as Error).message);
    return { error: listenError(err, host, port) ?? new ConfigError('config.invalid', `cannot be listened on (${reason})`, where) };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
