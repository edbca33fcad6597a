import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Api } from './http.js';
import { TIME_SCALE } from '../../sidecar/util/wait-for.js';
import { faketimeEnv } from './faketime.js';
import { tempDir } from '../../sidecar/util/test-temp-dirs.js';

export { tempDir };

/** The repository root (this file runs from dist/integration-tests/support). */
export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const BIN = join(ROOT, 'bin', 'tokensync.js');

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Writes a properties file. */
export async function writeProperties(path: string, props: Record<string, string | number | boolean>): Promise<string> {
  await writeFile(
    path,
    Object.entries(props)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join('\n') + '\n',
  );
  return path;
}

export interface SidecarSpec {
  nodeId: string;
  /** Properties beyond node.id and sidecar.listen. */
  props: Record<string, string | number | boolean>;
  /** Folder for this node's properties file and log. */
  dir?: string;
  adminToken?: string;
  /** The `tokensync` binary to run (an installed package's); the checkout's own by default. */
  bin?: string;
  /** Run with the wall clock shifted by this many seconds (libfaketime; see faketime.ts). */
  clockOffsetSeconds?: number;
}

/**
 * A real `tokensync sidecar` process. It listens on an ephemeral loopback
 * port, found from its "tokensync ready" log line; a restart keeps the port.
 */
export class SidecarProcess {
  private proc: ChildProcess | undefined;
  private output = '';
  port = 0;
  api!: Api;
  configPath = '';

  constructor(readonly spec: SidecarSpec) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get logs(): string {
    return this.output;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(): Promise<this> {
    const dir = this.spec.dir ?? (await tempDir(`tokensync-${this.spec.nodeId}-`));
    await mkdir(dir, { recursive: true });
    this.configPath = await writeProperties(join(dir, `${this.spec.nodeId}.properties`), {
      'node.id': this.spec.nodeId,
      'sidecar.listen': `127.0.0.1:${this.port}`,
      ...this.spec.props,
    });
    const offset = this.spec.clockOffsetSeconds;
    const env = offset ? faketimeEnv(offset) : process.env;
    const proc = spawn(process.execPath, [this.spec.bin ?? BIN, 'sidecar', '--config', this.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    this.proc = proc;
    live.add(proc);
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      // Say so in the log a failing test prints: a sidecar that died unasked is the story.
      this.output += `\n--- process exited (${code ?? signal}) ---\n`;
    });
    // only this run's output: after a kill or stop, the previous run's "tokensync ready" line is still in it
    const from = this.output.length;
    const ready = new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.spec.nodeId} did not become ready:\n${this.output.slice(-3000)}`)),
        30_000 * TIME_SCALE,
      );
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        const run = this.output.slice(from);
        const m =
          /"listen":"127\.0\.0\.1:(\d+)","message":"tokensync ready"/.exec(run) ??
          /tokensync ready.*?"listen":"127\.0\.0\.1:(\d+)"/.exec(run);
        if (m) {
          clearTimeout(timer);
          this.port = Number(m[1]);
          resolveReady();
        }
      };
      proc.stderr!.on('data', onData);
      proc.stdout!.on('data', (c: Buffer) => (this.output += c.toString()));
      proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.spec.nodeId} exited (${code ?? signal}) before it was ready:\n${this.output.slice(-3000)}`));
      });
    });
    await ready;
    this.api = new Api(this.url, this.spec.adminToken);
    return this;
  }

  /** SIGTERM and wait for a clean exit. */
  async stop(): Promise<number | null> {
    return this.signal('SIGTERM');
  }

  /** kill -9: nothing flushed, nothing closed. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  async restart(): Promise<this> {
    await this.stop();
    this.output += '\n--- restart ---\n';
    return this.start();
  }

  private async signal(sig: NodeJS.Signals): Promise<number | null> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return proc?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    if (sig !== 'SIGKILL') proc.kill('SIGCONT');
    proc.kill(sig);
    return exited;
  }
}

export async function startSidecars(specs: SidecarSpec[]): Promise<SidecarProcess[]> {
  return Promise.all(specs.map((s) => new SidecarProcess(s).start()));
}

/** Runs the CLI to completion. */
export function runCli(
  args: string[],
  options: { cwd?: string; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const proc = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.stdin.end(options.input ?? '');
    proc.on('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}
