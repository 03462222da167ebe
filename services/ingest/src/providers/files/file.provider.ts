/**
 * MarketDataProvider over bar files: an explicit file set and/or a directory whose files are named
 * `{SYMBOL}_{TF}[_anything].{csv,txt,tsv}` (MT5 `XAUUSD_H1_202401020000_202401312300.csv`, `XAUUSD_1h.csv`) or
 * HistData `DAT_ASCII_{SYMBOL}_M1_{YYYY}.csv`. Batch only: there is no live quote stream from files.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CanonicalBar, Timeframe } from '@noctria/canonical-bar';
import { ProviderError, PROVIDER_ERROR_IDS } from '../errors.js';
import type {
  FetchResult,
  FetchTimeSeriesRequest,
  MarketDataProvider,
  ProviderCapabilities,
  ProviderHealth,
  QuoteStreamHandle,
  RateLimitInfo,
  RejectedRow,
  SymbolMeta,
} from '../market-data-provider.port.js';
import { canonicalSymbol } from '../internal/symbol.js';
import { KNOWN_TIMEFRAMES_LIST } from '../internal/known-timeframes.js';
import { FILE_PROVIDER_VERSION, parseBarFile, type BarFileOptions } from './bar-file-parser.js';

export interface FileSetEntry {
  path: string;
  symbol: string;
  timeframe: Timeframe;
  options?: Partial<Omit<BarFileOptions, 'symbol' | 'timeframe' | 'ingestRunId'>>;
}

export interface FileProviderOptions {
  sourceId?: string;
  files?: FileSetEntry[];
  /** Scanned on every call, so files dropped in later are picked up. */
  directory?: string;
  /** Defaults applied to every file (timeZone, format, columns, encoding…). */
  defaults?: Partial<Omit<BarFileOptions, 'symbol' | 'timeframe' | 'ingestRunId'>>;
  assets?: string[];
}

const TF_NAMES: Record<string, Timeframe> = {
  M1: '1m',
  M5: '5m',
  M15: '15m',
  H1: '1h',
  H4: '4h',
  D1: '1d',
  '1M': '1m',
  '5M': '5m',
  '15M': '15m',
  '1H': '1h',
  '4H': '4h',
  '1D': '1d',
};

const FILE_NAME = /^(?:DAT_ASCII_)?([A-Za-z0-9]+)_(M1|M5|M15|H1|H4|D1|1m|5m|15m|1h|4h|1d)(?:_[^.]*)?\.(?:csv|txt|tsv)$/i;

/** Symbol and timeframe implied by a file name, or null when it follows no known convention. */
export function classifyBarFileName(name: string): { symbol: string; timeframe: Timeframe } | null {
  const m = FILE_NAME.exec(name);
  if (!m) return null;
  const tf = TF_NAMES[(m[2] as string).toUpperCase()];
  return tf ? { symbol: canonicalSymbol(m[1] as string), timeframe: tf } : null;
}

export class FileProvider implements MarketDataProvider {
  readonly sourceId: string;
  readonly providerVersion = FILE_PROVIDER_VERSION;

  constructor(private readonly options: FileProviderOptions) {
    this.sourceId = options.sourceId ?? 'file';
  }

  async entries(): Promise<FileSetEntry[]> {
    const out: FileSetEntry[] = (this.options.files ?? []).map((f) => ({ ...f, symbol: canonicalSymbol(f.symbol) }));
    if (this.options.directory) {
      let names: string[];
      try {
        names = (await readdir(this.options.directory)).sort();
      } catch (err) {
        throw new ProviderError(PROVIDER_ERROR_IDS.fileRead, `cannot list ${this.options.directory}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
          retryable: false,
          sourceId: this.sourceId,
        });
      }
      for (const name of names) {
        const c = classifyBarFileName(name);
        if (c) out.push({ path: join(this.options.directory, name), ...c });
      }
    }
    return out;
  }

  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<FetchResult> {
    const started = performance.now();
    const symbol = canonicalSymbol(req.symbol);
    const files = (await this.entries()).filter((e) => e.symbol === symbol && e.timeframe === req.timeframe);
    const byTs = new Map<number, CanonicalBar>();
    const rejected: RejectedRow[] = [];
    for (const f of files) {
      for await (const row of parseBarFile(f.path, {
        sourceId: this.sourceId,
        ...this.options.defaults,
        ...f.options,
        symbol,
        timeframe: req.timeframe,
        ingestRunId: req.ingestRunId,
      })) {
        if (req.signal?.aborted) throw new ProviderError(PROVIDER_ERROR_IDS.apiAborted, 'file fetch aborted', { retryable: false, sourceId: this.sourceId });
        if ('bar' in row) {
          const t = Date.parse(row.bar.ts_utc);
          if (t >= req.startMs && t < req.endMs) byTs.set(t, row.bar); // later files win (latest_wins)
        } else if (row.tsMs === undefined || (row.tsMs >= req.startMs && row.tsMs < req.endMs)) {
          rejected.push({ ...row.rejected, reason: `${f.path}:${row.rejected.line}: ${row.rejected.reason}` });
        }
      }
    }
    const bars = [...byTs.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b);
    return { bars: req.limit !== undefined ? bars.slice(0, req.limit) : bars, rejected, latencyMs: performance.now() - started };
  }

  async streamQuotes(): Promise<QuoteStreamHandle> {
    throw new ProviderError(PROVIDER_ERROR_IDS.unsupported, `${this.sourceId} is a batch (file) source and has no quote stream`, {
      retryable: false,
      sourceId: this.sourceId,
    });
  }

  async listSymbols(filters: { assetClass?: string; search?: string } = {}): Promise<SymbolMeta[]> {
    const seen = new Map<string, SymbolMeta>();
    for (const e of await this.entries()) if (!seen.has(e.symbol)) seen.set(e.symbol, { symbol: e.symbol, symbolSource: e.symbol, assetClass: 'FILE' });
    const search = filters.search?.toUpperCase();
    return [...seen.values()].filter((s) => (!filters.assetClass || s.assetClass === filters.assetClass) && (!search || s.symbol.includes(search)));
  }

  getCapabilities(): ProviderCapabilities {
    return { timeframes: [...KNOWN_TIMEFRAMES_LIST], assets: this.options.assets ?? ['FX', 'CFD'], limits: { maxBarsPerRequest: Number.MAX_SAFE_INTEGER }, latencyProfile: 'batch' };
  }

  getRateLimit(): RateLimitInfo {
    return { restQps: Number.POSITIVE_INFINITY, wsChannels: 0, burst: Number.MAX_SAFE_INTEGER, policy: 'local files: unlimited' };
  }

  async healthCheck(): Promise<ProviderHealth> {
    try {
      const files = await this.entries();
      return { status: files.length > 0 ? 'up' : 'degraded', details: { files: files.length } };
    } catch (err) {
      return { status: 'down', details: { errorId: (err as ProviderError).id, message: (err as Error).message } };
    }
  }
}
