import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TokensyncOptions } from './config/options.js';
import { describeOptions } from './config/describe-options.js';
import { createLogger, type Logger } from './util/logger.js';
import { systemClock, type Clock } from './util/clock.js';
import { Mirror } from './mirror/mirror.js';
import { assertStoreLoadable, createFallbackStore, createStore } from './store/create-store.js';
import { type MemberInfo, type TokenStore, hasCreateBatches, hasWatchMode } from './store/token-store.js';
import { isConnected } from './store/connection-state.js';
import { Journal } from './store/journal.js';
import { Reaper } from './store/reaper.js';
import { TokenCodec } from './tokens/token-codec.js';
import { TokenPolicy } from './tokens/token-policy.js';
import { readSecretFile } from './tokens/secret-file.js';
import { createSecretFile, planSecret } from './preflight/secret-plan.js';
import { readAdminToken } from './preflight/admin-token.js';
import { listenError } from './preflight/listen-check.js';
import { KeyAgreementMonitor } from './membership/key-agreement-monitor.js';
import { StoreUnavailableError } from './errors/store-unavailable-error.js';
import { Metrics } from './metrics/metrics.js';
import { WritePath } from './service/write-path.js';
import { TokenService } from './service/token-service.js';
import { HttpServer } from './http/http-server.js';
import { ipInRanges } from './util/ip.js';
import { VERSION } from './version.js';

export interface SidecarDeps {
  logger?: Logger;
  clock?: Clock;
  /**
   * `false`: no HTTP server; the process validates through `sidecar.service` itself (the Express middleware's
   * in-process mode). It is still a cluster member (heartbeats, logout acknowledgements, reaper election).
   * @default true
   */
  listen?: boolean;
}

const HEARTBEAT_MS = 5_000;
/** How long a logout waits for every member to report the marker applied. */
const MARKER_ACK_TIMEOUT_MS = 3_000;

/**
 * One sidecar: store, mirror, journal, reaper, membership and the HTTP API,
 * started in that order and closed in reverse. latent -> started -> closed.
 */
export class Sidecar {
  private closed = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private secretWatcher: FSWatcher | undefined;
  /** The previous store during a migration cutover (`cluster.store.fallback.config`); no watches. */
  private fallback: TokenStore | undefined;
  private readonly startedAt: number;
  address: AddressInfo | undefined;
  /** Started with `listen: false` (the Express middleware's in-process mode): members list it as `in-process`. */
  private inProcess = false;
  /** Logs an error while a member signs or accepts other keys than the rest of the cluster. */
  private readonly keyAgreement: KeyAgreementMonitor;
  /** Publishes this member's report now (a heartbeat out of turn). */
  private beatNow: (() => void) | undefined;

  private constructor(
    readonly options: TokensyncOptions,
    readonly logger: Logger,
    readonly clock: Clock,
    readonly store: TokenStore,
    readonly mirror: Mirror,
    readonly journal: Journal,
    readonly writes: WritePath,
    readonly codec: TokenCodec,
    readonly service: TokenService,
    readonly metrics: Metrics,
    readonly http: HttpServer,
    readonly reaper: Reaper,
  ) {
    this.startedAt = clock.now();
    this.keyAgreement = new KeyAgreementMonitor(() => store.listMembers(), logger);
  }

  static async start(options: TokensyncOptions, deps: SidecarDeps = {}): Promise<Sidecar> {
    const logger = deps.logger ?? createLogger({ level: options.log.level, nodeId: options.nodeId });
    const clock = deps.clock ?? systemClock;
    logger.info('tokensync starting', { version: VERSION, config: describeOptions(options) });
    await assertStoreLoadable(options);
    const keys = await loadOrCreateSecret(options, logger);
    const codec = new TokenCodec(keys, options.token.algorithm);
    logger.info('signing keys loaded', { kids: codec.kids, signing: codec.kids[0] });

    const journal = new Journal(options.store.journalDir, logger);
    await journal.open();
    const store = await createStore(options, logger, clock, { receiptPrefix: journal.id });
    const mirror = new Mirror(() => store.shards, { clock });
    mirror.attach(store);
    store.on('error', (err) => logger.warn('store notification error', { error: err.message }));
    const writes = new WritePath(store, mirror, journal, clock, logger);
    const policy = new TokenPolicy(options.token, clock);
    const metrics = new Metrics({
      mirrorSize: () => mirror.size,
      mirrorLagMs: () => mirror.lagMs,
      journalPending: () => journal.size,
      storeState: () => store.state,
      ...(hasCreateBatches(store) && { createBatches: () => store.createBatches }),
    });
    const service = new TokenService({
      nodeId: options.nodeId,
      cookieName: options.token.cookie,
      outagePolicy: options.store.outagePolicy,
      store,
      mirror,
      codec,
      policy,
      writes,
      metrics,
      clock,
      logger,
      awaitMarker: (subject, gen) => self!.awaitMarker(subject, gen),
      fallback: () => self?.fallback,
    });
    const reaper = new Reaper(
      store,
      mirror,
      { intervalMs: options.store.reaperIntervalMs, ratePerSecond: options.store.reaperRate, clockSkewMs: options.token.clockSkewMs },
      clock,
      logger,
    );

    const adminToken = options.sidecar.adminTokenFile ? await readAdminToken(options.sidecar.adminTokenFile) : undefined;
    // Late-bound: the sidecar object is built after the server.
    let self: Sidecar | undefined;
    const http = new HttpServer({
      service,
      metrics,
      logger,
      maxBodyBytes: options.sidecar.maxBodyBytes,
      trustedProxies: options.sidecar.trustedProxies,
      cookieName: options.token.cookie,
      adminToken: () => adminToken,
      ready: () => mirror.initialized && !self?.isClosed,
      health: () => self!.health(),
      cluster: (o) => self!.cluster(o),
    });

    const sidecar = new Sidecar(options, logger, clock, store, mirror, journal, writes, codec, service, metrics, http, reaper);
    sidecar.inProcess = deps.listen === false;
    self = sidecar;
    try {
      // Journaled writes from before a restart go back into the mirror before anything is served.
      writes.restore();
      const fallback = await createFallbackStore(options, logger, clock);
      if (fallback) {
        sidecar.fallback = fallback;
        await fallback.start({ watch: false }).catch((err: unknown) => {
          throw new StoreUnavailableError(`fallback store (cluster.store.fallback.config): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        });
        logger.info('cutover: tokens unknown to our store are looked up in the fallback store, and our writes go there too', { fallback: fallback.describe() });
      }
      await store.start({ watch: true });
      writes.kick();
      const { host, port } = options.sidecar.listen;
      if (deps.listen ?? true) {
        sidecar.address = await http.listen(host, port).catch((err: unknown) => {
          throw listenError(err, host, port) ?? err;
        });
        if (!ipInRanges(host === 'localhost' ? '127.0.0.1' : host, ['127.0.0.0/8', '::1/128'])) {
          if (options.sidecar.adminTokenFile === undefined) {
            logger.warn('the sidecar listens beyond loopback: anyone who can reach it can validate tokens; protect the admin endpoints with sidecar.admin.token.file', { host });
          } else {
            logger.info('the sidecar listens beyond loopback: anyone who can reach it can validate tokens; admin endpoints need the token in sidecar.admin.token.file', { host });
          }
        }
      }
      reaper.start();
      sidecar.startHeartbeat();
      sidecar.watchSecret();
      logger.info('tokensync ready', {
        listen: sidecar.address ? `${sidecar.address.address}:${sidecar.address.port}` : 'in-process (no HTTP)',
        store: store.describe(),
        mirror: mirror.size,
      });
    } catch (err) {
      await sidecar.close().catch(() => undefined);
      throw err;
    }
    return sidecar;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  health(): { status: 'ok' | 'degraded'; store: string; mirror: number; lagMs: number; journalPending: number } {
    const connected = isConnected(this.store.state);
    return {
      status: connected && this.journal.size === 0 ? 'ok' : 'degraded',
      store: this.store.state,
      mirror: this.mirror.size,
      lagMs: this.mirror.lagMs,
      journalPending: this.journal.size,
    };
  }

  memberInfo(): MemberInfo {
    const a = this.address;
    return {
      nodeId: this.options.nodeId,
      address: a ? (a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`) : this.inProcess ? 'in-process' : '',
      version: VERSION,
      pid: process.pid,
      startedAt: this.startedAt,
      updatedAt: this.clock.now(),
      mirrorSize: this.mirror.size,
      mirrorLagMs: this.mirror.lagMs,
      state: this.store.state,
      storeType: this.store.type,
      ...(hasWatchMode(this.store) && this.store.recordWatchMode && { watch: this.store.recordWatchMode }),
      markers: this.mirror.recentMarkers(),
      signingKid: this.codec.kids[0]!,
      acceptedKids: [...this.codec.kids],
    };
  }

  async cluster(options: { digest?: boolean } = {}): Promise<unknown> {
    let members: MemberInfo[] = [];
    let error: string | undefined;
    try {
      members = await this.store.listMembers();
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (!members.some((m) => m.nodeId === this.options.nodeId)) members.push(this.memberInfo());
    return {
      node: this.options.nodeId,
      version: VERSION,
      store: { ...this.store.describe(), state: this.store.state },
      ...(this.fallback ? { fallback: { ...this.fallback.describe(), state: this.fallback.state, ...this.service.fallbackStats } } : {}),
      mirror: { ...this.mirror.stats(), ...(options.digest ? { digest: this.mirror.digest() } : {}) },
      journalPending: this.journal.size,
      reaper: this.reaper.last ?? null,
      members: members.sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
      ...(error ? { membersError: error } : {}),
    };
  }

  private startHeartbeat(): void {
    let publishing = false;
    let again = false;
    const beat = () => {
      if (this.closed || !isConnected(this.store.state)) return;
      // One publish in flight; a burst of markers collapses into one more.
      if (publishing) {
        again = true;
        return;
      }
      publishing = true;
      this.store
        .publishMember(this.memberInfo())
        .then(() => this.keyAgreement.check())
        .catch((err) => this.logger.debug('heartbeat failed', { error: String(err) }))
        .finally(() => {
          publishing = false;
          if (again) {
            again = false;
            beat();
          }
        });
    };
    this.beatNow = beat;
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
    this.store.on('state', (next) => {
      if (isConnected(next)) beat();
    });
    // Report an applied logout marker at once: a logout on another node is waiting for it.
    this.mirror.on('marker', () => beat());
  }

  /** Waits until every other live member reports the subject's logout generation applied (that one or a higher). */
  async awaitMarker(subject: string, gen: number): Promise<{ acknowledged: string[]; pending: string[] }> {
    const deadline = this.clock.now() + MARKER_ACK_TIMEOUT_MS;
    let pending: string[] = [];
    const acknowledged = new Set<string>([this.options.nodeId]);
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      let members: MemberInfo[];
      try {
        members = await this.store.listMembers();
      } catch {
        break;
      }
      pending = [];
      for (const m of members) {
        if (acknowledged.has(m.nodeId)) continue;
        if ((m.markers?.[subject] ?? -1) >= gen) acknowledged.add(m.nodeId);
        else pending.push(m.nodeId);
      }
      if (pending.length === 0 || this.clock.now() >= deadline || this.closed) break;
      await new Promise((r) => setTimeout(r, delay));
    }
    if (pending.length > 0) this.logger.warn('logout not yet acknowledged by every member', { pending });
    return { acknowledged: [...acknowledged].sort(), pending };
  }

  /** A rotated secret file takes effect without a restart (file watch, or SIGHUP via {@link reloadSecret}). */
  private watchSecret(): void {
    try {
      let timer: NodeJS.Timeout | undefined;
      // Watch the folder: rotation replaces the file by rename, which a watch on the old inode would miss.
      const name = basename(this.options.token.secretFile);
      this.secretWatcher = watch(dirname(this.options.token.secretFile), { persistent: false }, (_event, file) => {
        // The folder is usually <AppData>: ignore everything but the secret file (and its temp file during a rename).
        if (file && !file.startsWith(name)) return;
        clearTimeout(timer);
        timer = setTimeout(() => void this.reloadSecret(), 100);
      });
      this.secretWatcher.on('error', () => undefined);
    } catch (err) {
      this.logger.warn('cannot watch the secret file; send SIGHUP after rotating it', { error: String(err) });
    }
  }

  async reloadSecret(): Promise<void> {
    try {
      const keys = await readSecretFile(this.options.token.secretFile);
      const before = this.codec.kids.join(',');
      this.codec.setKeys(keys);
      if (before !== this.codec.kids.join(',')) {
        this.logger.info('signing keys reloaded', { kids: this.codec.kids, signing: this.codec.kids[0] });
        // the other members compare our key ids with theirs: tell them now
        this.keyAgreement.reset();
        this.beatNow?.();
      }
    } catch (err) {
      this.logger.error('secret file reload refused; keeping the previous keys', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Idempotent. Stops serving, flushes what can be flushed, leaves the cluster. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.secretWatcher?.close();
    if (this.address) await this.http.close().catch(() => undefined);
    await this.reaper.close();
    this.writes.close();
    this.mirror.detach();
    await this.store.close().catch((err) => this.logger.warn('store close failed', { error: String(err) }));
    await this.fallback?.close().catch((err) => this.logger.warn('fallback store close failed', { error: String(err) }));
    await this.journal.close().catch(() => undefined);
    this.logger.info('tokensync stopped');
  }
}

/**
 * Reads the secret file, or creates it on a brand-new single node (the "just run it" path) and says where;
 * {@link planSecret} refuses to create one for a node joining others.
 */
async function loadOrCreateSecret(options: TokensyncOptions, logger: Logger) {
  const plan = await planSecret(options);
  if (plan.action === 'use') return plan.keys;
  const keys = await createSecretFile(plan.path);
  logger.warn('created a new signing secret; copy this file to every node before starting them', { path: plan.path });
  return keys;
}
