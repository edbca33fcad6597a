import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * A peer server in its own process (never in the bench process, which runs the load generator): a compiled
 * script from `dist/bench/peers/` that prints `{"port":N}` once it listens on 127.0.0.1.
 */
export class ChildServer {
  port = 0;
  private proc: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly args: string[] = [],
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(timeoutMs = 20_000): Promise<this> {
    const path = fileURLToPath(new URL(`../peers/${this.script}`, import.meta.url));
    const proc = spawn(process.execPath, [path, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    liveChildren.add(proc);
    proc.on('exit', () => liveChildren.delete(proc));
    proc.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
    this.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start: ${this.output.slice(-2000)}`)), timeoutMs);
      let out = '';
      proc.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /\{"port":(\d+)\}/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code ?? signal}): ${this.output.slice(-2000)}`));
      });
    });
    return this;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const proc of liveChildren) proc.kill('SIGKILL');
});
