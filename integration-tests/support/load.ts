import { forEachBounded } from '../../sidecar/util/for-each-bounded.js';
import assert from 'node:assert/strict';
import type { SidecarProcess } from './sidecar-process.js';
import type { HttpResult } from './http.js';

/**
 * `TOKENSYNC_FULL=1` runs the fault and concurrency suites at full size (30 s outages, 1,000 one-time rounds...);
 * without it they run the reduced CI size, each file well under 90 s on two shared cores.
 */
export const FULL = process.env.TOKENSYNC_FULL === '1';

/** The CI figure, or the full one under `TOKENSYNC_FULL=1`. */
export function size<T>(ci: T, full: T): T {
  return FULL ? full : ci;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The claims of a JWT, unverified (tests read `jti` and `ath` from tokens they were given). */
export function claimsOf(token: string): { jti: string; sub: string; ath: number; lgn: number; exp?: number; iat: number } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

export type Op = 'validate' | 'issue' | 'revoke';

/** One answer that broke the rules of the run. */
export interface Anomaly {
  op: Op;
  node: string;
  phase: string;
  status: number | 'error';
  detail: string;
  at: number;
}

export interface OpCounts {
  tried: number;
  ok: number;
  /** By status ('error': no HTTP answer). */
  byStatus: Record<string, number>;
}

export interface IssuedToken {
  jti: string;
  token: string;
  node: string;
  replicated: boolean;
  at: number;
}

export interface LoadOptions {
  /** Concurrent loops of each kind. */
  validators: number;
  issuers: number;
  revokers: number;
  /** Tokens every node knows before the load starts: validated throughout, never revoked. */
  stable: IssuedToken[];
  /** Upper bound of operations of all kinds, whatever happens. */
  maxOps: number;
  /** Upper bound of the run. */
  maxMs: number;
  /** Subject prefix of issued tokens. */
  subject?: string;
  /**
   * What a validation of a stable token may answer besides 200 in a phase (e.g. 503 under the `reject` policy
   * while the ensemble is down); anything else is an anomaly.
   */
  allowValidation?: (status: number, node: SidecarProcess, phase: string) => boolean;
  /** What an issue or revocation may answer besides 201 / 204 in a phase. */
  allowWrite?: (op: 'issue' | 'revoke', status: number, node: SidecarProcess, phase: string) => boolean;
  /** Nodes that take requests (default: all). A node being killed is taken out by the test. */
  targets?: () => SidecarProcess[];
}

/**
 * Sustained validation, issuing and revoking against several sidecars, bounded in count and time, with a
 * ledger of what was acknowledged (so the test can check afterwards that nothing acknowledged was lost) and a
 * list of anomalies, each tagged with the phase the test had announced (`setPhase`).
 *
 * Validations use the stable tokens (every node knows them) and tokens issued during the run, each on the
 * node that issued it or, once replicated, on any node: what a load balancer without sticky sessions does.
 */
export class LoadRun {
  readonly counts: Record<Op, OpCounts> = {
    validate: { tried: 0, ok: 0, byStatus: {} },
    issue: { tried: 0, ok: 0, byStatus: {} },
    revoke: { tried: 0, ok: 0, byStatus: {} },
  };
  readonly anomalies: Anomaly[] = [];
  /** Acknowledged issues (201), by jti. */
  readonly issued = new Map<string, IssuedToken>();
  /** Acknowledged revocations (204), by jti. */
  readonly revoked = new Map<string, { node: string; at: number; replicated: boolean }>();
  /** Revocations sent without an answer (a node killed, a timeout): the token may or may not be revoked. */
  readonly revokeUnknown = new Set<string>();
  /**
   * Validations of a token issued on another node, answered 503 by a node that could not ask the store (so had
   * not seen the token): expected, counted apart from failures.
   */
  refusedWhileDisconnected = 0;
  /** Issued tokens waiting to be revoked by a revoker. */
  private readonly revocable: IssuedToken[] = [];
  /** Issued tokens kept valid: validated by the validators. */
  private readonly keepers: IssuedToken[] = [];
  private phaseName = 'start';
  private readonly phaseStarts: Array<{ name: string; at: number }> = [];
  private stopped = false;
  private ops = 0;
  private workers: Promise<void>[] = [];
  private startedAt = 0;
  private readonly deadline: number;

  constructor(
    private readonly nodes: SidecarProcess[],
    private readonly options: LoadOptions,
  ) {
    this.deadline = Date.now() + options.maxMs;
  }

  get phase(): string {
    return this.phaseName;
  }

  setPhase(name: string): void {
    this.phaseName = name;
    this.phaseStarts.push({ name, at: Date.now() });
  }

  /** Each phase announced and when it began (epoch ms, as an anomaly's `at`). */
  get phases(): ReadonlyArray<{ name: string; at: number }> {
    return this.phaseStarts;
  }

  get operations(): number {
    return this.ops;
  }

  /** Failed validations: stable or kept tokens refused, or not answered, where the rules did not allow it. */
  get validationsFailed(): number {
    return this.anomalies.filter((a) => a.op === 'validate').length;
  }

  start(): this {
    this.startedAt = Date.now();
    const loops: Array<() => Promise<void>> = [
      ...Array.from({ length: this.options.validators }, () => () => this.validateLoop()),
      ...Array.from({ length: this.options.issuers }, () => () => this.issueLoop()),
      ...Array.from({ length: this.options.revokers }, () => () => this.revokeLoop()),
    ];
    this.workers = loops.map((loop) => loop());
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }

  /** Resolves once `n` more operations have been answered (or the run ended): "under load" means load ran. */
  async waitForOps(n: number, timeoutMs = 30_000): Promise<void> {
    const target = this.ops + n;
    const until = Date.now() + timeoutMs;
    while (this.ops < target && !this.done() && Date.now() < until) await sleep(20);
  }

  summary(): Record<string, unknown> {
    return {
      ms: Date.now() - this.startedAt,
      operations: this.ops,
      validate: this.counts.validate,
      issue: this.counts.issue,
      revoke: this.counts.revoke,
      acknowledgedIssues: this.issued.size,
      acknowledgedRevocations: this.revoked.size,
      crossNodeRefusedWhileDisconnected: this.refusedWhileDisconnected,
      anomalies: this.anomalies.length,
    };
  }

  private done(): boolean {
    return this.stopped || this.ops >= this.options.maxOps || Date.now() > this.deadline;
  }

  private rand(n: number): number {
    return Math.floor(Math.random() * n);
  }

  private targets(): SidecarProcess[] {
    return this.options.targets?.() ?? this.nodes;
  }

  private pick(): SidecarProcess | undefined {
    const nodes = this.targets();
    return nodes.length === 0 ? undefined : nodes[this.rand(nodes.length)];
  }

  private count(op: Op, status: number | 'error', ok: boolean): void {
    const c = this.counts[op];
    c.tried++;
    if (ok) c.ok++;
    c.byStatus[String(status)] = (c.byStatus[String(status)] ?? 0) + 1;
    this.ops++;
  }

  private anomaly(op: Op, node: SidecarProcess, status: number | 'error', detail: string): void {
    this.anomalies.push({ op, node: node.spec.nodeId, phase: this.phaseName, status, detail: detail.slice(0, 300), at: Date.now() });
  }

  private async call(fn: () => Promise<HttpResult>): Promise<HttpResult | { status: 'error'; text: string; body: undefined }> {
    try {
      return await fn();
    } catch (err) {
      return { status: 'error', text: (err as Error).message, body: undefined };
    }
  }

  private async validateLoop(): Promise<void> {
    while (!this.done()) {
      const node = this.pick();
      if (!node) {
        await sleep(20);
        continue;
      }
      // a kept token: anywhere once replicated, else only where it was issued
      let t: IssuedToken | undefined;
      if (this.keepers.length > 0 && this.rand(2) === 0) {
        const k = this.keepers[this.rand(this.keepers.length)]!;
        if (k.replicated || k.node === node.spec.nodeId) t = k;
      }
      t ??= this.options.stable[this.rand(this.options.stable.length)]!;
      const res = await this.call(() => node.api.validate(t.token));
      const ok = res.status === 200;
      this.count('validate', res.status, ok);
      if (ok || (typeof res.status === 'number' && this.options.allowValidation?.(res.status, node, this.phaseName))) continue;
      // A token issued on another node that this node has not seen, while this node cannot ask the store (it waits a
      // moment for a reconnect first): 503, retry. It cannot know the token; a 401 for it would be a wrong answer.
      if (res.status === 503 && t.node !== node.spec.nodeId && !this.options.stable.includes(t)) {
        this.refusedWhileDisconnected++;
        continue;
      }
      this.anomaly('validate', node, res.status, `${t.jti} (from ${t.node}): ${res.text}`);
    }
  }

  private async issueLoop(): Promise<void> {
    const prefix = this.options.subject ?? 'load';
    while (!this.done()) {
      const node = this.pick();
      if (!node) {
        await sleep(20);
        continue;
      }
      const res = await this.call(() => node.api.issue({ subject: `${prefix}-${this.rand(200)}` }));
      const ok = res.status === 201;
      this.count('issue', res.status, ok);
      if (ok) {
        const t: IssuedToken = {
          jti: res.body.jti,
          token: res.body.token,
          node: node.spec.nodeId,
          replicated: res.body.replicated === true,
          at: Date.now(),
        };
        this.issued.set(t.jti, t);
        (this.rand(2) === 0 ? this.keepers : this.revocable).push(t);
      } else if (!(typeof res.status === 'number' && this.options.allowWrite?.('issue', res.status, node, this.phaseName))) {
        this.anomaly('issue', node, res.status, res.text);
      }
    }
  }

  private async revokeLoop(): Promise<void> {
    while (!this.done()) {
      const t = this.revocable.shift();
      if (!t) {
        await sleep(5);
        continue;
      }
      // a journaled token is known only where it was issued; a replicated one anywhere
      const node = t.replicated ? this.pick() : this.targets().find((n) => n.spec.nodeId === t.node);
      if (!node) {
        this.revocable.push(t);
        await sleep(20);
        continue;
      }
      const res = await this.call(() => node.api.revoke(t.jti));
      const ok = res.status === 204;
      this.count('revoke', res.status, ok);
      if (ok)
        this.revoked.set(t.jti, {
          node: node.spec.nodeId,
          at: Date.now(),
          replicated: (res as HttpResult).headers['x-replicated'] === 'true',
        });
      else {
        if (res.status === 'error') this.revokeUnknown.add(t.jti);
        else this.revocable.push(t); // refused: try again later, elsewhere
        if (!(typeof res.status === 'number' && this.options.allowWrite?.('revoke', res.status, node, this.phaseName))) {
          this.anomaly('revoke', node, res.status, `${t.jti} (from ${t.node}, replicated ${t.replicated}): ${res.text}`);
        }
      }
    }
  }
}

export interface LedgerCheck {
  issuesChecked: number;
  revocationsChecked: number;
  /** Acknowledged issues not valid somewhere (must be 0). */
  issuesLost: string[];
  /** Acknowledged revocations valid somewhere (must be 0). */
  revocationsLost: string[];
}

/**
 * Nothing acknowledged is lost: every acknowledged issue that was not revoked validates on every node, every
 * acknowledged revocation is refused on every node. Tokens whose revocation went unanswered are skipped.
 */
export async function checkLedger(
  nodes: SidecarProcess[],
  issued: Iterable<IssuedToken>,
  revoked: Set<string> | Map<string, unknown>,
  unknown: Set<string> = new Set(),
): Promise<LedgerCheck> {
  const out: LedgerCheck = { issuesChecked: 0, revocationsChecked: 0, issuesLost: [], revocationsLost: [] };
  const checks: Array<{ t: IssuedToken; node: SidecarProcess }> = [];
  for (const t of issued) {
    if (unknown.has(t.jti)) continue;
    for (const node of nodes) checks.push({ t, node });
  }
  await forEachBounded(checks, 16, async ({ t, node }) => {
    const v = await node.api.validate(t.token);
    if (revoked.has(t.jti)) {
      out.revocationsChecked++;
      if (v.status !== 401 || v.body?.reason !== 'revoked')
        out.revocationsLost.push(`${t.jti} valid on ${node.spec.nodeId}: ${v.status} ${v.text.slice(0, 120)}`);
    } else {
      out.issuesChecked++;
      if (v.status !== 200) out.issuesLost.push(`${t.jti} (from ${t.node}) on ${node.spec.nodeId}: ${v.status} ${v.text.slice(0, 120)}`);
    }
  });
  return out;
}

/** `count` tokens issued round-robin over `nodes` (subjects `stable-<i>`), each acknowledged as replicated. */
export async function issueStable(nodes: readonly SidecarProcess[], count = 30): Promise<IssuedToken[]> {
  const stable: IssuedToken[] = [];
  for (let i = 0; i < count; i++) {
    const node = nodes[i % nodes.length]!;
    const res = await node.api.issue({ subject: `stable-${i}` });
    assert.equal(res.status, 201, res.text);
    stable.push({ jti: res.body.jti, token: res.body.token, node: node.spec.nodeId, replicated: true, at: Date.now() });
  }
  return stable;
}
