import { Command, InvalidArgumentError, Option } from 'commander';
import { withStore } from '../context.js';
import { CliError, ioOf, printJson, relativeTime, table } from '../output.js';
import { TOKEN_KINDS, isValidJti, parseRecordName, shardOf, type TokenKind } from '../../sidecar/store/token-record.js';
import type { TokenStore } from '../../sidecar/store/token-store.js';
import { recordView, type RecordViewContext } from '../../sidecar/store/record-view.js';
import type { TokensyncOptions } from '../../sidecar/config/options.js';

interface Common {
  config?: string;
  json?: boolean;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}

function parseJti(value: string): string {
  if (!isValidJti(value)) throw new InvalidArgumentError(`"${value}" is not a token id (8 to 64 characters of A-Z a-z 0-9 _ . -)`);
  return value;
}

/** The subject a jti is filed under, from its shard's listing (one read). */
export async function findRef(store: TokenStore, jti: string): Promise<{ jti: string; subject: string } | undefined> {
  for (const name of await store.listShard(shardOf(jti, store.shards))) {
    const ref = parseRecordName(name);
    if (ref?.jti === jti) return ref;
  }
  return undefined;
}

/** Logout markers read once per command, and whether session tokens slide under this configuration. */
async function listingContext(store: TokenStore, options: TokensyncOptions): Promise<(subject: string) => RecordViewContext> {
  const markers = await store.listMarkers();
  const sliding = options.token.sliding || options.token.idleTimeoutMs > 0;
  return (subject) => ({ marker: markers.get(subject), sliding });
}

/** The token's own expiry, as a person reads it: "in 10s", "never", "in 6d 23h, sliding", "unknown". */
function tokenExpiry(view: Record<string, unknown>, now: number): string {
  if (!('tokenExpiresAt' in view)) return 'unknown';
  const at = view.tokenExpiresAt === null ? null : Date.parse(String(view.tokenExpiresAt));
  return relativeTime(at, now) + (view.sliding === true ? ', sliding' : '');
}

/** The token's own expiry as `tokens inspect` shows it: the time, how far off, and whether a session slides. */
function expiryDetail(view: Record<string, unknown>, at: (iso: unknown, ms: number | null) => string): string {
  if (!('tokenExpiresAt' in view)) return 'unknown (record written by an older tokensync)';
  const expiry = view.tokenExpiresAt === null ? 'never' : at(view.tokenExpiresAt, Date.parse(String(view.tokenExpiresAt)));
  return expiry + (view.sliding ? " (sliding: reissued while in use, up to the record's end)" : '');
}

type ListOptions = Common & { subject?: string; kind?: TokenKind; limit: number; cursor?: string; all?: boolean };

export function makeTokensCommand(): Command {
  const tokens = new Command('tokens').description('list, inspect and revoke token records in the store');

  tokens
    .command('list')
    .description('list token records, a page at a time')
    .option('-c, --config <file>', 'properties file naming the store')
    .option('--subject <subject>', 'only this subject')
    .addOption(new Option('--kind <kind>', 'only this kind').choices(TOKEN_KINDS as string[]))
    .option('--limit <n>', 'records per page', parsePositiveInt, 50)
    .option('--cursor <cursor>', 'continue after a previous page (printed at its end)')
    .option('--all', 'every page, streamed (no --limit cap)')
    .option('--json', 'machine output: {items, nextCursor}')
    .addHelpText(
      'after',
      '\nExamples:\n  tokensync tokens list --config node1.properties --subject alice\n' +
        '  tokensync tokens list --config node1.properties --kind api --json',
    )
    .action(async (opts: ListOptions, command: Command) => {
      const io = ioOf(command);
      await withStore(opts.config, io, async ({ store, options }) => {
        let cursor = opts.cursor;
        let first = true;
        const now = Date.now();
        const context = await listingContext(store, options);
        do {
          const page = await store.list({ subject: opts.subject, kind: opts.kind, limit: opts.limit, cursor });
          cursor = page.nextCursor ?? undefined;
          const views = page.items.map((r) => recordView(r, context(r.subject)));
          if (opts.json) {
            if (opts.all) for (const view of views) io.out(JSON.stringify(view));
            else printJson(io, { items: views, nextCursor: page.nextCursor });
          } else if (page.items.length > 0 || first) {
            const rows = page.items.map((r, i) => ({
              jti: r.jti,
              subject: r.subject,
              kind: r.kind,
              issued: relativeTime(r.issuedAt, now),
              'token expires': tokenExpiry(views[i]!, now),
              'record kept': r.expiresAt === null ? 'until revoked' : relativeTime(r.expiresAt, now).replace(/^in /, 'for '),
              status: views[i]!.revokedByLogout ? 'revoked by logout' : 'live',
              node: r.node,
            }));
            io.out(table(rows, ['jti', 'subject', 'kind', 'issued', 'token expires', 'record kept', 'status', 'node']));
            if (!opts.all && page.nextCursor) io.out(`\nmore: --cursor ${page.nextCursor}`);
          }
          first = false;
        } while (opts.all && cursor);
      });
    });

  tokens
    .command('show')
    .description('show one token record')
    .argument('<jti>', 'token id', parseJti)
    .option('-c, --config <file>', 'properties file naming the store')
    .option('--json', 'machine output')
    .addHelpText('after', '\nExample:\n  tokensync tokens show s.Qm9vQm9vQm9vQm9vQm9vQQ --config node1.properties')
    .action(async (jti: string, opts: Common, command: Command) => {
      const io = ioOf(command);
      await withStore(opts.config, io, async ({ store, options }) => {
        const ref = await findRef(store, jti);
        const record = ref && (await store.read(ref));
        if (!record) throw new CliError(`no token record with jti ${jti}`, 1);
        const view = recordView(record, (await listingContext(store, options))(record.subject));
        if (opts.json) return printJson(io, view);
        const now = Date.now();
        const at = (iso: unknown, ms: number | null) => (ms === null ? 'never' : `${String(iso)} (${relativeTime(ms, now)})`);
        // one line per fact, the token's expiry apart from how long its record is kept
        const lines: Array<[string, unknown]> = [
          ['jti', record.jti],
          ['subject', record.subject],
          ['kind', record.kind],
          ['issued', at(view.issuedAt, record.issuedAt)],
          ['token expires', expiryDetail(view, at)],
          ['record kept until', at(view.retainedUntil, record.expiresAt)],
          ['status', view.revokedByLogout ? 'revoked by logout (the reaper deletes the record later)' : 'live'],
          ['node', record.node],
          ...(record.clientIp ? [['clientIp', record.clientIp] as [string, unknown]] : []),
          ...(record.attributes ? [['attributes', record.attributes] as [string, unknown]] : []),
        ];
        io.out(lines.map(([k, v]) => `${k.padEnd(17)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n'));
      });
    });

  tokens
    .command('revoke')
    .description('revoke one token everywhere (deletes its record)')
    .argument('<jti>', 'token id', parseJti)
    .option('-c, --config <file>', 'properties file naming the store')
    .option('--json', 'machine output')
    .addHelpText('after', '\nExample:\n  tokensync tokens revoke s.Qm9vQm9vQm9vQm9vQm9vQQ --config node1.properties')
    .action(async (jti: string, opts: Common, command: Command) => {
      const io = ioOf(command);
      await withStore(opts.config, io, async ({ store, fallback }) => {
        const ref = await findRef(store, jti);
        let revoked = ref ? await store.delete(ref) : false;
        // during a cutover the token may live in the previous store too (or only there): revoke it there as well
        const previous = await fallback();
        const previousRef = previous && (await findRef(previous, jti));
        const inPrevious = previousRef ? await previous.delete(previousRef) : false;
        revoked ||= inPrevious;
        const subject = (ref ?? previousRef)?.subject;
        if (!revoked) throw new CliError(`no token record with jti ${jti}`, 1);
        if (opts.json) printJson(io, { revoked: true, jti, subject, ...(previous ? { revokedInFallback: inPrevious } : {}) });
        else io.out(`revoked ${jti} (subject ${subject})${inPrevious ? ', also in the fallback store' : ''}`);
      });
    });

  return tokens;
}
