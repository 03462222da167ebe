import { sql, type Kysely } from 'kysely';
import type { Logger } from '@noctria/platform';
import type { DB } from '../db/schema.js';
import { QuarantineRepository, type QuarantineRow } from '../repositories/quarantine.repository.js';
import { logEvent, type IngestMetrics } from '../telemetry.js';
import { monthKey, monthStartMs, nextMonthStartMs } from './months.js';

export interface DqThresholds {
  missing_rate: number;
  outlier_rate: number;
}

export interface MonthEvaluation {
  symbol: string;
  timeframe: string;
  month: string;
  rangeFromMs: number;
  rangeToMs: number;
  expected: number;
  present: number;
  missing: number;
  outliers: number;
  missingRate: number;
  outlierRate: number;
  quarantined: boolean;
  reason: string | null;
  action: 'opened' | 'refreshed' | 'released' | 'none';
}

export interface QuarantineServiceOptions {
  db: Kysely<DB>;
  logger: Logger;
  metrics: IngestMetrics;
  thresholds: DqThresholds;
  /** Number of expected bar opens in [fromMs, toMs) for a timeframe (trading calendar of the universe). */
  expectedBars: (timeframe: string, fromMs: number, toMs: number) => number;
  timeframeMs: (timeframe: string) => number;
}

/**
 * Quarantine of timeframe × symbol × month (seed 003 "隔離"): evaluated from what is stored, so a re-fetch
 * that fills the gaps (or replaces the outliers) releases it automatically. The evaluated range of a month is
 * clipped to the series' coverage: [max(month start, first stored bar), min(month end, watermark + 1 bar)).
 */
export class QuarantineService {
  private readonly repo: QuarantineRepository;

  constructor(private readonly options: QuarantineServiceOptions) {
    this.repo = new QuarantineRepository(options.db);
  }

  async evaluate(runId: string, symbol: string, timeframe: string, months: readonly string[]): Promise<MonthEvaluation[]> {
    const { db, thresholds } = this.options;
    const tfMs = this.options.timeframeMs(timeframe);
    const cov = await sql<{ first_ts: Date | null; last_ts: Date | null }>`
      select (select min(ts_utc) from ingest.canonical_bars where symbol = ${symbol} and timeframe = ${timeframe}) as first_ts,
             (select last_ts from ingest.watermarks where symbol = ${symbol} and timeframe = ${timeframe}) as last_ts`.execute(db);
    const firstMs = cov.rows[0]?.first_ts?.getTime();
    const lastMs = cov.rows[0]?.last_ts?.getTime();
    const out: MonthEvaluation[] = [];
    for (const month of [...new Set(months)].sort()) {
      const mStart = monthStartMs(month);
      const mEnd = nextMonthStartMs(month);
      const from = Math.max(mStart, firstMs ?? mStart);
      const to = Math.min(mEnd, lastMs === undefined ? mEnd : lastMs + tfMs);
      const stats = await sql<{ present: number; outliers: number }>`
        select count(*) filter (where quality_flag <> 'missing')::int as present,
               count(*) filter (where quality_flag = 'outlier')::int as outliers
        from ingest.canonical_bars
        where symbol = ${symbol} and timeframe = ${timeframe}
          and ts_utc >= ${new Date(from).toISOString()}::timestamptz and ts_utc < ${new Date(to).toISOString()}::timestamptz`.execute(db);
      const present = stats.rows[0]?.present ?? 0;
      const outliers = stats.rows[0]?.outliers ?? 0;
      const expected = to > from ? this.options.expectedBars(timeframe, from, to) : 0;
      const missing = Math.max(0, expected - present);
      const missingRate = expected > 0 ? missing / expected : 0;
      const outlierRate = expected > 0 ? outliers / expected : 0;
      const reasons: string[] = [];
      if (missingRate > thresholds.missing_rate) reasons.push(`missing_rate ${missingRate.toFixed(4)} > ${thresholds.missing_rate}`);
      if (outlierRate > thresholds.outlier_rate) reasons.push(`outlier_rate ${outlierRate.toFixed(4)} > ${thresholds.outlier_rate}`);
      const reason = reasons.length > 0 ? reasons.join('; ') : null;
      let action: MonthEvaluation['action'] = 'none';
      if (reason) {
        const opened = await this.repo.open({
          symbol,
          timeframe,
          month,
          reason,
          metrics: { expected, present, missing, outliers, missing_rate: missingRate, outlier_rate: outlierRate },
          thresholds: { ...thresholds },
          rangeFromMs: from,
          rangeToMs: to,
          runId,
        });
        action = opened ? 'opened' : 'refreshed';
        this.options.metrics.dqFailTotal.inc({ symbol, timeframe, reason: missingRate > thresholds.missing_rate ? 'missing_rate' : 'outlier_rate' });
        if (opened) {
          logEvent(this.options.logger, 'warn', 'quarantine_opened', {
            symbol,
            timeframe,
            ingest_run_id: runId,
            details: { error_id: 'DATA_DQ_THRESHOLD', month, reason, missing_rate: missingRate, outlier_rate: outlierRate },
          });
        }
      } else if (await this.repo.release(symbol, timeframe, month, runId)) {
        action = 'released';
        logEvent(this.options.logger, 'info', 'quarantine_released', { symbol, timeframe, ingest_run_id: runId, details: { month } });
      }
      this.options.metrics.missingRate.set({ symbol, timeframe }, missingRate);
      this.options.metrics.outlierRate.set({ symbol, timeframe }, outlierRate);
      out.push({
        symbol,
        timeframe,
        month,
        rangeFromMs: from,
        rangeToMs: to,
        expected,
        present,
        missing,
        outliers,
        missingRate,
        outlierRate,
        quarantined: reason !== null,
        reason,
        action,
      });
    }
    const active = await this.repo.list({ symbol, timeframe, activeOnly: true });
    this.options.metrics.quarantineActive.set({ symbol, timeframe }, active.length);
    return out;
  }

  list(filter: { symbol?: string; timeframe?: string; activeOnly?: boolean } = {}): Promise<QuarantineRow[]> {
    return this.repo.list(filter);
  }
}

export { monthKey };
