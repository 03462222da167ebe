/**
 * Start-up progress on stderr: a cli-progress bar when stderr is a terminal, otherwise one JSON line
 * (`{"event":"progress",...}`) at most every `intervalMs` and the final state.
 */
import cliProgress from 'cli-progress';

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export class StartupProgress {
  private bar: cliProgress.SingleBar | undefined;
  private lastEmit = 0;
  private pending: Record<string, unknown> | undefined;
  private stopped = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly task: string,
    private readonly intervalMs = 2000,
  ) {}

  update(done: number, total: number, detail: string, extra: Record<string, unknown> = {}): void {
    if (this.stopped) return;
    if (this.stream.isTTY) {
      if (!this.bar) {
        this.bar = new cliProgress.SingleBar(
          { stream: this.stream as unknown as NodeJS.WritableStream, format: `${this.task} [{bar}] {percentage}% | {value}/{total} bars | ETA {eta_formatted} | {detail}`, hideCursor: true, fps: 10 },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(Math.max(1, total), done, { detail });
      }
      this.bar.setTotal(Math.max(1, total));
      this.bar.update(done, { detail });
      return;
    }
    const line = { event: 'progress', task: this.task, done, total, fraction: total === 0 ? 1 : Math.round((done / total) * 10_000) / 10_000, detail, ...extra };
    const now = Date.now();
    if (done < total && now - this.lastEmit < this.intervalMs) {
      this.pending = line;
      return;
    }
    this.emit(line);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.bar) this.bar.stop();
    else if (this.pending) this.emit(this.pending);
  }

  private emit(line: Record<string, unknown>): void {
    this.pending = undefined;
    this.lastEmit = Date.now();
    this.stream.write(`${JSON.stringify(line)}\n`);
  }
}
