import cliProgress from 'cli-progress';
import type { MigrateProgress } from '../sidecar/store/migrate.js';
import type { Io } from './output.js';

export interface ProgressReporter {
  update(progress: MigrateProgress): void;
  stop(): void;
}

const LABEL: Record<MigrateProgress['phase'], string> = {
  counting: 'counting',
  markers: 'markers',
  copying: 'copying',
  verifying: 'verifying',
};

/**
 * A bar with rate and ETA when stderr is a terminal; otherwise (a log, a CI job) one plain line when a phase
 * starts and every `everyMs`, so the output stays readable in a file. Progress goes to stderr: stdout keeps
 * the result (`--json` included).
 */
export function progressReporter(io: Io, options: { tty: boolean; everyMs?: number; stream?: NodeJS.WritableStream }): ProgressReporter {
  return options.tty ? new BarReporter(options.stream ?? process.stderr) : new LineReporter(io, options.everyMs ?? 2_000);
}

class BarReporter implements ProgressReporter {
  private bar: cliProgress.SingleBar | undefined;
  private phase: string | undefined;

  constructor(private readonly stream: NodeJS.WritableStream) {}

  update(p: MigrateProgress): void {
    if (p.phase === 'markers') return; // no bar for a handful of markers
    const unit = p.phase === 'verifying' ? 'shard groups' : 'records';
    if (p.phase !== this.phase) {
      this.bar?.stop();
      this.phase = p.phase;
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.stream,
          format: `${LABEL[p.phase].padEnd(9)} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate}/s | ETA {eta}{extra}`,
          etaBuffer: 50,
          fps: 5,
          hideCursor: true,
          barsize: 30,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.max(p.total, 1), 0, { rate: 0, eta: '-', extra: '' });
    }
    const extra = p.phase === 'copying' && (p.existing > 0 || p.failed > 0) ? ` | ${p.existing} already there, ${p.failed} failed` : '';
    // the ETA from the phase's own average rate: steadier than the bar's, and never "Infinity" at the start
    this.bar!.update(p.done, { rate: Math.round(p.ratePerSecond), eta: eta(p), extra });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

class LineReporter implements ProgressReporter {
  private phase: string | undefined;
  private last = 0;

  constructor(
    private readonly io: Io,
    private readonly everyMs: number,
  ) {}

  update(p: MigrateProgress): void {
    const now = Date.now();
    const finished = p.total > 0 && p.done >= p.total;
    if (p.phase === this.phase && now - this.last < this.everyMs && !finished) return;
    if (p.phase === this.phase && finished && this.last < 0) return; // said already
    this.phase = p.phase;
    this.last = finished ? -1 : now;
    this.io.err(formatLine(p));
  }

  stop(): void {}
}

/** "1m 05s", "12s", or "-" while the rate is not known yet. */
function eta(p: MigrateProgress): string {
  if (p.ratePerSecond <= 0) return '-';
  const seconds = Math.max(0, Math.ceil((p.total - p.done) / p.ratePerSecond));
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
}

export function formatLine(p: MigrateProgress): string {
  if (p.phase === 'markers') return `markers: copying logout markers; ${p.total} records to go through`;
  if (p.phase === 'verifying') return `verifying: ${p.done}/${p.total} shard groups compared`;
  const percent = p.total > 0 ? Math.floor((p.done * 100) / p.total) : 100;
  const rate = Math.round(p.ratePerSecond);
  const left = rate > 0 && p.total > p.done ? `, ETA ${eta(p)}` : '';
  return `${p.phase}: ${p.done}/${p.total} records (${percent}%), ${rate}/s${left}; ${p.created} created, ${p.existing} already there, ${p.skipped} skipped, ${p.failed} failed`;
}
