import { daysToBars, type Calendar, type Timeframe } from '@noctria/canonical-bar';
import { LABEL_ERROR, labelError } from './errors.js';

/**
 * Parameters of the labels of seeds/003 "ラベリング仕様 v1" (AI1 reversion events, AI2 risk) and of the class
 * weights. Every length is in bars of the pair's timeframe; only the drawdown window is configured in business
 * days and converted with {@link ddWindowBars}.
 */
export interface LabelParams {
  /** AI1 event start: |z_t| ≥ zEntry. */
  zEntry: number;
  /** AI1 success: |z| ≤ zExit within `horizonBars` bars after the start. Must be below zEntry. */
  zExit: number;
  /** M: success horizon and same-direction suppression window, in bars after the start bar. */
  horizonBars: number;
  /** K: previous bars whose mean |Δz| is the entry speed. */
  speedLookbackBars: number;
  /** Candidates whose entry speed is strictly above this are excluded. */
  speedMaxAbsDeltaZ: number;
  /** AI2: var(ρ_rolling, 180) > riskCorrVar. */
  riskCorrVar: number;
  /** AI2: vol_ratio_spread > riskVolRatio. */
  riskVolRatio: number;
  /** AI2: EMA_h(|Δz|) > riskSpeed. */
  riskSpeed: number;
  /** h of that EMA, in bars. */
  riskSpeedHalfLife: number;
  /** AI2: dd_recent > riskDd (fraction of the equity peak). */
  riskDd: number;
  /** Bars of the dd_recent window (60 business days → bars, see {@link ddWindowBars}). */
  riskDdWindowBars: number;
  /** Upper bound of w_minority / w_majority of the inverse-frequency class weights. */
  classWeightMaxRatio: number;
}

/** Seed default of `risk_label_dd_window_business_days`. */
export const DEFAULT_RISK_DD_WINDOW_BUSINESS_DAYS = 60;
/** Seed default timeframe and the FX calendar used for the default dd window. */
export const DEFAULT_LABEL_TIMEFRAME: Timeframe = '1h';
export const DEFAULT_LABEL_CALENDAR: Calendar = '24/5';

/**
 * Bars in a window of `businessDays` business days on `calendar`.
 *
 * A business day is a weekday (Mon–Fri), so `businessDays` business days span `businessDays × 7/5` calendar
 * days (60 business days = 12 weeks), and the window holds the bars the market prints in that span:
 * `daysToBars(businessDays × 7 / 5, tf, calendar)` of `@noctria/canonical-bar`. Under `'24/5'` that is
 * `businessDays × barsPerDay` (60 d @ 1h → 1440 bars); under `'24/7'` the weekend bars of the same twelve weeks
 * count too (60 d @ 1h → 2016 bars), so the window covers the same wall-clock period on every market.
 */
export function ddWindowBars(businessDays: number, tf: Timeframe, calendar: Calendar): number {
  if (!Number.isInteger(businessDays) || businessDays < 1) {
    throw labelError(LABEL_ERROR.PARAM, `dd window must be an integer ≥ 1 business days, got ${String(businessDays)}`);
  }
  return daysToBars((businessDays * 7) / 5, tf, calendar);
}

export const DEFAULT_LABEL_PARAMS: Readonly<LabelParams> = Object.freeze({
  zEntry: 2.0,
  zExit: 0.5,
  horizonBars: 48,
  speedLookbackBars: 6,
  speedMaxAbsDeltaZ: 0.12,
  riskCorrVar: 0.025,
  riskVolRatio: 1.8,
  riskSpeed: 0.12,
  riskSpeedHalfLife: 6,
  riskDd: 0.07,
  riskDdWindowBars: ddWindowBars(DEFAULT_RISK_DD_WINDOW_BUSINESS_DAYS, DEFAULT_LABEL_TIMEFRAME, DEFAULT_LABEL_CALENDAR),
  classWeightMaxRatio: 5,
});

const KEYS = Object.keys(DEFAULT_LABEL_PARAMS) as (keyof LabelParams)[];

function bad(key: string, rule: string, v: unknown): never {
  throw labelError(LABEL_ERROR.PARAM, `label parameter ${key} must be ${rule}, got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`);
}

/**
 * Defaults + overrides, validated (throws `CORE_LABEL_PARAM`): finite positive thresholds, zExit in [0, zEntry),
 * integer windows ≥ 1, riskDd in [0, 1], classWeightMaxRatio ≥ 1, no unknown keys.
 */
export function resolveLabelParams(partial?: Partial<LabelParams>): LabelParams {
  const p: LabelParams = { ...DEFAULT_LABEL_PARAMS };
  if (partial !== undefined) {
    if (partial === null || typeof partial !== 'object') bad('(params)', 'an object', partial);
    for (const [k, v] of Object.entries(partial)) {
      if (!(KEYS as string[]).includes(k)) bad(k, 'a known key', k);
      if (v !== undefined) (p as unknown as Record<string, unknown>)[k] = v;
    }
  }
  const num = (k: keyof LabelParams): number => {
    const v = p[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) bad(k, 'a finite number', v);
    return v;
  };
  for (const k of ['zEntry', 'speedMaxAbsDeltaZ', 'riskCorrVar', 'riskVolRatio', 'riskSpeed', 'riskSpeedHalfLife'] as const) {
    if (!(num(k) > 0)) bad(k, '> 0', p[k]);
  }
  if (!(num('zExit') >= 0 && p.zExit < p.zEntry)) bad('zExit', `≥ 0 and below zEntry (${p.zEntry})`, p.zExit);
  for (const k of ['horizonBars', 'speedLookbackBars', 'riskDdWindowBars'] as const) {
    if (!Number.isInteger(p[k]) || p[k] < 1) bad(k, 'an integer ≥ 1', p[k]);
  }
  if (!(num('riskDd') >= 0 && p.riskDd <= 1)) bad('riskDd', 'in [0, 1]', p.riskDd);
  if (!(num('classWeightMaxRatio') >= 1)) bad('classWeightMaxRatio', '≥ 1', p.classWeightMaxRatio);
  return p;
}

/**
 * The label keys of `configs/core_policy.yaml` (unwrapped `value`s; structurally the matching part of
 * `CorePolicy` of `@noctria/policy`, which a math library may not import).
 */
export interface CoreLabelPolicy {
  z_entry: number;
  z_exit: number;
  M: number;
  entry_speed_filter: { lookback_bars: number; max_abs_delta_z: number };
  risk_label_corr_var: number;
  risk_label_vol_ratio: number;
  risk_label_speed: number;
  risk_label_speed_half_life_bars: number;
  risk_label_dd: number;
  risk_label_dd_window_business_days: number;
  class_weight_max_ratio: number;
}

/** LabelParams from core_policy for a pair traded on `timeframe` under `calendar` (validated). */
export function labelParamsFromPolicy(core: CoreLabelPolicy, timeframe: Timeframe, calendar: Calendar): LabelParams {
  if (core === null || typeof core !== 'object' || core.entry_speed_filter === null || typeof core.entry_speed_filter !== 'object') {
    throw labelError(LABEL_ERROR.PARAM, 'core_policy label keys are missing (entry_speed_filter must be an object)');
  }
  return resolveLabelParams({
    zEntry: core.z_entry,
    zExit: core.z_exit,
    horizonBars: core.M,
    speedLookbackBars: core.entry_speed_filter.lookback_bars,
    speedMaxAbsDeltaZ: core.entry_speed_filter.max_abs_delta_z,
    riskCorrVar: core.risk_label_corr_var,
    riskVolRatio: core.risk_label_vol_ratio,
    riskSpeed: core.risk_label_speed,
    riskSpeedHalfLife: core.risk_label_speed_half_life_bars,
    riskDd: core.risk_label_dd,
    riskDdWindowBars: ddWindowBars(core.risk_label_dd_window_business_days, timeframe, calendar),
    classWeightMaxRatio: core.class_weight_max_ratio,
  });
}
