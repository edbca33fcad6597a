import autocannon from 'autocannon';
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { latencyHistogram, loadavg } from './stats.js';

/** One HTTP load run: the same for every peer, so only the server differs. */
export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationS: number;
  /** A different cookie on every request, round-robin over `values` (sent as `name=value`). */
  rotateCookie?: { name: string; values: string[] };
}

export interface LoadResult {
  tool: 'autocannon' | 'wrk';
  /** Responses per second over the run (all status codes). */
  rps: number;
  /** 2xx responses. */
  ok: number;
  non2xx: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** `os.loadavg()` right after the run. */
  load: string;
}

/**
 * autocannon in this process, with every response's latency also recorded into an hdr histogram in
 * microseconds (autocannon's own histogram has whole-millisecond resolution, too coarse below 1 ms).
 */
export async function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  const histogram = latencyHistogram();
  const instance = autocannon({
    url: spec.url,
    method: spec.method ?? 'GET',
    headers: spec.headers,
    body: spec.body,
    connections: spec.connections,
    duration: spec.durationS,
    pipelining: 1,
    timeout: 10,
    ...(spec.rotateCookie ? { requests: [{ setupRequest: rotatingCookie(spec.rotateCookie) }] } : {}),
  });
  // without a callback autocannon returns its tracker (an EventEmitter) made thenable
  (instance as unknown as NodeJS.EventEmitter).on(
    'response',
    (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
      histogram.recordValue(Math.max(1, Math.round(responseTimeMs * 1000)));
    },
  );
  const result = await instance;
  const total = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  const out: LoadResult = {
    tool: 'autocannon',
    rps: total / result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    p50Ms: histogram.getValueAtPercentile(50) / 1000,
    p99Ms: histogram.getValueAtPercentile(99) / 1000,
    load: loadavg(),
  };
  histogram.destroy();
  return out;
}

function rotatingCookie(rotate: { name: string; values: string[] }): (req: autocannon.Request) => autocannon.Request {
  let next = 0;
  return (req) => {
    const value = rotate.values[next++ % rotate.values.length]!;
    return { ...req, headers: { ...req.headers, cookie: `${rotate.name}=${value}` } };
  };
}

export function wrkAvailable(): boolean {
  return spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;
}

export function wrkVersion(): string {
  const probe = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (probe.error) return 'not installed';
  return /wrk (\S+)/.exec(`${probe.stdout}${probe.stderr}`)?.[1] ?? 'unknown';
}

/**
 * wrk (C, one thread): far cheaper per request than autocannon, so it can tell the empty server from
 * tokensync when autocannon cannot. A Lua script sets the method, headers and body and counts non-2xx.
 */
export async function runWrk(spec: LoadSpec, scratchDir: string): Promise<LoadResult> {
  const script = join(scratchDir, `wrk-${process.pid}-${Math.random().toString(36).slice(2)}.lua`);
  const lua = [
    `wrk.method = ${JSON.stringify(spec.method ?? 'GET')}`,
    ...(spec.body !== undefined ? [`wrk.body = ${luaString(spec.body)}`] : []),
    ...Object.entries(spec.headers ?? {}).map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`),
    ...(spec.rotateCookie
      ? [
          'local values = {}',
          `for line in io.lines(${luaString(await writeLines(script, spec.rotateCookie.values))}) do values[#values + 1] = line end`,
          'local next = 0',
          'request = function()',
          '  next = next % #values + 1',
          `  return wrk.format(nil, nil, { Cookie = ${luaString(`${spec.rotateCookie.name}=`)} .. values[next] })`,
          'end',
        ]
      : []),
    'done = function(summary, latency, requests)',
    '  io.write(string.format("BENCH %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,',
    '    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,',
    '    latency:percentile(50), latency:percentile(99), 0))',
    'end',
  ].join('\n');
  await writeFile(script, `${lua}\n`);
  const args = ['-t1', `-c${spec.connections}`, `-d${spec.durationS}s`, '--timeout', '10s', '-s', script, spec.url];
  const stdout = await new Promise<string>((resolve, reject) => {
    const proc = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), (spec.durationS + 30) * 1000);
    proc.once('error', reject);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
  const m = /BENCH (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(stdout);
  if (!m) throw new Error(`wrk printed no summary: ${stdout.slice(-500)}`);
  const [requests, durationUs, status, errors, p50Us, p99Us] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return {
    tool: 'wrk',
    rps: requests / (durationUs / 1e6),
    ok: requests - status,
    non2xx: status,
    errors,
    p50Ms: p50Us / 1000,
    p99Ms: p99Us / 1000,
    load: loadavg(),
  };
}

async function writeLines(script: string, lines: string[]): Promise<string> {
  const path = `${script}.values`;
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

function luaString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}
