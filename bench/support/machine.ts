import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisVersion } from './redis-server.js';
import { wrkVersion } from './load.js';
import { table } from './section.js';

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** From the installed package.json (read as a file: some packages' `exports` hide it from require). */
function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

/** The machine and the versions of everything measured, as a markdown table. */
export function describeMachine(loadAtStart: string, loadAtEnd: string): string {
  const cpus = os.cpus();
  const zk = sh('dpkg-query', ['-W', '-f=${Version}', 'zookeeper']) || 'unknown';
  const rows: Array<[string, string]> = [
    ['CPU', `${cpus.length} cores, ${cpus[0]?.model ?? 'unknown'}`],
    ['memory', `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`],
    ['OS', `${os.type()} ${os.release()}`],
    ['Node.js', process.version],
    ['ZooKeeper', `${zk} (Debian package, local java processes on loopback, harness defaults: forceSync=no, tickTime 500 ms)`],
    ['redis-server', redisVersion()],
    ['wrk', wrkVersion()],
    ['autocannon', packageVersion('autocannon')],
    [
      'express / express-session / connect-redis / redis',
      ['express', 'express-session', 'connect-redis', 'redis'].map(packageVersion).join(' / '),
    ],
    ['tokensync commit', sh('git', ['rev-parse', '--short', 'HEAD']) || 'unknown'],
    [
      'load average (1/5/15 min) at start and end',
      `${loadAtStart} -> ${loadAtEnd} (the machine is shared with other engineers' test runs)`,
    ],
  ];
  return table(['', ''], rows);
}
