import { Command } from 'commander';
import type { CliErrorCode } from '../sidecar/errors/error-codes.js';
import { TokensyncError } from '../sidecar/errors/tokensync-error.js';

/** An error the CLI reports as one line and an exit code: 1 (`cli.failed`) or 2 (`cli.usage`). */
export class CliError extends TokensyncError {
  override readonly name = 'CliError';
  readonly code: CliErrorCode;
  /** The command already said why (e.g. `verify` printed its checks): only the exit code is left to give. */
  readonly reported: boolean;
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    options: { reported?: boolean } = {},
  ) {
    super(message);
    this.code = exitCode === 2 ? 'cli.usage' : 'cli.failed';
    this.reported = options.reported === true;
  }
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : text + '\n'),
  get isTTY() {
    return process.stdout.isTTY === true;
  },
};

/** The Io a command writes to: set on the root program by buildProgram(). */
export function ioOf(command: Command): Io {
  let c: Command | null = command;
  while (c?.parent) c = c.parent;
  return ((c as unknown as { io?: Io })?.io ?? processIo) as Io;
}

export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** Aligned columns, no borders: easy to read and to grep. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const cells = rows.map((r) => columns.map((c) => (r[c] === undefined || r[c] === null ? '-' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

/** "in 6d 23h", "3m ago": what an operator wants to read, not an epoch. */
export function relativeTime(ms: number | null, now = Date.now()): string {
  if (ms === null) return 'never';
  const delta = ms - now;
  const abs = Math.abs(delta);
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  const parts: string[] = [];
  let rest = abs;
  for (const [unit, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  const text = parts.length ? parts.join(' ') : '0s';
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}
