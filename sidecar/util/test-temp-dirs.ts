import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Temporary folders of this test process, removed when it exits, whether its tests passed or failed (node:test
 * runs each file in a process of its own). Keep a folder with TOKENSYNC_KEEP_TEMP=1 to look at it after a run.
 */
const made = new Set<string>();
let hooked = false;

function register(dir: string): string {
  made.add(dir);
  if (!hooked) {
    hooked = true;
    // 'exit' runs after the tests' own after() hooks stopped their processes; only synchronous work is possible here
    process.on('exit', removeTempDirs);
  }
  return dir;
}

/** A fresh folder under the system temp folder, named `<prefix>XXXXXX`, removed at exit. */
export async function tempDir(prefix = 'tokensync-it-'): Promise<string> {
  return register(await mkdtemp(join(tmpdir(), prefix)));
}

export function tempDirSync(prefix = 'tokensync-it-'): string {
  return register(mkdtempSync(join(tmpdir(), prefix)));
}

/** Removes every folder made so far (also called at exit). */
export function removeTempDirs(): void {
  if (process.env.TOKENSYNC_KEEP_TEMP === '1') return;
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // a folder a killed process was still writing to: leave it rather than fail the exit
    }
    made.delete(dir);
  }
}
