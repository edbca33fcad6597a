import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SidecarProcess, tempDir } from '../../integration-tests/support/sidecar-process.js';
import { request } from '../../integration-tests/support/http.js';
import { generateSecretLine, writeSecretFile } from '../../sidecar/tokens/secret-file.js';

export { SidecarProcess, tempDir };

/** A secret file (mode 0600) shared by every sidecar of a section. */
export async function makeSecretFile(dir: string): Promise<string> {
  const path = join(dir, 'token_secret');
  await writeSecretFile(path, [generateSecretLine()]);
  return path;
}

/** A sidecar process on a ZooKeeper store (`connect` may carry a chroot). */
export function zkSidecar(
  nodeId: string,
  dir: string,
  connect: string,
  secretFile: string,
  extra: Record<string, string | number | boolean> = {},
): SidecarProcess {
  return new SidecarProcess({
    nodeId,
    dir: join(dir, nodeId),
    props: {
      'app.data.dir': join(dir, nodeId, 'appdata'),
      'cluster.store.type': 'ZOOKEEPER',
      'cluster.store.zookeeper.connect': connect,
      'cluster.store.zookeeper.session.timeout': '15s',
      'authentication.token.secret.file': secretFile,
      ...extra,
    },
  });
}

/** Issues one session token through a sidecar's API. */
export async function issueToken(sidecar: SidecarProcess, subject = 'bench-user'): Promise<{ token: string; jti: string }> {
  const res = await request(sidecar.url, 'POST', '/v1/tokens', { body: { subject } });
  if (res.status !== 201) throw new Error(`issue on ${sidecar.spec.nodeId} answered ${res.status}: ${res.text}`);
  return { token: res.body.token as string, jti: res.body.jti as string };
}

/** Polls `/readyz` until 200; resolves with when that happened (performance.now()-style ms from `Date.now()`). */
export async function waitReadyz(url: string, timeoutMs: number, intervalMs = 20): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await request(url, 'GET', '/readyz', { timeoutMs: 5_000 });
      if (res.status === 200) return Date.now();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url}/readyz not 200 within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** Resident and peak resident memory of a process, from /proc/<pid>/status (bytes). */
export async function memoryOf(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** The sidecar's own report of its initial mirror load ("ZooKeeper rebuild (initial): ... in N ms"). */
export function initialRebuildMs(logs: string): number | undefined {
  const m = /ZooKeeper rebuild \(initial\): \d+ shards and \d+ markers read in (\d+) ms/.exec(logs);
  return m ? Number(m[1]) : undefined;
}
