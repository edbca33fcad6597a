import type { AddressInfo } from 'node:net';
import type { TokensyncOptions } from './config/options.js';
import { describeOptions } from './config/describe-options.js';
import { createLogger, type Logger } from './util/logger.js';
import { systemClock, type Clock } from './util/clock.js';
import { Mirror } from './mirror/mirror.js';
import { assertStoreLoadable, createFallbackStore, createStore } from './store/create-store.js';
import { type MemberInfo, type TokenStore, hasCreateBatches } from './store/token-store.js';
import { Journal } from './store/journal.js';
import { CutoverStore } from './store/cutover-store.js';
import { Reaper } from './store/reaper.js';
import { TokenCodec } from './tokens/token-codec.js';
import { TokenPolicy } from './tokens/token-policy.js';
import { SecretReloader } from './tokens/secret-reloader.js';
import { createSecretFile, planSecret } from './preflight/secret-plan.js';
import { loadAdminToken } from './preflight/admin-token.js';
import { listenError } from './preflight/listen-check.js';
import { Membership } from './membership/membership.js';
import { PROBE_INTERVAL_MS } from './membership/propagation-probe.js';
import { Metrics } from './metrics/metrics.js';
import { WritePath } from './service/write-path.js';
import { TokenService } from './service/token-service.js';
import { HttpServer } from './http/http-server.js';
import { type ClusterView, type Health, clusterView, healthOf, serverProbe } from './cluster-view.js';
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

/** Everything a running sidecar is made of, built by {@link createSidecar}. */
export interface SidecarParts {
  options: TokensyncOptions;
  logger: Logger;
  clock: Clock;
  store: TokenStore;
  /** During a migration cutover: our store backed by the previous one; the service and the write path use it. */
  cutover: CutoverStore | undefined;
  mirror: Mirror;
  journal: Journal;
  writes: WritePath;
  codec: TokenCodec;
  service: TokenService;
  metrics: Metrics;
  http: HttpServer;
  reaper: Reaper;
  membership: Membership;
  secrets: SecretReloader;
}

/**
 * The composition root: builds store, mirror, journal, service, membership and the HTTP API, each given what
 * it needs at construction, then starts them in that order ({@link Sidecar.close} stops them in reverse).
 */
export async function createSidecar(options: TokensyncOptions, deps: SidecarDeps = {}): Promise<Sidecar> {
  const logger = deps.logger ?? createLogger({ level: options.log.level, nodeId: options.nodeId });
  const clock = deps.clock ?? systemClock;
  logger.info('tokensync starting', { version: VERSION, config: describeOptions(options) });
  await assertStoreLoadable(options);
  const keys = await loadOrCreateSecret(options, logger);
  const codec = new TokenCodec(keys, options.token.algorithm);
  logger.info('signing keys loaded', { kids: codec.kids, signing: codec.kids[0] });
  const adminToken = await loadAdminToken(options);

  const journal = new Journal(options.store.journalDir, logger);
  await journal.open();
  const store = await createStore(options, logger, clock, { receiptPrefix: journal.id });
  let cutover: CutoverStore | undefined;
  try {
    const fallback = await createFallbackStore(options, logger, clock);
    if (fallback) cutover = new CutoverStore(store, fallback, logger);
  } catch (err) {
    await store.close().catch(() => undefined);
    await journal.close().catch(() => undefined);
    throw err;
  }
  // what the service writes to and asks: our store, or during a cutover our store backed by the previous one
  const served = cutover ?? store;
  const mirror = new Mirror(() => store.shards, { clock, expirySkewMs: options.token.clockSkewMs });
  mirror.attach(store);
  store.on('error', (err) => logger.warn('store notification error', { error: err.message }));
  const writes = new WritePath(served, mirror, journal, clock, logger);
  const policy = new TokenPolicy(options.token, clock);
  const metrics = new Metrics(
    {
      mirrorSize: () => mirror.size,
      mirrorLagMs: () => mirror.lagMs,
      journalPending: () => journal.size,
      storeState: () => store.state,
      ...(hasCreateBatches(store) && { createBatches: () => store.createBatches }),
    },
    { clock, probeIntervalMs: PROBE_INTERVAL_MS },
  );
  const membership = new Membership({
    nodeId: options.nodeId,
    store,
    mirror,
    codec,
    clock,
    logger,
    inProcess: deps.listen === false,
    journalPending: () => journal.size,
    propagation: {
      measured: (op, member, ms) => metrics.propagated(op, member, ms),
      missed: (op, member) => metrics.propagationMissedBy(op, member),
      interval: (ms) => metrics.propagationInterval(ms),
    },
  });
  const secrets = new SecretReloader(options.token.secretFile, codec, logger, () => membership.keysChanged());
  const service = new TokenService({
    nodeId: options.nodeId,
    cookieName: options.token.cookie,
    outagePolicy: options.store.outagePolicy,
    store: served,
    mirror,
    codec,
    policy,
    writes,
    metrics,
    clock,
    logger,
    awaitMarker: async (subject, gen) => {
      // how long a logout took to reach every member, on this node's clock alone: the console's Live view shows it
      const started = clock.now();
      const acks = await membership.awaitMarker(subject, gen);
      metrics.logoutPropagated(clock.now() - started, acks.pending.length);
      return acks;
    },
  });
  const reaper = new Reaper(
    store,
    mirror,
    { intervalMs: options.store.reaperIntervalMs, ratePerSecond: options.store.reaperRate, clockSkewMs: options.token.clockSkewMs },
    clock,
    logger,
  );
  const view = {
    nodeId: options.nodeId,
    store,
    cutover,
    mirror,
    journal,
    reaper,
    report: () => membership.report(),
    outagePolicy: options.store.outagePolicy,
    probeServers: serverProbe(options, store),
  };
  let closed = false;
  const http = new HttpServer({
    service,
    metrics,
    logger,
    maxBodyBytes: options.sidecar.maxBodyBytes,
    trustedProxies: options.sidecar.trustedProxies,
    cookieName: options.token.cookie,
    adminToken: () => adminToken,
    ready: () => mirror.initialized && !closed,
    health: () => healthOf(view),
    cluster: (o) => clusterView(view, o),
  });
  const sidecar = new Sidecar(
    { options, logger, clock, store, cutover, mirror, journal, writes, codec, service, metrics, http, reaper, membership, secrets },
    () => (closed = true),
  );

  try {
    // Journaled writes from before a restart go back into the mirror before anything is served.
    writes.restore();
    await served.start({ watch: true });
    writes.kick();
    const { host, port } = options.sidecar.listen;
    if (deps.listen ?? true) {
      sidecar.address = membership.address = await http.listen(host, port).catch((err: unknown) => {
        throw listenError(err, host, port) ?? err;
      });
      if (!ipInRanges(host === 'localhost' ? '127.0.0.1' : host, ['127.0.0.0/8', '::1/128'])) {
        if (adminToken === undefined) {
          logger.warn(
            'the sidecar listens beyond loopback: anyone who can reach it can validate tokens; ' +
              'protect the admin endpoints with sidecar.admin.token.file',
            { host },
          );
        } else {
          logger.info(
            'the sidecar listens beyond loopback: anyone who can reach it can validate tokens; ' +
              'admin endpoints need the token in sidecar.admin.token.file',
            { host },
          );
        }
      }
    }
    reaper.start();
    membership.start();
    secrets.watch();
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

/**
 * One running sidecar: store, mirror, journal, reaper, membership and the HTTP API, as {@link createSidecar}
 * composed and started them. started -> closed.
 */
export class Sidecar {
  readonly options: TokensyncOptions;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly store: TokenStore;
  readonly mirror: Mirror;
  readonly journal: Journal;
  readonly writes: WritePath;
  readonly codec: TokenCodec;
  readonly service: TokenService;
  readonly metrics: Metrics;
  readonly http: HttpServer;
  readonly reaper: Reaper;
  readonly membership: Membership;
  address: AddressInfo | undefined;
  private readonly cutover: CutoverStore | undefined;
  private readonly secrets: SecretReloader;
  private closed = false;

  /** Use {@link createSidecar} (or {@link Sidecar.start}); `onClose` tells the parts that look at it (readiness). */
  constructor(
    parts: SidecarParts,
    private readonly onClose: () => void = () => undefined,
  ) {
    ({
      options: this.options,
      logger: this.logger,
      clock: this.clock,
      store: this.store,
      cutover: this.cutover,
      mirror: this.mirror,
      journal: this.journal,
      writes: this.writes,
      codec: this.codec,
      service: this.service,
      metrics: this.metrics,
      http: this.http,
      reaper: this.reaper,
      membership: this.membership,
      secrets: this.secrets,
    } = parts);
  }

  /** {@link createSidecar}. */
  static start(options: TokensyncOptions, deps: SidecarDeps = {}): Promise<Sidecar> {
    return createSidecar(options, deps);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  health(): Health {
    return healthOf(this);
  }

  memberInfo(): MemberInfo {
    return this.membership.report();
  }

  cluster(options: { digest?: boolean; servers?: boolean } = {}): Promise<ClusterView> {
    return clusterView(
      {
        nodeId: this.options.nodeId,
        store: this.store,
        cutover: this.cutover,
        mirror: this.mirror,
        journal: this.journal,
        reaper: this.reaper,
        report: () => this.membership.report(),
        outagePolicy: this.options.store.outagePolicy,
        probeServers: serverProbe(this.options, this.store),
      },
      options,
    );
  }

  /** Waits until every other live member reports the subject's logout generation applied (that one or a higher). */
  awaitMarker(subject: string, gen: number): Promise<{ acknowledged: string[]; pending: string[] }> {
    return this.membership.awaitMarker(subject, gen);
  }

  /** Reads the secret file again (SIGHUP); the file is also watched. */
  reloadSecret(): Promise<void> {
    return this.secrets.reload();
  }

  /** Idempotent. Stops serving, flushes what can be flushed, leaves the cluster. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    await this.membership.close();
    this.secrets.close();
    if (this.address) await this.http.close().catch(() => undefined);
    await this.reaper.close();
    this.writes.close();
    this.mirror.detach();
    await (this.cutover ?? this.store).close().catch((err) => this.logger.warn('store close failed', { error: String(err) }));
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
