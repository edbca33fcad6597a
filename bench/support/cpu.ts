import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; NaN when unreadable. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may hold spaces: fields are counted after its closing parenthesis
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, USER_HZ = 100 on Linux
  } catch {
    return NaN;
  }
}

/** Runs `fn` and reports the CPU share (1.0 = one full core) each group of processes used meanwhile. */
export async function measureCpu<T>(
  groups: Array<Array<number | undefined>>,
  fn: () => Promise<T>,
): Promise<{ value: T; cores: number[] }> {
  const before = groups.map((pids) => pids.map(cpuSeconds));
  const started = performance.now();
  const value = await fn();
  const seconds = (performance.now() - started) / 1000;
  const cores = groups.map((pids, g) => {
    let used = 0;
    pids.forEach((pid, i) => (used += cpuSeconds(pid) - before[g]![i]!));
    return used / seconds;
  });
  return { value, cores };
}
