/**
 * Progress on stderr: a cli-progress bar when stderr is a terminal, otherwise one JSON line
 * (`{"type":"progress",...}`) at most every `intervalMs` plus the final one — never on stdout.
 */
import cliProgress from 'cli-progress';
import type { CliStream } from './io.js';

export interface ProgressUpdate {
  done: number;
  total: number;
  /** Short text shown next to the bar, e.g. the current series. */
  detail?: string;
  extra?: Record<string, unknown>;
}

export class Progress {
  private bar: cliProgress.SingleBar | undefined;
  private lastEmit = 0;
  private last: ProgressUpdate | undefined;
  private stopped = false;

  constructor(
    private readonly stream: CliStream,
    private readonly task: string,
    private readonly options: { intervalMs?: number; enabled?: boolean } = {},
  ) {}

  update(u: ProgressUpdate): void {
    if (this.stopped || this.options.enabled === false) return;
    this.last = u;
    if (this.stream.isTTY) {
      if (!this.bar) {
        this.bar = new cliProgress.SingleBar(
          {
            stream: this.stream as unknown as NodeJS.WritableStream,
            format: `${this.task} [{bar}] {percentage}% | {value}/{total} | {detail}`,
            hideCursor: true,
            etaBuffer: 50,
            fps: 10,
          },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(Math.max(1, u.total), u.done, { detail: u.detail ?? '' });
      }
      this.bar.setTotal(Math.max(1, u.total));
      this.bar.update(u.done, { detail: u.detail ?? '' });
      return;
    }
    const now = Date.now();
    if (u.done < u.total && now - this.lastEmit < (this.options.intervalMs ?? 1000)) return;
    this.emit(u);
  }

  /** Final state (always printed in JSON mode when anything was reported). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.bar) {
      this.bar.stop();
      return;
    }
    if (this.last && this.lastEmitted !== this.last) this.emit(this.last);
  }

  private lastEmitted: ProgressUpdate | undefined;

  private emit(u: ProgressUpdate): void {
    this.lastEmit = Date.now();
    this.lastEmitted = u;
    const fraction = u.total === 0 ? 1 : u.done / u.total;
    this.stream.write(
      `${JSON.stringify({ type: 'progress', task: this.task, done: u.done, total: u.total, fraction: Math.round(fraction * 10_000) / 10_000, ...(u.detail ? { detail: u.detail } : {}), ...u.extra })}\n`,
    );
  }
}
