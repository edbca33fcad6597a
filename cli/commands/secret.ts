import { Command } from 'commander';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { loadOptions } from '../context.js';
import { CliError, ioOf, printJson } from '../output.js';
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
    .addHelpText('after', '\nExample:\n  tokensync secret generate --config node1.properties\n  then copy the file to every node (same path, mode 0600)')
    .action(async (opts: Opts & { force?: boolean }, command: Command) => {
      const io = ioOf(command);
      const { token } = await loadOptions(opts.config, io);
      const path = token.secretFile;
      const exists = await fs.stat(path).then(() => true, () => false);
      if (exists && !opts.force) throw new CliError(`${path} exists; use 'tokensync secret rotate' to add a secret, or --force to replace it (logs everyone out)`, 1);
      await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const line = generateSecretLine();
      await writeSecretFile(path, [line]);
      if (opts.json) printJson(io, { path, kids: [kidOf(line)] });
      else io.out(`wrote ${path} (kid ${kidOf(line)}); copy it to every node of the cluster`);
    });

  secret
    .command('rotate')
    .description('put a new signing secret first; older ones keep verifying, so nobody is logged out')
    .option('-c, --config <file>', 'properties file (authentication.token.secret.file)')
    .option('--retire', 'drop secrets that have not signed for longer than the longest token lifetime')
    .option('--json', 'machine output')
    .addHelpText('after', '\nExample:\n  tokensync secret rotate --config node1.properties   (then copy the file to every node; sidecars reload it)')
    .action(async (opts: Opts & { retire?: boolean }, command: Command) => {
      const io = ioOf(command);
      const options = await loadOptions(opts.config, io);
      const path = options.token.secretFile;
      await readSecretFile(path); // refuses a weak or world-readable file before touching it
      const text = await fs.readFile(path, 'utf8');
      const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
      const history = await readHistory(path);
      const now = Date.now();
      const fresh = generateSecretLine();
      // A secret stops signing when a newer one is put in front of it; remember when, to know when it may go.
      if (lines[0] && history[kidOf(lines[0])] === undefined) history[kidOf(lines[0])] = now;
      let kept = lines;
      let retired: string[] = [];
      if (opts.retire) {
        const longest = Math.max(options.token.absoluteLifetimeMs, options.token.expirationMs, options.token.onetimeExpirationMs);
        kept = lines.filter((l, i) => i === 0 || now - (history[kidOf(l)] ?? now) <= longest);
        retired = lines.filter((l) => !kept.includes(l)).map(kidOf);
      }
      const next = [fresh, ...kept];
      parseSecrets(next.join('\n'), path);
      await writeSecretFile(path, next);
      await writeHistory(path, history);
      const kids = next.map(kidOf);
      if (opts.json) printJson(io, { path, signing: kids[0], kids, retired });
      else {
        io.out(`rotated ${path}: signing with ${kids[0]}, verifying ${kids.join(', ')}`);
        if (retired.length) io.out(`retired ${retired.join(', ')}`);
        io.out('copy the file to every node; running sidecars reload it (or send SIGHUP)');
      }
    });

  return secret;
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
