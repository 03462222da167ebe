import type { LoggerService, LogLevel as NestLogLevel } from '@nestjs/common';
import type { Logger } from 'pino';

/** Routes Nest's own logs (bootstrap, router, exceptions) through the service's pino logger. */
export class PinoNestLogger implements LoggerService {
  private enabled: Set<NestLogLevel> | undefined;

  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...optional: unknown[]): void {
    this.write('log', 'info', message, optional);
  }

  error(message: unknown, ...optional: unknown[]): void {
    this.write('error', 'error', message, optional, true);
  }

  warn(message: unknown, ...optional: unknown[]): void {
    this.write('warn', 'warn', message, optional);
  }

  debug(message: unknown, ...optional: unknown[]): void {
    this.write('debug', 'debug', message, optional);
  }

  verbose(message: unknown, ...optional: unknown[]): void {
    this.write('verbose', 'trace', message, optional);
  }

  fatal(message: unknown, ...optional: unknown[]): void {
    this.write('fatal', 'fatal', message, optional, true);
  }

  setLogLevels(levels: NestLogLevel[]): void {
    this.enabled = new Set(levels);
  }

  private write(
    nestLevel: NestLogLevel,
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal',
    message: unknown,
    optional: unknown[],
    mayHaveStack = false,
  ): void {
    if (this.enabled && !this.enabled.has(nestLevel)) return;
    const args = optional.filter((a) => a !== undefined);
    // Nest passes the context (class name) as the last string argument.
    const context = args.length > 0 && typeof args[args.length - 1] === 'string' ? (args.pop() as string) : undefined;
    const fields: Record<string, unknown> = {};
    if (context) fields['context'] = context;
    if (mayHaveStack && typeof args[0] === 'string' && args[0].includes('\n    at ')) fields['stack'] = args.shift();
    if (args.length > 0) fields['extra'] = args;
    if (message instanceof Error) {
      fields['err'] = message;
      this.logger[level](fields, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...fields, ...(message as Record<string, unknown>) });
    } else {
      this.logger[level](fields, String(message));
    }
  }
}
