import { api, segment, type TokenRecordView } from './api.js';
import { confirmAction, el, table, when } from './dom.js';

let rowIds = 0;

/**
 * Records as a table, each with a "Revoke" button that asks first. Records only: the API never returns a token,
 * and neither does this page. `onRevoked` runs after a revocation (to say so and reload).
 */
export function tokenTable(
  caption: string,
  records: TokenRecordView[],
  onRevoked: (record: TokenRecordView) => void,
  onError: (err: unknown) => void,
): HTMLElement {
  if (records.length === 0) return el('p', {}, 'No token records.');
  const rows = records.map((r) => {
    const id = `token-row-${++rowIds}`;
    const revoke = el('button', { type: 'button', class: 'danger', 'aria-describedby': id }, 'Revoke');
    revoke.addEventListener('click', () => {
      void (async () => {
        const ok = await confirmAction(
          'Revoke this token?',
          `Token ${r.jti} of ${r.subject} will be refused on every node.`,
          'Yes, revoke',
        );
        if (!ok) return;
        try {
          await api('DELETE', `/v1/tokens/${segment(r.jti)}`);
          onRevoked(r);
        } catch (err) {
          onError(err);
        }
      })();
    });
    const expires = r.kind === 'api' ? 'never' : when(r.tokenExpiresAt ?? r.retainedUntil);
    return [
      el('span', { class: 'mono', id }, r.jti),
      r.subject,
      r.kind,
      when(r.issuedAt),
      expires,
      r.node,
      r.revokedByLogout ? 'revoked by logout' : 'live',
      revoke,
    ];
  });
  return table(caption, ['Token id', 'Subject', 'Kind', 'Issued', 'Expires', 'Issuing node', 'Status', 'Action'], rows);
}
