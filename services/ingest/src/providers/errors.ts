/**
 * Framework-free provider errors. Ids follow `{DOMAIN}_{CATEGORY}_{CODE}` (seed 003, error-code naming v1);
 * the ingest service maps them onto the platform's NoctriaError at its boundary.
 */
export const PROVIDER_ERROR_IDS = {
  apiTimeout: 'DATA_API_TIMEOUT',
  apiRateLimit: 'DATA_API_RATELIM',
  apiHttp5xx: 'DATA_API_HTTP5XX',
  apiStatus: 'DATA_API_STATUS',
  apiParse: 'DATA_API_PARSE',
  apiConnFail: 'DATA_API_CONNFAIL',
  apiAborted: 'DATA_API_ABORTED',
  circuitOpen: 'DATA_API_CBOPEN',
  wsConnFail: 'DATA_WS_CONNFAIL',
  wsParse: 'DATA_WS_PARSE',
  fileParse: 'DATA_FILE_PARSE',
  fileColumn: 'DATA_FILE_COLUMN',
  fileRead: 'DATA_FILE_READ',
  barInvalid: 'DATA_BAR_INVALID',
  keyMissing: 'DATA_CFG_APIKEY',
  configInvalid: 'DATA_CFG_INVALID',
  unsupported: 'DATA_SRC_UNSUPPORTED',
  allSourcesFailed: 'DATA_SRC_ALLFAILED',
} as const;

export type ProviderErrorId = (typeof PROVIDER_ERROR_IDS)[keyof typeof PROVIDER_ERROR_IDS];

export interface ProviderErrorOptions {
  retryable: boolean;
  status?: number;
  retryAfterMs?: number;
  sourceId?: string;
  cause?: unknown;
}

export class ProviderError extends Error {
  readonly id: string;
  readonly retryable: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly sourceId?: string;

  constructor(id: string, message: string, options: ProviderErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProviderError';
    this.id = id;
    this.retryable = options.retryable;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.sourceId !== undefined) this.sourceId = options.sourceId;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      id: this.id,
      message: this.message,
      retryable: this.retryable,
      status: this.status,
      retryAfterMs: this.retryAfterMs,
      sourceId: this.sourceId,
    };
  }
}

export function isProviderError(err: unknown): err is ProviderError {
  return err instanceof ProviderError;
}

/** Replaces every occurrence of each secret (and its URL-encoded form) with `***`. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  return out;
}

/** True when an error was caused by the caller's own AbortSignal (not by a timeout). */
export function isAbortFromSignal(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
