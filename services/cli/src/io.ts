/**
 * Output of the `noctria` command. Human mode writes readable lines on stdout; `--json` writes exactly one JSON
 * object per line on stdout (records, summaries and errors) and keeps progress on stderr.
 */
import { NoctriaError } from '@noctria/platform';

export interface CliStream {
  write(chunk: string): unknown;
  /** Set on terminals: progress bars are drawn only there. */
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  /** Environment the command reads (default process.env). */
  env?: Record<string, string | undefined>;
  /** Aborted on Ctrl-C by `main.ts`: long commands stop between chunks. */
  signal?: AbortSignal;
}

/** Error ids of the CLI itself. */
export const CLI_ERROR = {
  /** Bad arguments or options. */
  ARGS: 'UI_CLI_ARGS',
  /** A file given on the command line could not be read or parsed at all. */
  FILE: 'UI_CLI_FILE',
  /** The command failed (infrastructure, configuration, unexpected error). */
  FAILED: 'UI_CLI_FAILED',
} as const;

/** Exit codes: 0 ok, 1 command failed, 2 bad arguments (like most Unix tools), 78 bad environment (EX_CONFIG). */
export const EXIT = { OK: 0, FAILED: 1, ARGS: 2, CONFIG: 78 } as const;

export class CliError extends NoctriaError {
  constructor(
    id: string,
    message: string,
    readonly exitCode: number = id === CLI_ERROR.ARGS ? EXIT.ARGS : EXIT.FAILED,
    details: Record<string, unknown> = {},
  ) {
    super(id, message, { severity: 'INFO', details });
  }
}

export function argsError(message: string, details: Record<string, unknown> = {}): CliError {
  return new CliError(CLI_ERROR.ARGS, message, EXIT.ARGS, details);
}

/** What every command writes through. */
export class Output {
  constructor(
    readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** A machine-readable record (stdout, one line in --json mode) with its human rendering. */
  record(type: string, data: Record<string, unknown>, human?: string | string[]): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify({ type, ...data })}\n`);
    else if (human !== undefined) for (const line of Array.isArray(human) ? human : [human]) this.io.stdout.write(`${line}\n`);
  }

  /** A human note (stderr, so --json stdout stays machine-readable). */
  note(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }

  error(id: string, message: string, details: Record<string, unknown> = {}): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify({ type: 'error', error_id: id, message, ...(Object.keys(details).length > 0 ? { details } : {}) })}\n`);
    this.io.stderr.write(`noctria: error ${id}: ${message}\n`);
  }
}

/** Renders a table of rows (human mode). */
export function table(rows: Record<string, unknown>[], columns: string[]): string[] {
  if (rows.length === 0) return ['  (none)'];
  const cell = (v: unknown) => (v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => `  ${vals.map((v, i) => v.padEnd(widths[i] as number)).join('  ')}`.trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))];
}
