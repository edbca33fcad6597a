import type { Cluster } from './api.js';
import { ago, byId, el, table } from './dom.js';

const CONNECTED = new Set(['connected', 'reconnected']);

/** What an operator must know first: the store unreachable, a mirror not trusted, a member cut off. */
export function problems(c: Cluster): string[] {
  const found: string[] = [];
  if (!CONNECTED.has(c.store.state)) {
    const policy =
      c.outagePolicy === 'reject'
        ? 'this node refuses validations (outage policy reject) until it is back'
        : 'this node validates from its mirror (outage policy serve-cached)';
    found.push(
      `The store is unreachable from ${c.node} (state ${c.store.state}): ${policy}; issues and revocations are journaled (${c.journalPending} waiting).`,
    );
  }
  if (!c.mirror.trusted)
    found.push(`The mirror of ${c.node} is untrusted: tokens are confirmed against the store until its resync has finished.`);
  for (const m of c.members) {
    if (m.nodeId !== c.node && !CONNECTED.has(m.state))
      found.push(`Member ${m.nodeId} reported store state ${m.state} (${ago(m.updatedAt)}).`);
  }
  if (c.membersError) found.push(`The members could not be listed: ${c.membersError}`);
  return found;
}

export function renderBanner(c: Cluster | null, unreachable?: string): void {
  const banner = byId('banner');
  const lines = unreachable ? [unreachable] : c ? problems(c) : [];
  banner.replaceChildren(...lines.map((l) => el('p', {}, l)));
  banner.hidden = lines.length === 0;
}

/** The Cluster view: this node and its store, every member, the ZooKeeper servers and their modes. */
export function renderCluster(c: Cluster): void {
  const row = (term: string, value: string | number) => [el('dt', {}, term), el('dd', {}, String(value))];
  byId('cluster-summary').replaceChildren(
    ...row('This node', `${c.node} (version ${c.version})`),
    ...row('Store', `${c.store.type} ${c.store.location}${c.store.server ? `, connected to ${c.store.server}` : ''}`),
    ...row('Store state', c.store.state),
    ...row('Outage policy', c.outagePolicy),
    ...row('Mirror', `${c.mirror.size} records, lag ${c.mirror.lagMs} ms, ${c.mirror.trusted ? 'trusted' : 'untrusted'}`),
    ...row('Journal backlog', c.journalPending),
  );
  const now = Date.now();
  byId('members').replaceChildren(
    table(
      `${c.members.length} member${c.members.length === 1 ? '' : 's'}`,
      ['Node', 'Address', 'Version', 'Store', 'Mirror size', 'Lag', 'Watch', 'Journal backlog', 'Last heartbeat'],
      c.members.map((m) => [
        m.nodeId,
        m.address,
        m.version,
        `${m.storeType} ${m.state}`,
        m.mirrorSize,
        `${m.mirrorLagMs} ms`,
        m.watch ?? '—',
        m.journalPending ?? '—',
        ago(m.updatedAt, now),
      ]),
    ),
  );
  const servers = c.servers ?? [];
  byId('servers-heading').hidden = servers.length === 0;
  byId('servers').replaceChildren(
    ...(servers.length === 0
      ? []
      : [
          table(
            'Servers of the connect string, asked with srvr',
            ['Server', 'Mode', 'Version', 'Zxid', 'Clients', 'Note'],
            servers.map((s) => [
              s.server,
              s.mode,
              s.version ?? '—',
              s.zxid ?? '—',
              s.connections ?? '—',
              s.ours ? 'this node is connected to it' : (s.note ?? ''),
            ]),
          ),
        ]),
  );
}
