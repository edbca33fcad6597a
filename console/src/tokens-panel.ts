import { ApiError, api, segment, type TokenPage, type TokenRecordView } from './api.js';
import { byId } from './dom.js';
import { tokenTable } from './token-table.js';

const PAGE_SIZE = 20;
/** A token id as the API accepts one (8 to 64 characters of [A-Za-z0-9_.-]): only such a query is also looked up as a jti. */
const JTI = /^[A-Za-z0-9_.-]{8,64}$/;

/** The Tokens view: search by subject or jti, filter by kind, a page at a time. */
export class TokensPanel {
  private readonly query = byId<HTMLInputElement>('tokens-query');
  private readonly kind = byId<HTMLSelectElement>('tokens-kind');
  private readonly status = byId('tokens-status');
  private readonly results = byId('tokens-results');
  private readonly first = byId<HTMLButtonElement>('tokens-first');
  private readonly next = byId<HTMLButtonElement>('tokens-next');
  private cursor: string | null = null;
  private nextCursor: string | null = null;
  private page = 1;

  constructor(private readonly fail: (err: unknown) => void) {
    byId<HTMLFormElement>('tokens-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.page = 1;
      void this.load(null);
    });
    this.first.addEventListener('click', () => {
      this.page = 1;
      void this.load(null);
    });
    this.next.addEventListener('click', () => {
      this.page++;
      void this.load(this.nextCursor);
    });
  }

  show(): void {
    void this.load(this.cursor);
  }

  private async load(cursor: string | null): Promise<void> {
    const q = this.query.value.trim();
    const kind = this.kind.value;
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (q) params.set('subject', q);
    if (kind) params.set('kind', kind);
    if (cursor) params.set('cursor', cursor);
    try {
      const [page, byJti] = await Promise.all([
        api<TokenPage>('GET', `/v1/tokens?${params.toString()}`).catch((err: unknown) => {
          // a query that is no valid subject may still be a jti
          if (err instanceof ApiError && err.status === 400 && q) return { items: [], nextCursor: null };
          throw err;
        }),
        JTI.test(q) && !cursor ? this.findJti(q, kind) : Promise.resolve(undefined),
      ]);
      const items = byJti && !page.items.some((r) => r.jti === byJti.jti) ? [byJti, ...page.items] : page.items;
      this.cursor = cursor;
      this.nextCursor = page.nextCursor;
      this.first.disabled = this.page === 1;
      this.next.disabled = page.nextCursor === null;
      const what = q ? `matching "${q}"` : 'of every subject';
      this.status.textContent = `Page ${this.page}: ${items.length} record${items.length === 1 ? '' : 's'} ${what}${kind ? `, kind ${kind}` : ''}.`;
      this.results.replaceChildren(tokenTable(`Token records, page ${this.page}`, items, (r) => this.revoked(r), this.fail));
    } catch (err) {
      this.fail(err);
    }
  }

  private async findJti(q: string, kind: string): Promise<TokenRecordView | undefined> {
    try {
      const record = await api<TokenRecordView>('GET', `/v1/tokens/${segment(q)}`);
      return !kind || record.kind === kind ? record : undefined;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  private revoked(r: TokenRecordView): void {
    void this.load(this.cursor).then(() => {
      this.status.textContent = `Revoked token ${r.jti} of ${r.subject}. ${this.status.textContent ?? ''}`;
    });
  }
}
