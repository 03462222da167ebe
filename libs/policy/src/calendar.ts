import { barsToDays, isTimeframe, type Timeframe } from '@noctria/canonical-bar';
import type { TradingCalendar } from './types.js';

/** Average Gregorian month, days. */
export const DAYS_PER_MONTH = 365.2425 / 12;

/** Extra bars of warm-up for rolling medians over windows (atr_baseline_median / vol_ratio medians, 180 bars). */
export const MEDIAN_WINDOW_BARS = 180;

/** Calendar months (fractional) that `bars` bars of `tf` span on average on `calendar` (canonical-bar timeframe math). */
export function monthsForBars(bars: number, tf: Timeframe, calendar: TradingCalendar): number {
  return barsToDays(bars, tf, calendar) / DAYS_PER_MONTH;
}

export interface RetentionRequirement {
  /** Bars the feature windows need: max(beta_window_bars, z_window_bars) + 180. */
  bars: number;
  /** Timeframe that needs the most calendar time (the largest allowed one). */
  timeframe: Timeframe;
  /** Whole months of canonical history required (ceil, at least 1). */
  months: number;
  /** Fractional months needed per timeframe, for messages. */
  perTimeframe: Partial<Record<Timeframe, number>>;
}

/**
 * Months of canonical bars the feature windows need: (max(beta, z) + 180) bars converted to calendar months with the
 * trading calendar for every allowed timeframe (the largest timeframe dominates), rounded up to whole months.
 */
export function requiredCanonicalMonths(input: {
  beta_window_bars: number;
  z_window_bars: number;
  timeframes: readonly string[];
  calendar: TradingCalendar;
}): RetentionRequirement {
  const tfs = input.timeframes.filter(isTimeframe);
  if (tfs.length === 0) throw new Error(`no known timeframe among [${input.timeframes.join(', ')}]`);
  const bars = Math.max(input.beta_window_bars, input.z_window_bars) + MEDIAN_WINDOW_BARS;
  const perTimeframe: Partial<Record<Timeframe, number>> = {};
  let worst: { tf: Timeframe; months: number } = { tf: tfs[0] as Timeframe, months: -1 };
  for (const tf of tfs) {
    const months = monthsForBars(bars, tf, input.calendar);
    perTimeframe[tf] = months;
    if (months > worst.months) worst = { tf, months };
  }
  return { bars, timeframe: worst.tf, months: Math.max(1, Math.ceil(worst.months - 1e-9)), perTimeframe };
}
