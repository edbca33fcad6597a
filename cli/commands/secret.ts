import { Command } from 'commander';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { loadOptions, withStore } from '../context.js';
import { CliError, ioOf, printJson, relativeTime, type Io } from '../output.js';
import { generateSecretLine, kidOf, parseSecrets, readSecretFile, writeSecretFile } from '../../sidecar/tokens/secret-file.js';

interface Opts {
  config?: string;
  json?: boolean;
}

export function makeSecretCommand(): Command {
  const secret = new Command('secret').description('create and rotate the shared signing secret (<AppData>/token_secret)');

  secret
    .command('generate')
    .description('create the secret file (mode 0600) with one new secret')
    .option('-c, --config <file>', 'properties file (authentication.token.secret.file)')
    .option('--force', 'overwrite an existing secret file (logs everyone out)')
    .option('--json', 'machine output')
    .addHelpText(
      'after',
      '\nExample:\n  tokensync secret generate --config node1.properties\n  then copy the file to every node (same path, mode 0600)',
    )
    .action(async (opts: Opts & { force?: boolean }, command: Command) => {
      const io = ioOf(command);
      const { token } = await loadOptions(opts.config, io);
      const path = token.secretFile;
      const exists = await fs.stat(path).then(
        () => true,
        () => false,
      );
      if (exists && !opts.force)
        throw new CliError(
          `${path} exists; use 'tokensync secret rotate' to add a secret, or --force to replace it (logs everyone out)`,
          1,
        );
      await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const line = generateSecretLine();
      await writeSecretFile(path, [line]);
      if (opts.json) printJson(io, { path, kids: [kidOf(line)] });
      else io.out(`wrote ${path} (kid ${kidOf(line)}); copy it to every node of the cluster`);
    });

  secret
    .command('rotate')
    .description(
      'put a new signing secret first; older ones keep verifying, so nobody is logged out. With --retire: only drop old secrets, add none',
    )
    .option('-c, --config <file>', 'properties file (authentication.token.secret.file, and the store for --retire)')
    .option(
      '--retire',
      'instead of adding a secret: drop those that stopped signing longer ago than the longest token lifetime, unless live api tokens still need them',
    )
    .option('--force', 'with --retire: drop them even if api tokens signed with them are live (those tokens stop validating)')
    .option('--json', 'machine output: {path, signing, kids, added, retired, kept, stillNeeded}')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  tokensync secret rotate --config node1.properties            then copy the file to every node',
        '  tokensync secret rotate --config node1.properties --retire   later: drop secrets nothing needs any more',
        '',
        'Running sidecars reload the file when it changes (or on SIGHUP) and log the kids they accept.',
        '--retire adds no secret; it says which it retired and why it kept each of the others.',
        'api tokens never expire: --retire keeps a secret while a live api token issued during its signing',
        'period exists (it reads the store), and says so; revoke those tokens, or pass --force.',
      ].join('\n'),
    )
    .action(async (opts: Opts & { retire?: boolean; force?: boolean }, command: Command) => {
      const io = ioOf(command);
      const options = await loadOptions(opts.config, io);
      const path = options.token.secretFile;
      await readSecretFile(path); // refuses a weak or world-readable file before touching it
      const text = await fs.readFile(path, 'utf8');
      const lines = text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      const history = await readHistory(path);
      const now = Date.now();
      const longest = Math.max(options.token.absoluteLifetimeMs, options.token.expirationMs, options.token.onetimeExpirationMs);
      let next: string[];
      let added: string | null = null;
      let retired: string[] = [];
      const kept: Array<{ kid: string; why: string }> = [];
      const stillNeeded: Array<{ kid: string; apiTokens: number }> = [];
      if (opts.retire) {
        // line i signed from when line i+1 stopped signing until it stopped itself
        const periods = lines.map((l, i) => ({
          line: l,
          kid: kidOf(l),
          from: i + 1 < lines.length ? (history[kidOf(lines[i + 1]!)] ?? 0) : 0,
          until: history[kidOf(l)],
        }));
        let candidates = periods.filter((p, i) => i > 0 && p.until !== undefined && now - p.until > longest);
        if (candidates.length > 0 && !opts.force) {
          const counts = await apiTokensIssuedIn(
            opts.config,
            io,
            candidates.map((c) => [c.from, c.until!]),
          );
          candidates = candidates.filter((c, i) => {
            if (counts[i]! === 0) return true;
            stillNeeded.push({ kid: c.kid, apiTokens: counts[i]! });
            return false;
          });
        }
        const drop = new Set(candidates.map((c) => c.line));
        next = lines.filter((l) => !drop.has(l));
        retired = candidates.map((c) => c.kid);
        for (const [i, p] of periods.entries()) {
          if (drop.has(p.line)) continue;
          const needed = stillNeeded.find((s) => s.kid === p.kid);
          kept.push({
            kid: p.kid,
            why:
              i === 0
                ? 'signing'
                : needed
                  ? `${needed.apiTokens} live api token${needed.apiTokens === 1 ? ' was' : 's were'} issued while it signed (revoke them, or --retire --force)`
                  : p.until === undefined
                    ? `no record of when it stopped signing (edited by hand?); counted from now, it may go after ${new Date(now + longest).toISOString()}`
                    : `stopped signing ${relativeTime(p.until, now).replace(' ago', '')} ago; tokens it signed may be valid until ${new Date(p.until + longest).toISOString()}`,
          });
        }
        // a secret without a record gets one now, so that a later --retire can judge it
        for (const p of periods.slice(1)) if (p.until === undefined) history[p.kid] = now;
      } else {
        added = generateSecretLine();
        // A secret stops signing when a newer one is put in front of it; remember when, to know when it may go.
        if (lines[0] && history[kidOf(lines[0])] === undefined) history[kidOf(lines[0])] = now;
        next = [added, ...lines];
      }
      parseSecrets(next.join('\n'), path);
      if (next.length !== lines.length || added) await writeSecretFile(path, next);
      for (const kid of retired) delete history[kid];
      await writeHistory(path, history);
      const kids = next.map(kidOf);
      const addedKid = added ? kidOf(added) : null;
      if (opts.json) printJson(io, { path, signing: kids[0], kids, added: addedKid, retired, kept, stillNeeded });
      else if (opts.retire) {
        io.out(retired.length ? `retired ${retired.join(', ')} from ${path}` : `retired nothing from ${path}`);
        for (const k of kept) io.out(`kept ${k.kid}: ${k.why}`);
        io.out(`no secret added (--retire only retires); signing with ${kids[0]}`);
        if (retired.length) io.out('copy the file to every node; running sidecars reload it (or send SIGHUP)');
      } else {
        io.out(`rotated ${path}: added ${addedKid}, signing with it; verifying ${kids.join(', ')}`);
        io.out('copy the file to every node; running sidecars reload it (or send SIGHUP)');
      }
    });

  return secret;
}

/**
 * How many live api tokens were issued within each period `[from, until)`: api tokens never expire and are
 * never reissued, so the secret that signed one must stay until the token is revoked.
 */
async function apiTokensIssuedIn(config: string | undefined, io: Io, periods: Array<[number, number]>): Promise<number[]> {
  const counts = periods.map(() => 0);
  try {
    await withStore(config, io, async ({ store }) => {
      let cursor: string | undefined;
      do {
        const page = await store.list({ kind: 'api', limit: 1000, cursor });
        for (const r of page.items) periods.forEach(([from, until], i) => r.issuedAt >= from && r.issuedAt < until && counts[i]!++);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    });
  } catch (err) {
    throw new CliError(
      `cannot check the store for api tokens that still need the old secrets (${err instanceof Error ? err.message : String(err)}); nothing changed. Use --retire --force to retire without checking`,
      1,
    );
  }
  return counts;
}

/** When each secret stopped signing, in `<secret file>.history` (kids only, never secrets). */
async function readHistory(path: string): Promise<Record<string, number>> {
  try {
    return JSON.parse(await fs.readFile(`${path}.history`, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

async function writeHistory(path: string, history: Record<string, number>): Promise<void> {
  await fs.writeFile(`${path}.history`, JSON.stringify(history, null, 2) + '\n', { mode: 0o600 });
}
