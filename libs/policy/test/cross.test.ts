import { describe, expect, it } from '@jest/globals';
import { DAYS_PER_MONTH, loadPolicySet, requiredCanonicalMonths, type PolicyIssue } from '../src/index.js';
import { CONFIGS, configText, mutated, setError } from './helpers.js';

/** Independent arithmetic: bars → trading days (24 h/day) → calendar days (24/5: ×7/5) → months. */
/**
 * Bars up to the first complete feature vector, from the issue-3 conventions written out: β from bar β, z needs
 * z_window spreads, slope_z needs slope_window z values; vol_ratio_spread needs atr_period spread changes after the
 * first spread, then the 180-bar ATR median.
 */
function firstVectorBars(beta: number, z = 180, slope = 20, atr = 14, median = 180): number {
  return Math.max(beta + z + slope - 2, beta + atr + median - 1);
}

function expectedMonths(bars: number, hoursPerBar: number): number {
  const tradingDays = (bars * hoursPerBar) / 24;
  return Math.ceil((tradingDays * 7) / 5 / (365.2425 / 12));
}

function crossIssues(overrides: Parameters<typeof setError>[0]): PolicyIssue[] {
  const err = setError(overrides);
  expect(err.id).toBe('OPS_CONFIG_CROSS');
  return err.issues;
}

describe('cross-rules', () => {
  it('the shipped set is clean (so each crafted failure below is caused by its mutation)', () => {
    expect(() => loadPolicySet(CONFIGS)).not.toThrow();
  });

  it('universe allowed_timeframes ⊆ pipeline timeframe_allowed', () => {
    const issues = crossIssues({ universe: mutated('universe', ['pairs', 'value', 2, 'constraints', 'allowed_timeframes'], ['1h', '1d']) });
    expect(issues).toEqual([
      {
        policy: 'universe',
        pointer: '/pairs/value/2/constraints/allowed_timeframes',
        message: 'pair AUDUSD_NZDUSD allows timeframe(s) 1d that are not in pipeline_policy.timeframe_allowed [15m, 1h, 4h]',
      },
    ]);
  });

  it('timeframe_default must be allowed and allowed timeframes must be known', () => {
    const text = mutated('pipeline_policy', ['timeframe_default', 'value'], '5m');
    expect(crossIssues({ pipeline_policy: text }).map((i) => i.message)).toEqual(['timeframe_default 5m is not in timeframe_allowed [15m, 1h, 4h]']);
    const odd = mutated('pipeline_policy', ['freshness_budget_seconds', 'value', '2h'], 150, mutated('pipeline_policy', ['timeframe_allowed', 'value'], ['15m', '1h', '2h', '4h']));
    expect(crossIssues({ pipeline_policy: odd }).map((i) => i.message)).toEqual(expect.arrayContaining([expect.stringContaining('unknown timeframe(s) 2h')]));
  });

  it('feature windows: half-life clip min ≤ max and EMA gap fast < slow', () => {
    const clip = mutated('pipeline_policy', ['half_life_clip_bars', 'value'], { min: 300, max: 240 });
    expect(crossIssues({ pipeline_policy: clip })).toEqual([
      { policy: 'pipeline_policy', pointer: '/half_life_clip_bars/value', message: 'half_life_clip_bars min (300) must not exceed max (240)' },
    ]);
    const spans = mutated('pipeline_policy', ['ema_gap_spans', 'value'], { fast: 26, slow: 26 });
    expect(crossIssues({ pipeline_policy: spans }).map((i) => i.pointer)).toEqual(['/ema_gap_spans/value']);
  });

  it('a freshness budget exists for every allowed timeframe', () => {
    const base = configText('pipeline_policy');
    const text = base.replace(/^\s+"4h": 180\n/m, '');
    expect(text).not.toBe(base);
    expect(crossIssues({ pipeline_policy: text })).toEqual([
      { policy: 'pipeline_policy', pointer: '/freshness_budget_seconds/value', message: 'freshness_budget_seconds has no budget for allowed timeframe 4h' },
    ]);
  });

  it('canonical_months must cover the feature windows; the message states the minimum', () => {
    const min = expectedMonths(firstVectorBars(180), 4); // largest allowed timeframe is 4h
    expect(min).toBe(3);
    const lookback = mutated('pipeline_policy', ['history_lookback_months', 'value'], 1);
    const issues = crossIssues({ pipeline_policy: lookback, data_retention: mutated('data_retention', ['canonical_months', 'value'], min - 1) });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ policy: 'data_retention', pointer: '/canonical_months/value' });
    expect(issues[0]?.message).toContain(`canonical_months=${min - 1} is below the minimum of ${min} months`);
    expect(issues[0]?.message).toContain(`${firstVectorBars(180)} bars`);
    expect(firstVectorBars(180)).toBe(378);
    expect(issues[0]?.message).toContain('at 4h on the 24/5 calendar');
    // exactly the minimum is accepted
    expect(() =>
      loadPolicySet(CONFIGS, { overrides: { pipeline_policy: lookback, data_retention: mutated('data_retention', ['canonical_months', 'value'], min) } }),
    ).not.toThrow();
  });

  it('the minimum follows the windows and the largest allowed timeframe', () => {
    const windows = mutated('pipeline_policy', ['beta_window_bars', 'value'], 1000);
    const min = expectedMonths(firstVectorBars(1000), 4);
    const issues = crossIssues({ pipeline_policy: windows, data_retention: mutated('data_retention', ['canonical_months', 'value'], min - 1) });
    expect(issues.map((i) => i.message)).toEqual(
      expect.arrayContaining([expect.stringContaining(`below the minimum of ${min} months: the feature windows need ${firstVectorBars(1000)} bars`)]),
    );
    expect(requiredCanonicalMonths({ warmup_bars: 1180, timeframes: ['15m', '1h'], calendar: '24/5' })).toMatchObject({
      bars: 1180,
      timeframe: '1h',
      months: expectedMonths(1180, 1),
    });
    expect(requiredCanonicalMonths({ warmup_bars: 360, timeframes: ['4h'], calendar: '24/7' }).perTimeframe['4h']).toBeCloseTo(
      360 / 6 / DAYS_PER_MONTH,
      12,
    );
  });

  it('history_lookback_months ≤ canonical_months', () => {
    const issues = crossIssues({ pipeline_policy: mutated('pipeline_policy', ['history_lookback_months', 'value'], 40) });
    expect(issues.map((i) => i.message)).toEqual(['pipeline_policy.history_lookback_months=40 exceeds data_retention.canonical_months=36: history would be fetched and then deleted']);
  });

  it('drawdown thresholds and σ multiples are monotonic', () => {
    expect(crossIssues({ dd_policy: mutated('dd_policy', ['dd_halt_portfolio', 'value'], 0.13) }).map((i) => i.message)).toEqual([
      'drawdown levels must increase: dd_warn_portfolio (0.08) < dd_halt_portfolio (0.13) < dd_flatten_portfolio (0.12)',
    ]);
    expect(crossIssues({ dd_policy: mutated('dd_policy', ['k_warn', 'value'], 3.5) }).map((i) => i.message)).toEqual([
      'pair σ multiples must increase: k_warn (3.5) < k_halt (3.5) < k_flatten (4.5)',
    ]);
  });

  it('θ ranges lie in [0,1] and contain the initial θ', () => {
    const range = mutated('core_policy', ['theta_search_range', 'value', 'theta1'], [0.6, 1.2]);
    expect(crossIssues({ core_policy: range })).toEqual([
      { policy: 'core_policy', pointer: '/theta_search_range/value/theta1', message: 'theta1 search range [0.6, 1.2] must satisfy 0 ≤ low < high ≤ 1' },
    ]);
    const initial = mutated('core_policy', ['theta2_initial', 'value'], 0.5);
    expect(crossIssues({ core_policy: initial, backtest_policy: mutated('backtest_policy', ['exit_rule', 'value', 'theta_stop'], 0.6) })).toEqual([
      { policy: 'core_policy', pointer: '/theta2_initial/value', message: 'theta2_initial=0.5 is outside its search range [0.2, 0.45]' },
    ]);
  });

  it('sources have unique priorities and only ENV:/FILE:/VAULT: key references', () => {
    const dup = mutated('sources', ['providers', 'value', 'files', 'priority'], 2);
    expect(crossIssues({ sources: dup }).map((i) => i.message)).toEqual(['providers twelvedata, files share priority 2; priorities must be unique']);
    const literal = mutated('sources', ['providers', 'value', 'twelvedata', 'api_key_ref'], 'sk_live_0123456789abcdef');
    const issues = crossIssues({ sources: literal });
    expect(issues).toEqual([
      { policy: 'sources', pointer: '/providers/value/twelvedata/api_key_ref', message: 'api_key_ref of twelvedata must be an ENV:, FILE: or VAULT: reference, never a literal key' },
    ]);
    expect(JSON.stringify(issues)).not.toContain('sk_live');
    for (const ok of ['FILE:/run/secrets/td', 'VAULT:secret/data/td']) {
      expect(() => loadPolicySet(CONFIGS, { overrides: { sources: mutated('sources', ['providers', 'value', 'twelvedata', 'api_key_ref'], ok) } })).not.toThrow();
    }
  });

  it('backtest exit rule shares z_exit/M with core_policy', () => {
    expect(crossIssues({ backtest_policy: mutated('backtest_policy', ['exit_rule', 'value', 'M'], 24) }).map((i) => i.message)).toEqual([
      'exit_rule z_exit=0.5, M=24 must equal core_policy z_exit=0.5, M=48 (backtest and live share the rules)',
    ]);
  });

  it('universe pairs are consistent and cost overrides name universe symbols', () => {
    const badId = mutated('universe', ['pairs', 'value', 1, 'pair_id'], 'GBPUSD_EURUSD');
    expect(crossIssues({ universe: badId }).map((i) => i.message)).toEqual(['pair_id GBPUSD_EURUSD must be <leg_A>_<leg_B> = EURUSD_GBPUSD']);
    const tick = mutated('universe', ['pairs', 'value', 0, 'leg_A', 'tick_size'], 0.005);
    expect(crossIssues({ universe: tick }).map((i) => i.message)).toEqual(['XAUUSD: tick_size 0.005 is not expressible with price_precision 2']);
    const cost = mutated('cost_table', ['overrides', 'value', 'BTCUSD'], { spread_bps: 20 });
    expect(crossIssues({ cost_table: cost })).toEqual([
      { policy: 'cost_table', pointer: '/overrides/value/BTCUSD', message: 'override for BTCUSD, which is not a symbol of universe.yaml' },
    ]);
  });

  it('notification channels and runbook resume values agree across files', () => {
    expect(crossIssues({ retrain_policy: mutated('retrain_policy', ['retrain_notification_channel', 'value'], '#nowhere') }).map((i) => i.message)).toEqual([
      'channel #nowhere is not defined in slack_policy.channels',
    ]);
    expect(crossIssues({ runbook_policy: mutated('runbook_policy', ['resume_policy', 'value', 'stability_days'], 5) })[0]?.pointer).toBe('/resume_policy/value');
  });

  it('reports every violated rule at once', () => {
    const issues = crossIssues({
      dd_policy: mutated('dd_policy', ['k_flatten', 'value'], 1),
      data_retention: mutated('data_retention', ['canonical_months', 'value'], 12),
    });
    expect(issues.map((i) => i.policy).sort()).toEqual(['data_retention', 'dd_policy']);
  });
});
