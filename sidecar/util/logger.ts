import winston from 'winston';

export type Logger = winston.Logger;

/**
 * JSON lines by default (what log shippers want); a readable one-line format
 * when stderr is a terminal. Logs go to stderr so that CLI output on stdout
 * stays machine-readable.
 */
export function createLogger(options: { level?: string; pretty?: boolean; nodeId?: string } = {}): Logger {
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  const format = pretty
    ? winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.printf(({ timestamp, level, message, ...rest }) => {
          const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
          return `${String(timestamp)} ${level.padEnd(5)} ${String(message)}${extra}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.json());
  return winston.createLogger({
    level: options.level ?? 'info',
    format,
    defaultMeta: options.nodeId ? { node: options.nodeId } : undefined,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

/** A logger that drops everything (tests, CLI commands without --verbose). */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
