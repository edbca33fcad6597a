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
          format: `${LABEL[p.phase].padEnd(9)} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}{extra}`,
          etaBuffer: 50,
          fps: 5,
          hideCursor: true,
          barsize: 30,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.max(p.total, 1), 0, { rate: 0, extra: '' });
    }
    const extra = p.phase === 'copying' && (p.existing > 0 || p.failed > 0) ? ` | ${p.existing} already there, ${p.failed} failed` : '';
    this.bar!.update(p.done, { rate: Math.round(p.ratePerSecond), extra });
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

export function formatLine(p: MigrateProgress): string {
  if (p.phase === 'markers') return `markers: copying logout markers; ${p.total} records to go through`;
  if (p.phase === 'verifying') return `verifying: ${p.done}/${p.total} shard groups compared`;
  const percent = p.total > 0 ? Math.floor((p.done * 100) / p.total) : 100;
  const rate = Math.round(p.ratePerSecond);
  const eta = rate > 0 && p.total > p.done ? `, ETA ${Math.ceil((p.total - p.done) / rate)}s` : '';
  return `${p.phase}: ${p.done}/${p.total} records (${percent}%), ${rate}/s${eta}; ${p.created} created, ${p.existing} already there, ${p.skipped} skipped, ${p.failed} failed`;
}
