import type { MemberInfo } from '../store/token-store.js';

/** A member whose signing keys differ from the cluster's: tokens it issues, or tokens others issue, are refused. */
export interface KeyDisagreement {
  nodeId: string;
  signing: string;
  accepted: string[];
  /** One line: what differs and what follows from it. */
  problem: string;
}

type Keyed = MemberInfo & { signingKid: string; acceptedKids: string[] };

const keysOf = (m: Keyed) => `${m.signingKid} ${[...m.acceptedKids].sort().join(',')}`;

/**
 * Members whose key ids (signing kid and accepted kids; never the secrets) differ from those most members
 * report; ties go to the set reported first in node.id order, so every node names the same odd one out.
 * Members that report no key ids (older versions) are left out. During a rotation, nodes that have not yet
 * received the new file show up here until it is copied everywhere.
 */
export function keyDisagreements(members: readonly MemberInfo[]): KeyDisagreement[] {
  const keyed = members
    .filter((m): m is Keyed => typeof m.signingKid === 'string' && Array.isArray(m.acceptedKids))
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  if (keyed.length < 2) return [];
  const counts = new Map<string, number>();
  for (const m of keyed) counts.set(keysOf(m), (counts.get(keysOf(m)) ?? 0) + 1);
  let common = keysOf(keyed[0]!);
  for (const [keys, n] of counts) if (n > counts.get(common)!) common = keys;
  const reference = keyed.find((m) => keysOf(m) === common)!;
  const out: KeyDisagreement[] = [];
  for (const m of keyed) {
    if (keysOf(m) === common) continue;
    const refusedBy = keyed.filter((o) => o !== m && !o.acceptedKids.includes(m.signingKid)).map((o) => o.nodeId);
    const refuses = keyed.filter((o) => o !== m && !m.acceptedKids.includes(o.signingKid)).map((o) => o.nodeId);
    const effects = [
      refusedBy.length > 0 ? `its tokens are refused by ${refusedBy.join(', ')}` : '',
      refuses.length > 0 ? `it refuses tokens of ${refuses.join(', ')}` : '',
    ].filter(Boolean);
    out.push({
      nodeId: m.nodeId,
      signing: m.signingKid,
      accepted: m.acceptedKids,
      problem:
        `signs with ${m.signingKid} and accepts ${m.acceptedKids.join(', ')}; most members sign with ${reference.signingKid} and accept ` +
        `${reference.acceptedKids.join(', ')}` +
        (effects.length > 0 ? ` (${effects.join('; ')}): give it the cluster's secret file` : ' (a rotation not yet copied everywhere?)'),
    });
  }
  return out;
}
