import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDirSync } from './util/test-temp-dirs.js';

// The rules of ARCHITECTURE.md that a static scan can check, over the TypeScript sources (not dist/).
const PRODUCT = ['sidecar', 'cli', 'client', 'express'];
const NEVER_FROM_PRODUCT = ['integration-tests', 'bench'];
// The HTTP layer, the service, start-up checks and the CLI work against TokenStore; only create-store.ts picks a concrete one.
const STORE_BLIND = ['sidecar/http', 'sidecar/service', 'sidecar/preflight', 'cli'];
const CONCRETE_STORES = ['sidecar/store/directory', 'sidecar/store/zookeeper/zookeeper-store.ts', 'sidecar/store/zookeeper/index.ts'];
// HTTP is one way in among others: the service below it and the CLI beside it never import it.
const HTTP_BLIND = ['sidecar/service', 'cli'];
const HTTP = ['sidecar/http'];

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;

/** Every `from '...'`, `import '...'`, `import('...')` and `require('...')` specifier of a source text. */
function importSpecifiers(source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((m) => m[1]!);
}

function sourcesUnder(dir: string, out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourcesUnder(path, out);
    else if (/\.m?ts$/.test(name) && !name.endsWith('.d.ts') && !/\.test\.m?ts$/.test(name)) out.push(path);
  }
  return out;
}

const within = (path: string, folder: string) => path === folder || path.startsWith(folder.endsWith('.ts') ? folder : folder + '/');

/** `file -> target` for each import that breaks a rule, paths relative to `root`. */
function forbiddenImports(root: string): string[] {
  const found: string[] = [];
  for (const file of PRODUCT.flatMap((d) => sourcesUnder(join(root, d)))) {
    const from = relative(root, file).split(sep).join('/');
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = relative(root, resolve(dirname(file), spec))
        .split(sep)
        .join('/')
        .replace(/\.js$/, '.ts');
      const toTests = NEVER_FROM_PRODUCT.some((f) => within(target, f));
      const toStore = STORE_BLIND.some((f) => within(from, f)) && CONCRETE_STORES.some((f) => within(target, f));
      const toHttp = HTTP_BLIND.some((f) => within(from, f)) && HTTP.some((f) => within(target, f));
      if (toTests || toStore || toHttp) found.push(`${from} -> ${target}`);
    }
  }
  return found;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('import boundaries', () => {
  it('product code imports neither tests nor bench; http, service, preflight and cli no concrete store; service and cli not http', () => {
    assert.ok(statSync(join(repoRoot, 'sidecar', 'sidecar.ts')).isFile(), `the sources are at ${repoRoot}`);
    assert.deepEqual(forbiddenImports(repoRoot), []);
  });

  it('finds every kind of forbidden import in a planted tree, and ignores test files', () => {
    const root = tempDirSync('tokensync-boundaries-');
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write('sidecar/a.ts', "import { x } from '../integration-tests/zookeeper/index.js';\nexport * from './b.js';\n");
    write('sidecar/deep/b.ts', "export { y } from '../../bench/support/zk.js';\n");
    write('cli/c.ts', "const m = await import('../bench/run.js');\nimport '../integration-tests/support/http.js';\n");
    write('express/d.ts', 'import type { T } from "../integration-tests/support/load.js";\n');
    write('sidecar/http/e.ts', "import { DirectoryStore } from '../store/directory/directory-store.js';\n");
    write('sidecar/store/create-store.ts', "import { DirectoryStore } from './directory/directory-store.js';\n");
    write('sidecar/a.test.ts', "import { x } from '../integration-tests/zookeeper/index.js';\n");
    write('client/f.ts', "import { benchmark } from './bench-like.js';\n");
    write(
      'sidecar/service/g.ts',
      "import type { RecordViewContext } from '../http/requests.js';\nimport { x } from '../store/record-view.js';\n",
    );
    write('cli/commands/h.ts', "import { recordView } from '../../sidecar/http/requests.js';\n");
    write('sidecar/preflight/i.ts', "import { directoryUsage } from '../store/directory/directory-usage.js';\n");
    write('sidecar/http/j.ts', "import { TokenService } from '../service/token-service.js';\n");
    assert.deepEqual(forbiddenImports(root).sort(), [
      'cli/c.ts -> bench/run.ts',
      'cli/c.ts -> integration-tests/support/http.ts',
      'cli/commands/h.ts -> sidecar/http/requests.ts',
      'express/d.ts -> integration-tests/support/load.ts',
      'sidecar/a.ts -> integration-tests/zookeeper/index.ts',
      'sidecar/deep/b.ts -> bench/support/zk.ts',
      'sidecar/http/e.ts -> sidecar/store/directory/directory-store.ts',
      'sidecar/preflight/i.ts -> sidecar/store/directory/directory-usage.ts',
      'sidecar/service/g.ts -> sidecar/http/requests.ts',
    ]);
  });
});
