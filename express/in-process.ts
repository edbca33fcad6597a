import { join, dirname, basename } from 'node:path';
import type { TokensyncOptions } from '../sidecar/config/options.js';
import { loadConfig } from '../sidecar/config/load-config.js';
import { Sidecar } from '../sidecar/sidecar.js';
import { parseIssue } from '../sidecar/http/requests.js';
import type { Logger } from '../sidecar/util/logger.js';
import type { Validation as ServiceValidation } from '../sidecar/service/token-service.js';
import type { IssuedToken, IssueOptions, LogoutResult, RevokeResult, Validation, ValidateOptions } from '../client/types.js';
import type { TokensyncBackend } from './backend.js';

export interface InProcessOptions {
  /** The same `.properties` file the cluster's sidecars use (store, secret, token settings). */
  config: string;
  /**
   * This process's `node.id` in the cluster: it must differ from every sidecar's, since it is a member of its
   * own (heartbeats, logout acknowledgements). @default the file's `node.id` + `-app`
   */
  nodeId?: string;
  /**
   * Where this process journals writes made while the store is unreachable; it must not be a sidecar's.
   * @default the file's `journal.dir` + `-<nodeId>`
   */
  journalDir?: string;
  /** Default: winston to stderr at the file's `log.level`, like the sidecar. */
  logger?: Logger;
}

/**
 * tokensync inside the application process: the store, the in-memory mirror fed by the store's notifications, the
 * journal and the token service a sidecar runs, without the sidecar's HTTP server. Validation is a lookup in
 * this process's memory (no sidecar hop); issuing, revoking and logging out write to the shared store like a
 * sidecar does, so sidecars and other in-process apps see them. Pass it as `client` to `tokensyncAuth()`.
 *
 * ```ts
 * const tokensync = await tokensyncInProcess({ config: '/etc/tokensync/tokensync.properties' });
 * app.use(tokensyncAuth({ client: tokensync }));
 * process.on('SIGTERM', () => void tokensync.close());
 * ```
 */
export class InProcessTokensync implements TokensyncBackend {
  private constructor(private readonly sidecar: Sidecar) {}

  /** Loads the properties file, opens the store and waits until the mirror holds every live token. */
  static async start(options: InProcessOptions): Promise<InProcessTokensync> {
    const loaded = await loadConfig(options.config);
    const base = loaded.options;
    const nodeId = options.nodeId ?? `${base.nodeId}-app`;
    const journalDir = options.journalDir ?? join(dirname(base.store.journalDir), `${basename(base.store.journalDir)}-${nodeId}`);
    const own: TokensyncOptions = { ...base, nodeId, store: { ...base.store, journalDir } };
    const sidecar = await Sidecar.start(own, { listen: false, ...(options.logger && { logger: options.logger }) });
    for (const warning of loaded.warnings) sidecar.logger.warn(warning);
    return new InProcessTokensync(sidecar);
  }

  /** This member's `node.id`. */
  get nodeId(): string {
    return this.sidecar.options.nodeId;
  }

  /** The cookie the tokens are set in (`authentication.token.cookie`). */
  get cookieName(): string {
    return this.sidecar.options.token.cookie;
  }

  /** `ok` when the store is connected and nothing waits in the journal; `degraded` otherwise. */
  health(): ReturnType<Sidecar['health']> {
    return this.sidecar.health();
  }

  async validate(token: string, options: ValidateOptions = {}): Promise<Validation> {
    return toValidation(await this.sidecar.service.validate(token, options.clientIp));
  }

  /** `validate`, but a one-time token is consumed in the store, as `GET /v1/auth` does: at most one request through on it. */
  async authenticate(token: string, options: ValidateOptions = {}): Promise<Validation> {
    return toValidation(await this.sidecar.service.authenticate(token, options.clientIp));
  }

  async consume(token: string, options: ValidateOptions = {}): Promise<Validation> {
    return toValidation(await this.sidecar.service.consume(token, options.clientIp));
  }

  /** Checks the options as the HTTP API does: a bad one throws a `BadRequestError` (status 400) naming it. */
  async issue(subject: string, options: IssueOptions = {}): Promise<IssuedToken> {
    const request = parseIssue({ subject, ...options } as Parameters<typeof parseIssue>[0]);
    const issued = await this.sidecar.service.issue(request);
    return { ...issued, expiresAt: isoOrNull(issued.expiresAt) };
  }

  async revoke(jti: string): Promise<RevokeResult> {
    const { revoked, replicated } = await this.sidecar.service.revoke(jti);
    return { revoked, replicated: revoked ? replicated : true };
  }

  /** Revokes every token of `subject` on every node; waits (up to 3 s) for the members to acknowledge. */
  async logout(subject: string): Promise<LogoutResult> {
    const r = await this.sidecar.service.logout(subject);
    return {
      revoked: r.revoked,
      replicated: r.replicated,
      gen: r.gen,
      at: new Date(r.at).toISOString(),
      acknowledgedBy: r.acknowledged,
      notYetAcknowledgedBy: r.pending,
    };
  }

  /** Leaves the cluster and closes the store; journaled writes stay for the next start with the same journalDir. */
  close(): Promise<void> {
    return this.sidecar.close();
  }
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The service's verdict in the shape the HTTP API (and so the client) answers. */
function toValidation(result: ServiceValidation): Validation {
  if (!result.valid) return { valid: false, reason: result.reason, message: result.message };
  return {
    valid: true,
    subject: result.claims.sub,
    jti: result.claims.jti,
    kind: result.claims.knd,
    expiresAt: isoOrNull(result.expiresAt),
    ...(result.consumed !== undefined && { consumed: result.consumed }),
    ...(result.reissued && {
      reissued: {
        token: result.reissued.token,
        setCookie: result.reissued.setCookie,
        expiresAt: new Date(result.reissued.expiresAt).toISOString(),
      },
    }),
  };
}
