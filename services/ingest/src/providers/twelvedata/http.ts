/**
 * One TwelveData REST call with failure classification. The API key travels as the `apikey` query parameter
 * (as the API documents) and is redacted from every message this module produces.
 */
import { ProviderError, PROVIDER_ERROR_IDS, redact } from '../errors.js';

export interface TwelveDataCallOptions {
  baseUrl: string;
  path: string;
  params: Record<string, string | number | undefined>;
  apiKey: string;
  timeoutMs: number;
  signal?: AbortSignal;
  sourceId: string;
  fetchImpl?: typeof fetch;
}

export interface TwelveDataCallResult {
  json: Record<string, unknown>;
  body: string;
  latencyMs: number;
  httpStatus: number;
}

/** `No data is available on the specified dates` — TwelveData's answer for an empty range; not a failure. */
export const NO_DATA_MESSAGE = /no data is available/i;

export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const at = Date.parse(s);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

export async function callTwelveData(opts: TwelveDataCallOptions): Promise<TwelveDataCallResult> {
  const url = new URL(opts.path.replace(/^\//, ''), opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
  for (const [k, v] of Object.entries(opts.params)) if (v !== undefined) url.searchParams.set(k, String(v));
  const safeUrl = `${url.origin}${url.pathname}?${[...url.searchParams.keys()].filter((k) => k !== 'apikey').map((k) => `${k}=${url.searchParams.get(k)}`).join('&')}`;
  url.searchParams.set('apikey', opts.apiKey);
  const secrets = [opts.apiKey];
  const fail = (id: string, msg: string, o: { retryable: boolean; status?: number; retryAfterMs?: number; cause?: unknown }) =>
    new ProviderError(id, redact(`${msg} (${safeUrl})`, secrets), { ...o, sourceId: opts.sourceId });

  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const started = performance.now();
  const doFetch = opts.fetchImpl ?? fetch;

  const networkError = (err: unknown): ProviderError => {
    if (opts.signal?.aborted) return fail(PROVIDER_ERROR_IDS.apiAborted, 'request aborted by caller', { retryable: false });
    if (timeout.aborted) return fail(PROVIDER_ERROR_IDS.apiTimeout, `no complete response within ${opts.timeoutMs} ms`, { retryable: true });
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (err as NodeJS.ErrnoException).code ?? (err as Error).name;
    return fail(PROVIDER_ERROR_IDS.apiConnFail, `connection failed: ${code}`, { retryable: true });
  };

  let res: Response;
  let body: string;
  try {
    res = await doFetch(url, { signal, headers: { accept: 'application/json' } });
    body = await res.text();
  } catch (err) {
    throw networkError(err);
  }
  const latencyMs = performance.now() - started;

  if (res.status === 429) {
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    throw fail(PROVIDER_ERROR_IDS.apiRateLimit, `HTTP 429 rate limited${retryAfterMs !== undefined ? `, retry after ${retryAfterMs} ms` : ''}`, {
      retryable: true,
      status: 429,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  if (res.status >= 500) throw fail(PROVIDER_ERROR_IDS.apiHttp5xx, `HTTP ${res.status}`, { retryable: true, status: res.status });

  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    if (res.status >= 400) throw fail(PROVIDER_ERROR_IDS.apiStatus, `HTTP ${res.status}`, { retryable: res.status === 408, status: res.status });
    throw fail(PROVIDER_ERROR_IDS.apiParse, `invalid or truncated JSON (${body.length} bytes)`, { retryable: true, status: res.status });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw fail(PROVIDER_ERROR_IDS.apiParse, 'response is not a JSON object', { retryable: false, status: res.status });
  }
  const obj = json as Record<string, unknown>;
  if (obj['status'] === 'error' || res.status >= 400) {
    const code = typeof obj['code'] === 'number' ? obj['code'] : res.status;
    const message = typeof obj['message'] === 'string' ? obj['message'] : `HTTP ${res.status}`;
    if (code === 429) throw fail(PROVIDER_ERROR_IDS.apiRateLimit, `TwelveData 429: ${message}`, { retryable: true, status: 429 });
    if (code >= 500) throw fail(PROVIDER_ERROR_IDS.apiHttp5xx, `TwelveData ${code}: ${message}`, { retryable: true, status: code });
    throw fail(PROVIDER_ERROR_IDS.apiStatus, `TwelveData ${code}: ${message}`, { retryable: code === 408, status: code });
  }
  return { json: obj, body, latencyMs, httpStatus: res.status };
}
