/**
 * Typed, unwrapped values of the policy files in configs/ (each YAML key is `{ value, label_ja, description }`;
 * these interfaces describe the `value`s). Kept in step with configs/schemas/*.schema.json.
 */
import type { Calendar, Timeframe } from '@noctria/canonical-bar';

/** Timeframe tokens as they appear in configs (validated against the canonical-bar set by the schema pattern). */
export type TimeframeToken = Timeframe | (string & {});

export interface CorePolicy {
  theta1_initial: number;
  theta2_initial: number;
  theta_search_range: { theta1: [number, number]; theta2: [number, number] };
  theta_objective: {
    dd_target: number;
    trades_min_per_year: number;
    lambda_dd: number;
    lambda_trades: number;
    lambda_stop: number;
    ai2_fp_rate_max: number;
  };
  theta_hysteresis: { max_step: number; ewma_old_weight: number; pair_delta_max: number };
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
  risk_label_window_bars: number;
  class_weight_max_ratio: number;
}

export interface DdPolicy {
  rolling_window_business_days: number;
  dd_warn_portfolio: number;
  dd_halt_portfolio: number;
  dd_flatten_portfolio: number;
  k_warn: number;
  k_halt: number;
  k_flatten: number;
  leverage_scale_on_warn: number;
  resume_stability_days: number;
  resume_corr_threshold: number;
  resume_canary_ratio: number;
  resume_checklist_url: string;
}

export interface RetrainPolicy {
  retrain_cron: string;
  retrain_retry_max: number;
  retrain_notification_channel: string;
  retrain_cv: {
    k_folds: number;
    purge_bars: number;
    embargo_bars: number;
    min_block_len_bars: number;
    wf_step_days: number;
    wf_min_train_days: number;
    block_bootstrap_size_bars: number;
    early_stopping_rounds: number;
  };
  retrain_adoption: {
    sharpe_ratio_min: number;
    maxdd_increase_max: number;
    ai2_stop_fp_rate_max: number;
    e_per_trade_min: number;
    dm_p_value_ref: number;
  };
  model_version_retention: number;
}

export interface PipelinePolicy {
  timeframe_default: TimeframeToken;
  timeframe_allowed: TimeframeToken[];
  history_lookback_months: number;
  retry_max: number;
  retry_backoff_max_seconds: number;
  freshness_budget_seconds: Record<string, number>;
  circuit_breaker: { open_threshold_errors: number; half_open_after_seconds: number };
  dq_thresholds: { missing_rate: number; outlier_rate: number; beta_stability_std_jump: number };
  dq_spike_k: number;
  missing_fill_max_run: number;
  outlier_sigma: number;
  diff_thresh: number;
  beta_window_bars: number;
  beta_ema_half_life_bars: number;
  z_window_bars: number;
  z_ema_half_life_bars: number;
  z_clip_sigma: number;
  atr_period: number;
  atr_baseline_median_bars: number;
  rho_window_bars: number;
  corr_stability_window_bars: number;
  beta_stability_window_bars: number;
  half_life_window_bars: number;
  half_life_clip_bars: { min: number; max: number };
  slope_window_bars: number;
  ema_gap_spans: { fast: number; slow: number };
  rsi_period: number;
  beta_robust_switch: { mad_ratio: number; huber_c: number; huber_max_iter: number };
  rest_rate_limit_budget: { rest_credits_per_minute: number; ws_symbols: number };
}

export interface DataRetentionPolicy {
  raw_days: number;
  ws_ticks_hours: number;
  canonical_months: number;
  features_cache_months: number;
  features_snapshot_months: number;
  model_artifacts_months: number;
  signals_history_months: number;
  reports_months: number;
  logs_days: number;
  audit_logs_years: number;
  deletion_grace_days: number;
}

export interface AnalyticsPolicy {
  risk_panels: { show_pair_dd: boolean; show_portfolio_dd: boolean; show_leverage_scale: boolean };
  refresh_intervals_seconds: { trading_page: number; risk_page: number; data_quality_page: number };
  export_limits: { trades_csv_max_rows: number };
}

export interface BacktestPolicy {
  entry_rule: { use_theta: boolean; use_position_scale: boolean };
  exit_rule: { z_exit: number; M: number; risk_stop: boolean; theta_stop: number };
  costs: { commission_bps_default: number; slippage_bps_default: number; spread_bps_table: Record<string, number> };
  stress: {
    vol_spike: number[];
    corr_breakdown: number[];
    cost_increase_bps: number[];
    latency_bars: number[];
    gap_percent: number[];
  };
  acceptance: { sharpe_min: number; max_dd_max: number; trades_per_year_min: number };
}

export interface RunbookPolicy {
  halt_policy: { soft_on_dd_warn: boolean; hard_on_dd_halt: boolean; flatten_on_dd_flatten: boolean };
  resume_policy: { stability_days: number; corr_threshold: number; canary_ratio: number };
  rollback_policy: { sharpe_drop_limit: number; maxdd_increase_limit: number };
}

export type AssetClass = 'CFD' | 'FX' | 'INDEX' | 'EQUITY' | 'CRYPTO';
export type TradingCalendar = Calendar;

export interface TradingSession {
  /** "HH:MM" UTC (in the leg's timezone); end < start means the session crosses midnight. */
  start: string;
  end: string;
}

export interface UniverseLeg {
  canonical_symbol: string;
  broker_symbol: string;
  asset_class: AssetClass;
  tick_size: number;
  price_precision: number;
  contract_size: number;
  min_lot: number;
  lot_step: number;
  base_ccy: string;
  timezone: string;
  trading_hours: { sessions: TradingSession[]; holidays_calendar: string };
}

export interface UniversePair {
  pair_id: string;
  group: string;
  leg_A: UniverseLeg;
  leg_B: UniverseLeg;
  constraints: { margin_requirement: number; min_notional_usd: number; allowed_timeframes: TimeframeToken[] };
}

export interface UniversePolicy {
  calendar: TradingCalendar;
  pairs: UniversePair[];
}

export interface CostSwapRule {
  rollover_day: 'MON' | 'TUE' | 'WED' | 'THU' | 'FRI';
  time_utc: string;
}
export interface CostOverride {
  commission_bps?: number;
  slippage_bps?: number;
  spread_bps?: number;
  swap?: { long_bps_day: number; short_bps_day: number };
}
export interface CostTablePolicy {
  defaults: { commission_bps: number; slippage_bps: number; spread_bps: number; swap: CostSwapRule };
  overrides: Record<string, CostOverride>;
  /** "HH:MM-HH:MM" (UTC, may cross midnight) → slippage multiplier. */
  time_of_day_multipliers: Record<string, number>;
}

export type ProviderType = 'Synthetic' | 'TwelveData' | 'File' | 'GenericRest';
export interface ProviderConfig {
  type: ProviderType;
  base_url?: string;
  ws_url?: string;
  /** `ENV:NAME`, `FILE:/path` or `VAULT:path`, never a literal key (resolve with resolveSecretRef). */
  api_key_ref?: string;
  timeframes: TimeframeToken[];
  assets?: string[];
  /** Ascending: 1 is the primary source. */
  priority: number;
  rate_limits?: { rest_qps: number; ws_channels?: number; burst?: number };
  cost_tier?: string;
  seed?: number;
  path?: string;
  format?: 'csv' | 'parquet' | 'mt5-csv';
  description?: string;
}
export interface SourcesPolicy {
  providers: Record<string, ProviderConfig>;
}

export type Severity = 'CRITICAL' | 'WARNING' | 'INFO';
export interface SlackPolicy {
  /** logical name → "#channel" */
  channels: Record<string, string>;
  /** severity → logical channel name (a key of `channels`) and whether PagerDuty is paged. */
  severity_routing: Record<Severity, { channel: string; pagerduty: boolean }>;
  message_templates: Record<string, string>;
}

/** Policy name (file `configs/<name>.yaml`, schema `configs/schemas/<name>.schema.json`) → typed values. */
export interface PolicyValues {
  core_policy: CorePolicy;
  dd_policy: DdPolicy;
  retrain_policy: RetrainPolicy;
  pipeline_policy: PipelinePolicy;
  data_retention: DataRetentionPolicy;
  analytics_policy: AnalyticsPolicy;
  backtest_policy: BacktestPolicy;
  runbook_policy: RunbookPolicy;
  universe: UniversePolicy;
  cost_table: CostTablePolicy;
  sources: SourcesPolicy;
  slack_policy: SlackPolicy;
}
export type PolicyName = keyof PolicyValues;

export const POLICY_NAMES = [
  'core_policy',
  'dd_policy',
  'retrain_policy',
  'pipeline_policy',
  'data_retention',
  'analytics_policy',
  'backtest_policy',
  'runbook_policy',
  'universe',
  'cost_table',
  'sources',
  'slack_policy',
] as const satisfies readonly PolicyName[];

/** One policy key as written in YAML. */
export interface PolicyEntry<T = unknown> {
  value: T;
  label_ja: string;
  description?: string;
}
export type RawPolicyDocument<V> = { [K in keyof V]: PolicyEntry<V[K]> };

export interface LoadedPolicy<N extends PolicyName = PolicyName> {
  name: N;
  /** File the policy was read from (or the label passed to parsePolicy). */
  path: string;
  /** Unwrapped `{ key: value }`. */
  values: PolicyValues[N];
  /** The parsed YAML document as written (`{ key: { value, label_ja, description } }`). */
  raw: RawPolicyDocument<PolicyValues[N]>;
  /** sha256 (hex) of the file bytes. */
  sha256: string;
}

export type PolicySet = { [N in PolicyName]: LoadedPolicy<N> };
