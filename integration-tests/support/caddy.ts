import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './sidecar-process.js';
import { findExecutable } from './find-executable.js';
import { connects, freePort } from './ports.js';
import { TIME_SCALE, waitFor } from '../../sidecar/util/wait-for.js';

/**
 * A real Caddy for the tests (Debian's `caddy` package), run in the
 * foreground (`caddy run`) on a Caddyfile, with a free loopback port handed
 * to it in `LISTEN`. HOME and the XDG folders point into a temporary folder
 * removed on stop, so nothing of the system's Caddy (its storage, its
 * autosaved config, a packaged service) is used or touched.
 */

/** The caddy binary: on PATH, else Debian's /usr/bin/caddy or a hand install in /usr/local/bin. */
export function findCaddy(): string | undefined {
  return findExecutable('caddy', ['/usr/bin', '/usr/local/bin']);
}

/** Why Caddy tests skip, or false when caddy is there. */
export function caddySkipReason(): string | false {
  return findCaddy() ? false : 'caddy is not installed: `apt-get install -y caddy` (Debian); CI installs it in .ci/run';
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface CaddyOptions {
  /** The Caddyfile, used as it is. */
  caddyfile: string;
  /** Environment for the Caddyfile's `{$VAR}`s, given the port to listen on. */
  env: (port: number) => Record<string, string>;
}

export class CaddyProcess {
  private proc: ChildProcess | undefined;
  private output = '';
  port = 0;
  home = '';

  constructor(private readonly o: CaddyOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Caddy's own log (JSON lines on stderr). */
  get logs(): string {
    return this.output;
  }

  async start(): Promise<this> {
    const caddy = findCaddy();
    if (!caddy) throw new Error('caddy is not installed');
    this.home = await tempDir('tokensync-caddy-');
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      try {
        await this.spawn(caddy);
        return this;
      } catch (err) {
        // Someone took the free port between our check and Caddy's bind: pick another.
        if (attempt < 3 && /address already in use/.test(this.output)) continue;
        await this.stop();
        throw err;
      }
    }
  }

  private async spawn(caddy: string): Promise<void> {
    this.output = '';
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.home,
      XDG_DATA_HOME: join(this.home, 'data'),
      XDG_CONFIG_HOME: join(this.home, 'config'),
      ...this.o.env(this.port),
    };
    const proc = spawn(caddy, ['run', '--config', this.o.caddyfile, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    live.add(proc);
    proc.stdout!.on('data', (c: Buffer) => (this.output += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
    let exited: string | undefined;
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      exited = `caddy exited (${code ?? signal})`;
    });
    await waitFor(
      async () => {
        if (exited) throw new Error(`${exited}:\n${this.output}`);
        return connects(this.port);
      },
      `caddy listening on 127.0.0.1:${this.port}`,
      10_000,
      20,
    );
  }

  /** SIGTERM (Caddy's graceful stop), SIGKILL if it lingers; then its temporary folder goes. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => p.kill('SIGKILL'), 10_000 * TIME_SCALE);
        p.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        p.kill('SIGTERM');
      });
    }
    if (this.home) await rm(this.home, { recursive: true, force: true });
  }
}
