import { type ConnectionState, isConnected } from './store/connection-state.js';
import type { MemberInfo, StoreDescription, TokenStore } from './store/token-store.js';
import type { Mirror, MirrorStats } from './mirror/mirror.js';
import type { Journal } from './store/journal.js';
import type { Reaper, SweepStats } from './store/reaper.js';
import type { CutoverStore, FallbackStats } from './store/cutover-store.js';
import { probeServers, type ServerStatus } from './store/zookeeper/zookeeper-servers.js';
import type { TokensyncOptions } from './config/options.js';
import { VERSION } from './version.js';

/** `GET /health`: `ok` while the store is connected and nothing waits in the journal (a type: it fits the server's open shape). */
export type Health = {
  status: 'ok' | 'degraded';
  store: ConnectionState;
  mirror: number;
  lagMs: number;
  journalPending: number;
};

/** `GET /v1/cluster`: this node, its stores, mirror, journal and reaper, and every live member's report. */
export interface ClusterView {
  node: string;
  version: string;
  store: StoreDescription & { state: ConnectionState };
  /** `cluster.store.outage.policy`: what validation does while the store is unreachable. */
  outagePolicy: 'serve-cached' | 'reject';
  /** ZOOKEEPER, with `?servers=1`: every server of the ensemble and its mode (asked with `srvr`). */
  servers?: ServerStatus[];
  /** During a migration cutover only: the previous store and what it did on this node. */
  fallback?: StoreDescription & { state: ConnectionState } & FallbackStats;
  mirror: MirrorStats & { digest?: { size: number; xor: string } };
  journalPending: number;
  reaper: SweepStats | null;
  /** Sorted by node id; this node is always listed, from its own report when the store could not list members. */
  members: MemberInfo[];
  /** Why the members could not be listed. */
  membersError?: string;
}

/** The parts a cluster view and the health line are read from. */
export interface ClusterParts {
  nodeId: string;
  store: TokenStore;
  /** During a migration cutover: our store backed by the previous one. */
  cutover: CutoverStore | undefined;
  mirror: Mirror;
  journal: Journal;
  reaper: Reaper;
  /** This node's own report, for when the store does not list it (yet). */
  report: () => MemberInfo;
  outagePolicy: 'serve-cached' | 'reject';
  /** ZOOKEEPER: asks every server of the ensemble for its mode; never throws. */
  probeServers?: () => Promise<ServerStatus[]>;
}

export function healthOf(p: Pick<ClusterParts, 'store' | 'mirror' | 'journal'>): Health {
  const connected = isConnected(p.store.state);
  return {
    status: connected && p.journal.size === 0 ? 'ok' : 'degraded',
    store: p.store.state,
    mirror: p.mirror.size,
    lagMs: p.mirror.lagMs,
    journalPending: p.journal.size,
  };
}

export async function clusterView(p: ClusterParts, options: { digest?: boolean; servers?: boolean } = {}): Promise<ClusterView> {
  let members: MemberInfo[] = [];
  let error: string | undefined;
  const servers = options.servers && p.probeServers ? p.probeServers() : undefined;
  try {
    members = await p.store.listMembers();
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  if (!members.some((m) => m.nodeId === p.nodeId)) members.push(p.report());
  return {
    node: p.nodeId,
    version: VERSION,
    store: { ...p.store.describe(), state: p.store.state },
    outagePolicy: p.outagePolicy,
    ...(servers && { servers: await servers }),
    ...(p.cutover ? { fallback: { ...p.cutover.fallback.describe(), state: p.cutover.fallback.state, ...p.cutover.stats } } : {}),
    mirror: { ...p.mirror.stats(), ...(options.digest ? { digest: p.mirror.digest() } : {}) },
    journalPending: p.journal.size,
    reaper: p.reaper.last ?? null,
    members: members.sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
    ...(error ? { membersError: error } : {}),
  };
}

/** For a ZOOKEEPER store: asks each server of the connect string for its mode (and which one holds our session). */
export function serverProbe(options: TokensyncOptions, store: TokenStore): (() => Promise<ServerStatus[]>) | undefined {
  const connect = options.store.zookeeper.connect;
  if (store.type !== 'ZOOKEEPER' || !connect) return undefined;
  // the ZooKeeper store's session id, read without knowing the concrete store (as `tokensync cluster status` does)
  return () => probeServers(connect.servers, { sessionId: (store as unknown as { sessionId?: string }).sessionId, timeoutMs: 500 });
}
