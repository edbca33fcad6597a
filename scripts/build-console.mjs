#!/usr/bin/env node
// Builds the browser console (console/) into dist/sidecar/console/ui/, beside the code that serves it, so that
// the package's files and the Docker image carry it wherever they carry dist/sidecar: its TypeScript with its own
// tsconfig (DOM types, browser modules), and its page and style sheet copied as they are. No bundler, no CDN.
import { copyFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist', 'sidecar', 'console', 'ui');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const built = spawnSync(process.execPath, [tsc, '-p', join(root, 'console', 'tsconfig.json')], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);
mkdirSync(out, { recursive: true });
for (const file of ['index.html', 'console.css']) copyFileSync(join(root, 'console', file), join(out, file));
