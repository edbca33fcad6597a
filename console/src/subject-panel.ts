import { api, segment, type LogoutResult, type TokenPage, type TokenRecordView } from './api.js';
import { byId, confirmAction, el } from './dom.js';
import { tokenTable } from './token-table.js';

/** The Subject view: one subject's tokens, and "Log out everywhere" with who acknowledged it. */
export class SubjectPanel {
  private readonly name = byId<HTMLInputElement>('subject-name');
  private readonly status = byId('subject-status');
  private readonly results = byId('subject-results');
  private readonly logout = byId<HTMLButtonElement>('logout-everywhere');
  private readonly outcome = byId('logout-result');
  private subject: string | null = null;

  constructor(private readonly fail: (err: unknown) => void) {
    byId<HTMLFormElement>('subject-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.outcome.replaceChildren();
      void this.load(this.name.value.trim());
    });
    this.logout.addEventListener('click', () => void this.logOut());
  }

  show(): void {
    if (this.subject) void this.load(this.subject);
  }

  private async load(subject: string): Promise<void> {
    if (!subject) return;
    try {
      const items: TokenRecordView[] = [];
      let cursor: string | null = null;
      // a subject has few tokens; a few pages at most
      for (let i = 0; i < 10; i++) {
        const params = new URLSearchParams({ subject, limit: '100' });
        if (cursor) params.set('cursor', cursor);
        const page: TokenPage = await api<TokenPage>('GET', `/v1/tokens?${params.toString()}`);
        items.push(...page.items);
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      this.subject = subject;
      this.logout.disabled = false;
      this.status.textContent = `${subject}: ${items.length} token record${items.length === 1 ? '' : 's'}${cursor ? ' (first 1000 shown)' : ''}.`;
      this.results.replaceChildren(
        tokenTable(
          `Token records of ${subject}`,
          items,
          (r) => {
            void this.load(subject).then(() => (this.status.textContent = `Revoked token ${r.jti}. ${this.status.textContent ?? ''}`));
          },
          this.fail,
        ),
      );
    } catch (err) {
      this.fail(err);
    }
  }

  private async logOut(): Promise<void> {
    const subject = this.subject;
    if (!subject) return;
    const ok = await confirmAction(
      `Log ${subject} out everywhere?`,
      `Every token of ${subject} issued so far is refused on every node; the next login works at once.`,
      'Yes, log out everywhere',
    );
    if (!ok) return;
    try {
      const r = await api<LogoutResult>('DELETE', `/v1/subjects/${segment(subject)}/tokens`);
      const list = (nodes: string[]) => (nodes.length ? nodes.join(', ') : 'none');
      this.outcome.replaceChildren(
        el(
          'p',
          {},
          `Logged ${subject} out everywhere: logout generation ${r.gen}${r.replicated ? '' : ' (journaled: the store is unreachable, replayed when it is back)'}.`,
        ),
        el('h3', {}, 'Acknowledged by'),
        el(
          'ul',
          { 'aria-label': 'Acknowledged by' },
          ...(r.acknowledgedBy.length ? r.acknowledgedBy.map((n) => el('li', {}, n)) : [el('li', {}, 'none')]),
        ),
        ...(r.notYetAcknowledgedBy.length > 0 ? [el('p', {}, `Not yet acknowledged by: ${list(r.notYetAcknowledgedBy)}`)] : []),
      );
      await this.load(subject);
    } catch (err) {
      this.fail(err);
    }
  }
}
