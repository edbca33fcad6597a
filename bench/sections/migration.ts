import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Section } from '../support/section.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/**
 * The store-migration table belongs to the operations work (`bench/migrate-bench.ts` writes it into
 * docs/operations.md); this section only links to it and says whether it is there yet.
 */
export const migrationSection: Section = {
  id: 'migration',
  title: '5. Store migration',
  async run() {
    const ops = join(ROOT, 'docs', 'operations.md');
    const present = existsSync(ops) && readFileSync(ops, 'utf8').includes('<!-- migrate-bench:begin -->');
    const script = existsSync(join(ROOT, 'bench', 'migrate-bench.ts'));
    const markdown = [
      'The live store migration (`tokensync store migrate --to-config F2`: DIRECTORY <-> ZOOKEEPER while sidecars serve) is measured by ' +
        '`bench/migrate-bench.ts`, which belongs to the operations work and writes its table into ' +
        '[docs/operations.md](operations.md) (between its `migrate-bench` markers) rather than here, next to the procedure it measures:',
      '',
      '```sh',
      'npm run build && node dist/bench/migrate-bench.js --write-docs',
      '```',
      '',
      present
        ? 'Its latest table: [docs/operations.md](operations.md).'
        : `_Not there yet_: ${script ? 'bench/migrate-bench.ts exists but docs/operations.md has no migration table' : 'bench/migrate-bench.ts and its table do not exist yet'} at the time of this run.`,
    ].join('\n');
    return { id: 'migration', title: this.title, markdown, goals: [] };
  },
};
