import { Command } from 'commander';
import { forEachShard, withStore } from '../context.js';
import { CliError, ioOf, printJson } from '../output.js';
import { isValidSubject, parseRecordName } from '../../sidecar/store/token-record.js';
import { nearest } from '../../sidecar/config/suggest.js';
import { isProbeName } from '../../sidecar/store/probe-record.js';

/** Most distinct subjects remembered for a "did you mean" hint: the listing itself is not capped. */
const MAX_HINT_SUBJECTS = 50_000;

export function makeSubjectsCommand(): Command {
  const subjects = new Command('subjects').description('act on all tokens of a subject');
  subjects
    .command('logout')
    .description('log a subject out everywhere: every token issued before now is refused on every node (raises its logout generation)')
    .argument('<subject>', 'the subject (user name)')
    .option('-c, --config <file>', 'properties file naming the store')
    .option('--json', 'machine output')
    .addHelpText('after', '\nExample:\n  tokensync subjects logout alice --config node1.properties')
    .action(async (subject: string, opts: { config?: string; json?: boolean }, command: Command) => {
      const io = ioOf(command);
      if (!isValidSubject(subject)) throw new CliError('subject must be 1 to 128 bytes of text without control characters', 2);
      await withStore(opts.config, io, async ({ store, fallback }) => {
        const gen = await store.raiseMarker(subject);
        // during a cutover, sidecars still on the previous store must refuse the subject's tokens too (ours carry our generation)
        const previous = await fallback();
        await previous?.raiseMarker(subject, gen);
        let count = 0;
        const others = new Set<string>();
        await forEachShard(store.shards, 32, async (shard) => {
          for (const name of await store.listShard(shard)) {
            const found = isProbeName(name) ? undefined : parseRecordName(name)?.subject;
            if (found === subject) count++;
            else if (found !== undefined && others.size < MAX_HINT_SUBJECTS) others.add(found);
          }
        });
        // a typo logs nobody out: say so, with the subject that was probably meant
        const suggestion = count === 0 ? nearest(subject, others) : undefined;
        if (opts.json) {
          printJson(io, {
            subject,
            revoked: count,
            gen,
            ...(suggestion !== undefined ? { didYouMean: suggestion } : {}),
            ...(previous ? { fallback: true } : {}),
          });
        } else if (count === 0) {
          io.out(
            `no tokens found for subject ${JSON.stringify(subject)}${suggestion !== undefined ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ''}; ` +
              '0 tokens revoked (its logout marker is written all the same)',
          );
        } else
          io.out(
            `logged out ${subject} everywhere: ${count} token${count === 1 ? '' : 's'} revoked, logout generation ${gen}${previous ? ' (marker written to the fallback store too)' : ''}`,
          );
      });
    });
  return subjects;
}
