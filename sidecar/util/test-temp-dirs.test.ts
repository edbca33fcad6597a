import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('./test-temp-dirs.js', import.meta.url));

/** Runs `body` in a node process of its own, as node:test runs each test file, and returns the folders it made. */
function runChild(body: string): { dirs: string[]; status: number | null } {
  const script = `import { tempDir, tempDirSync } from ${JSON.stringify(MODULE)};\nimport { writeFileSync } from 'node:fs';\n${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  const dirs = r.stdout.split('\n').filter((l) => l.startsWith('/'));
  return { dirs, status: r.status };
}

test('temp folders of a test process are removed when it exits, after a failure too', () => {
  const passed = runChild(`const d = await tempDir('tokensync-tdir-'); writeFileSync(d + '/f', 'x'); console.log(d);`);
  assert.equal(passed.status, 0);
  const failed = runChild(
    `const d = tempDirSync('tokensync-tdir-'); writeFileSync(d + '/f', 'x'); console.log(d); throw new Error('a failing test');`,
  );
  assert.notEqual(failed.status, 0);
  const exited = runChild(`console.log(await tempDir('tokensync-tdir-')); process.exit(3);`);
  assert.equal(exited.status, 3);
  const dirs = [...passed.dirs, ...failed.dirs, ...exited.dirs];
  assert.equal(dirs.length, 3);
  for (const d of dirs) {
    assert.match(d, /\/tokensync-tdir-\w{6}$/);
    assert.equal(existsSync(d), false, `${d} was left behind`);
  }
});
