import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './sidecar-process.js';
import { request, type HttpResult } from './http.js';
import { TIME_SCALE } from '../../sidecar/util/wait-for.js';

/** examples/express-app/server.mjs as a real process on an ephemeral loopback port (found from its log line). */
const SERVER = join(ROOT, 'examples', 'express-app', 'server.mjs');

export class ExampleApp {
  private proc: ChildProcess | undefined;
  output = '';
  url = '';

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
  ) {}

  async start(): Promise<this> {
    const proc = spawn(process.execPath, [SERVER], {
      env: { ...process.env, PORT: '0', NODE_NAME: this.name, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start:\n${this.output}`)), 15_000 * TIME_SCALE);
      proc.stdout!.on('data', (c: Buffer) => {
        this.output += c.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(this.output);
        if (m) {
          clearTimeout(timer);
          this.url = m[1]!;
          resolve();
        }
      });
      proc.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}):\n${this.output}`));
      });
    });
    return this;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise((r) => {
      p.once('exit', r);
      p.kill('SIGTERM');
    });
  }
}

const JSON_ACCEPT = { accept: 'application/json' };

/** POST /login as JSON; the session cookie (`tokensync=...`) it set. */
export async function loginAs(app: ExampleApp, username: string): Promise<string> {
  const res = await request(app.url, 'POST', '/login', { body: { username }, headers: JSON_ACCEPT });
  assert.equal(res.status, 200, res.text);
  return cookieFrom(res);
}

/** The `tokensync=...` pair of a response's Set-Cookie. */
export function cookieFrom(res: HttpResult): string {
  const all = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const c = all.find((h) => /^tokensync=[^;]+/.test(h));
  assert.ok(c, `no session cookie in ${JSON.stringify(all)}`);
  return c.slice(0, c.indexOf(';'));
}
