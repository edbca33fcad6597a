/** The sidecar's admin API, same origin; the admin token lives in this tab's sessionStorage and in no URL. */

const TOKEN_KEY = 'tokensync-admin-token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** One API call; `token` overrides the stored one (the sign-in tries a token before keeping it). */
export async function api<T>(method: 'GET' | 'DELETE', path: string, token: string | null = storedToken()): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'error', referrerPolicy: 'no-referrer' });
  } catch {
    throw new ApiError(0, 'network', 'the sidecar does not answer');
  }
  if (res.status === 204) return undefined as T;
  const body = (await res.json().catch(() => undefined)) as { error?: string; message?: string } | undefined;
  if (!res.ok) throw new ApiError(res.status, body?.error ?? 'http', body?.message ?? `HTTP ${res.status}`);
  return body as T;
}

/** A path segment: a subject or jti as the API expects it in the path. */
export const segment = encodeURIComponent;

export interface TokenRecordView {
  jti: string;
  subject: string;
  kind: 'session' | 'api' | 'onetime';
  issuedAt: string;
  tokenExpiresAt?: string | null;
  retainedUntil: string | null;
  node: string;
  revokedByLogout?: boolean;
}

export interface TokenPage {
  items: TokenRecordView[];
  nextCursor: string | null;
}

export interface Member {
  nodeId: string;
  address: string;
  version: string;
  updatedAt: number;
  mirrorSize: number;
  mirrorLagMs: number;
  journalPending?: number;
  state: string;
  storeType: string;
  watch?: string;
}

export interface ZooKeeperServer {
  server: string;
  mode: string;
  version?: string;
  zxid?: string;
  connections?: number;
  ours?: boolean;
  note?: string;
}

export interface Cluster {
  node: string;
  version: string;
  store: { type: string; location: string; state: string; shards: number; server?: string };
  outagePolicy: 'serve-cached' | 'reject';
  servers?: ZooKeeperServer[];
  mirror: { size: number; lagMs: number; trusted: boolean; initialized: boolean };
  journalPending: number;
  members: Member[];
  membersError?: string;
}

export interface Stats {
  at: string;
  store: string;
  mirror: number;
  lagMs: number;
  journalPending: number;
  validations: { valid: number; refused: Record<string, number> };
  issued: Record<string, number>;
  revocations: { token: number; subject: number };
  lastLogout: { propagationMs: number; pending: number; at: string } | null;
  propagation: { intervalMs: number; windowMs: number; issue: OpPropagation; revoke: OpPropagation };
}

/** `GET /v1/stats` `propagation.issue` / `.revoke`: this node's probes, measured on its own clock. */
export interface OpPropagation {
  samples: number;
  p50Ms: number | null;
  maxMs: number | null;
  members: Record<string, { lastMs: number | null; at: string | null; missed: number }>;
}

export interface LogoutResult {
  revoked: number;
  replicated: boolean;
  gen: number;
  acknowledgedBy: string[];
  notYetAcknowledgedBy: string[];
}
