import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { POLICY_NAMES, checkCrossRules, loadPolicy, loadPolicySet } from '../src/index.js';
import { CONFIGS } from './helpers.js';

describe('shipped configs', () => {
  it('every YAML file in configs/ is a known policy with a draft 2020-12 schema, and vice versa', () => {
    const yamls = readdirSync(CONFIGS).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, '')).sort();
    const schemas = readdirSync(`${CONFIGS}/schemas`).map((f) => f.replace(/\.schema\.json$/, '')).sort();
    expect(yamls).toEqual([...POLICY_NAMES].sort());
    expect(schemas).toEqual([...POLICY_NAMES].sort());
    for (const name of schemas) {
      const schema = JSON.parse(readFileSync(`${CONFIGS}/schemas/${name}.schema.json`, 'utf8'));
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(schema.additionalProperties).toBe(false);
    }
  });

  it.each([...POLICY_NAMES])('%s validates, unwraps { value } and hashes the file bytes', (name) => {
    const loaded = loadPolicy(name, { dir: CONFIGS });
    const bytes = readFileSync(`${CONFIGS}/${name}.yaml`);
    const doc = parse(bytes.toString('utf8')) as Record<string, { value: unknown; label_ja: string }>;
    expect(loaded.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(loaded.raw).toEqual(doc);
    expect(loaded.values).toEqual(Object.fromEntries(Object.entries(doc).map(([k, e]) => [k, e.value])));
    for (const entry of Object.values(doc)) expect(typeof entry.label_ja).toBe('string');
    expect(Object.isFrozen(loaded.values)).toBe(true);
  });

  it('the whole set passes every cross-rule', () => {
    const set = loadPolicySet(CONFIGS);
    expect(checkCrossRules(set)).toEqual([]);
  });

  it('carries the seed defaults', () => {
    const set = loadPolicySet(CONFIGS);
    const core = set.core_policy.values;
    expect([core.theta1_initial, core.theta2_initial, core.z_entry, core.z_exit, core.M]).toEqual([0.7, 0.3, 2.0, 0.5, 48]);
    expect(core.theta_search_range).toEqual({ theta1: [0.6, 0.85], theta2: [0.2, 0.45] });
    expect([core.risk_label_corr_var, core.risk_label_vol_ratio, core.risk_label_speed, core.risk_label_dd]).toEqual([0.025, 1.8, 0.12, 0.07]);
    const dd = set.dd_policy.values;
    expect([dd.dd_warn_portfolio, dd.dd_halt_portfolio, dd.dd_flatten_portfolio, dd.k_warn, dd.k_halt, dd.k_flatten]).toEqual([0.08, 0.1, 0.12, 2.5, 3.5, 4.5]);
    const p = set.pipeline_policy.values;
    expect(p.timeframe_default).toBe('1h');
    expect(p.timeframe_allowed).toEqual(['15m', '1h', '4h']);
    expect(p.freshness_budget_seconds).toEqual({ '15m': 60, '1h': 120, '4h': 180 });
    expect(p.circuit_breaker).toEqual({ open_threshold_errors: 5, half_open_after_seconds: 120 });
    expect(p.dq_thresholds).toEqual({ missing_rate: 0.05, outlier_rate: 0.08, beta_stability_std_jump: 3.0 });
    expect([p.atr_baseline_median_bars, p.rho_window_bars, p.corr_stability_window_bars, p.beta_stability_window_bars, p.half_life_window_bars, p.slope_window_bars, p.rsi_period]).toEqual([
      180, 180, 180, 180, 180, 20, 14,
    ]);
    expect([p.half_life_clip_bars, p.ema_gap_spans, p.beta_robust_switch]).toEqual([{ min: 1, max: 240 }, { fast: 12, slow: 26 }, { mad_ratio: 2.0, huber_c: 1.345, huber_max_iter: 50 }]);
    expect([p.history_lookback_months, p.retry_max, p.retry_backoff_max_seconds, p.dq_spike_k, p.missing_fill_max_run, p.outlier_sigma, p.diff_thresh, p.beta_window_bars, p.z_window_bars, p.atr_period]).toEqual([
      24, 5, 60, 12, 2, 8, 0.003, 180, 180, 14,
    ]);
    const r = set.data_retention.values;
    expect(r).toEqual({
      raw_days: 60, ws_ticks_hours: 48, canonical_months: 36, features_cache_months: 12, features_snapshot_months: 24,
      model_artifacts_months: 24, signals_history_months: 12, reports_months: 24, logs_days: 90, audit_logs_years: 5, deletion_grace_days: 3,
    });
    expect(set.retrain_policy.values.model_version_retention).toBeGreaterThanOrEqual(5);
    const u = set.universe.values;
    expect(u.calendar).toBe('24/5');
    expect(u.pairs.map((x) => [x.pair_id, x.group])).toEqual(
      expect.arrayContaining([['XAUUSD_XAGUSD', 'metals'], ['EURUSD_GBPUSD', 'fx'], ['AUDUSD_NZDUSD', 'fx']]),
    );
    const gold = u.pairs.find((x) => x.pair_id === 'XAUUSD_XAGUSD')!;
    expect(gold.leg_B).toMatchObject({ canonical_symbol: 'XAGUSD', tick_size: 0.001, price_precision: 3, min_lot: 0.01, lot_step: 0.01 });
    expect(gold.constraints).toEqual({ margin_requirement: 0.05, min_notional_usd: 100, allowed_timeframes: ['15m', '1h', '4h'] });
    const c = set.cost_table.values;
    expect(c.defaults).toEqual({ commission_bps: 10, slippage_bps: 8, spread_bps: 5, swap: { rollover_day: 'WED', time_utc: '21:00' } });
    expect(c.overrides['XAUUSD']).toEqual({ spread_bps: 6, slippage_bps: 10, swap: { long_bps_day: -4.0, short_bps_day: 3.0 } });
    expect(c.time_of_day_multipliers).toEqual({ '22:00-01:00': 1.5, '01:00-07:00': 1.2 });
    const s = set.sources.values.providers;
    expect(s['synthetic']).toMatchObject({ type: 'Synthetic', priority: 1 });
    expect(s['twelvedata']).toMatchObject({ type: 'TwelveData', priority: 2, api_key_ref: 'ENV:TWELVEDATA_API_KEY', rate_limits: { rest_qps: 10, ws_channels: 500 } });
    expect(s['files']).toMatchObject({ type: 'File' });
  });
});
