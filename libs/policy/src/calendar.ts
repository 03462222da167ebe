import { barsToDays, isTimeframe, type Timeframe } from '@noctria/canonical-bar';
import type { TradingCalendar } from './types.js';

/** Average Gregorian month, days. */
export const DAYS_PER_MONTH = 365.2425 / 12;

/** Calendar months (fractional) that `bars` bars of `tf` span on average on `calendar` (canonical-bar timeframe math). */
export function monthsForBars(bars: number, tf: Timeframe, calendar: TradingCalendar): number {
  return barsToDays(bars, tf, calendar) / DAYS_PER_MONTH;
}

export interface RetentionRequirement {
  /** Bars the feature windows need before the first complete feature vector (libs/features warm-up + 1). */
  bars: number;
  /** Timeframe that needs the most calendar time (the largest allowed one). */
  timeframe: Timeframe;
  /** Whole months of canonical history required (ceil, at least 1). */
  months: number;
  /** Fractional months needed per timeframe, for messages. */
  perTimeframe: Partial<Record<Timeframe, number>>;
}

/**
 * Months of canonical bars the feature windows need: the bars before the first complete feature vector
 * (`fullVectorWarmupBars` of libs/features + 1, from the pipeline_policy windows) converted to calendar months with
 * the trading calendar for every allowed timeframe (the largest timeframe dominates), rounded up to whole months.
 */
export function requiredCanonicalMonths(input: { warmup_bars: number; timeframes: readonly string[]; calendar: TradingCalendar }): RetentionRequirement {
  const tfs = input.timeframes.filter(isTimeframe);
  if (tfs.length === 0) throw new Error(`no known timeframe among [${input.timeframes.join(', ')}]`);
  const bars = input.warmup_bars;
  if (!Number.isInteger(bars) || bars < 1) throw new Error(`warmup_bars must be an integer ≥ 1, got ${bars}`);
  const perTimeframe: Partial<Record<Timeframe, number>> = {};
  let worst: { tf: Timeframe; months: number } = { tf: tfs[0] as Timeframe, months: -1 };
  for (const tf of tfs) {
    const months = monthsForBars(bars, tf, input.calendar);
    perTimeframe[tf] = months;
    if (months > worst.months) worst = { tf, months };
  }
  return { bars, timeframe: worst.tf, months: Math.max(1, Math.ceil(worst.months - 1e-9)), perTimeframe };
}
