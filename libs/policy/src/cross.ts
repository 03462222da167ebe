import { isTimeframe } from '@noctria/canonical-bar';
import { featureParamsFromPolicy, fullVectorWarmupBars } from '@noctria/features';
import { requiredCanonicalMonths } from './calendar.js';
import { PolicyError, type PolicyIssue } from './errors.js';
import { isSecretRef } from './secrets.js';
import type { PolicySet, PolicyValues } from './types.js';

type Values = { [N in keyof PolicyValues]: PolicyValues[N] };

const EPS = 1e-9;

/** Bars before the first complete feature vector under these windows; undefined when the windows are invalid (the schema and feature-window rules report that). */
function featureWarmupBars(pipe: Values['pipeline_policy']): number | undefined {
  try {
    return fullVectorWarmupBars(featureParamsFromPolicy(pipe)) + 1;
  } catch {
    return undefined;
  }
}
const isMultiple = (x: number, step: number) => Math.abs(x / step - Math.round(x / step)) < 1e-6;
const fmt = (n: number) => Number(n.toFixed(2)).toString();

/**
 * Cross-file rules (seed 003: 設定変更ワークフロー静的検証 / 最終整合チェックリスト). Returns every violation;
 * `assertCrossRules` throws them as one OPS_CONFIG_CROSS error.
 */
export function checkCrossRules(set: Values | PolicySet): PolicyIssue[] {
  const v = unwrap(set);
  const issues: PolicyIssue[] = [];
  const add = (policy: string, pointer: string, message: string) => issues.push({ policy, pointer, message });
  const { pipeline_policy: pipe, universe, data_retention: ret, dd_policy: dd, core_policy: core } = v;
  const allowed = pipe.timeframe_allowed;
  const unknown = allowed.filter((tf) => !isTimeframe(tf));
  if (unknown.length) add('pipeline_policy', '/timeframe_allowed/value', `unknown timeframe(s) ${unknown.join(', ')}; the canonical-bar library supports 1m, 5m, 15m, 1h, 4h, 1d`);

  // --- timeframes -------------------------------------------------------------------------------------------
  if (!allowed.includes(pipe.timeframe_default)) {
    add('pipeline_policy', '/timeframe_default/value', `timeframe_default ${pipe.timeframe_default} is not in timeframe_allowed [${allowed.join(', ')}]`);
  }
  universe.pairs.forEach((pair, i) => {
    const outside = pair.constraints.allowed_timeframes.filter((tf) => !allowed.includes(tf));
    if (outside.length) {
      add('universe', `/pairs/value/${i}/constraints/allowed_timeframes`, `pair ${pair.pair_id} allows timeframe(s) ${outside.join(', ')} that are not in pipeline_policy.timeframe_allowed [${allowed.join(', ')}]`);
    }
  });
  for (const tf of allowed) {
    if (pipe.freshness_budget_seconds[tf] === undefined) {
      add('pipeline_policy', '/freshness_budget_seconds/value', `freshness_budget_seconds has no budget for allowed timeframe ${tf}`);
    }
  }
  const providers = Object.entries(v.sources.providers);
  for (const tf of allowed) {
    if (!providers.some(([, p]) => p.timeframes.includes(tf))) {
      add('sources', '/providers/value', `no provider serves allowed timeframe ${tf}`);
    }
  }

  // --- retention covers the feature windows; lookback within retention --------------------------------------
  const validTfs = allowed.filter(isTimeframe);
  const warmupBars = featureWarmupBars(pipe);
  if (validTfs.length > 0 && warmupBars !== undefined) {
    const req = requiredCanonicalMonths({ warmup_bars: warmupBars, timeframes: validTfs, calendar: universe.calendar });
    if (ret.canonical_months < req.months) {
      const per = validTfs.map((tf) => `${tf}: ${fmt(req.perTimeframe[tf] ?? 0)}`).join(', ');
      add(
        'data_retention',
        '/canonical_months/value',
        `canonical_months=${ret.canonical_months} is below the minimum of ${req.months} months: the feature windows need ${req.bars} bars ` +
          `before the first complete feature vector (beta_window_bars=${pipe.beta_window_bars}, z_window_bars=${pipe.z_window_bars}, slope_window_bars=${pipe.slope_window_bars}), which span ${fmt(req.perTimeframe[req.timeframe] ?? 0)} months ` +
          `at ${req.timeframe} on the ${universe.calendar} calendar (months per timeframe: ${per})`,
      );
    }
  }
  if (pipe.history_lookback_months > ret.canonical_months) {
    add('data_retention', '/canonical_months/value', `pipeline_policy.history_lookback_months=${pipe.history_lookback_months} exceeds data_retention.canonical_months=${ret.canonical_months}: history would be fetched and then deleted`);
  }

  // --- feature windows (libs/features featureParamsFromPolicy) -----------------------------------------------
  if (!(pipe.half_life_clip_bars.min <= pipe.half_life_clip_bars.max)) {
    add('pipeline_policy', '/half_life_clip_bars/value', `half_life_clip_bars min (${pipe.half_life_clip_bars.min}) must not exceed max (${pipe.half_life_clip_bars.max})`);
  }
  if (!(pipe.ema_gap_spans.fast < pipe.ema_gap_spans.slow)) {
    add('pipeline_policy', '/ema_gap_spans/value', `ema_gap_spans fast (${pipe.ema_gap_spans.fast}) must be below slow (${pipe.ema_gap_spans.slow}): ema_gap_spread is EMA_fast − EMA_slow`);
  }

  // --- drawdown levels monotonic ---------------------------------------------------------------------------
  if (!(dd.dd_warn_portfolio < dd.dd_halt_portfolio && dd.dd_halt_portfolio < dd.dd_flatten_portfolio)) {
    add('dd_policy', '/dd_halt_portfolio/value', `drawdown levels must increase: dd_warn_portfolio (${dd.dd_warn_portfolio}) < dd_halt_portfolio (${dd.dd_halt_portfolio}) < dd_flatten_portfolio (${dd.dd_flatten_portfolio})`);
  }
  if (!(dd.k_warn < dd.k_halt && dd.k_halt < dd.k_flatten)) {
    add('dd_policy', '/k_halt/value', `pair σ multiples must increase: k_warn (${dd.k_warn}) < k_halt (${dd.k_halt}) < k_flatten (${dd.k_flatten})`);
  }

  // --- θ ranges ---------------------------------------------------------------------------------------------
  for (const [which, initial] of [['theta1', core.theta1_initial], ['theta2', core.theta2_initial]] as const) {
    const [lo, hi] = core.theta_search_range[which];
    if (!(lo >= 0 && hi <= 1 && lo < hi)) {
      add('core_policy', `/theta_search_range/value/${which}`, `${which} search range [${lo}, ${hi}] must satisfy 0 ≤ low < high ≤ 1`);
    } else if (!(initial >= lo && initial <= hi)) {
      add('core_policy', `/${which}_initial/value`, `${which}_initial=${initial} is outside its search range [${lo}, ${hi}]`);
    }
  }
  if (!(core.z_exit < core.z_entry)) add('core_policy', '/z_exit/value', `z_exit (${core.z_exit}) must be below z_entry (${core.z_entry})`);
  const bt = v.backtest_policy;
  if (Math.abs(bt.exit_rule.z_exit - core.z_exit) > EPS || bt.exit_rule.M !== core.M) {
    add('backtest_policy', '/exit_rule/value', `exit_rule z_exit=${bt.exit_rule.z_exit}, M=${bt.exit_rule.M} must equal core_policy z_exit=${core.z_exit}, M=${core.M} (backtest and live share the rules)`);
  }
  if (bt.exit_rule.theta_stop < core.theta2_initial) {
    add('backtest_policy', '/exit_rule/value/theta_stop', `theta_stop=${bt.exit_rule.theta_stop} is below theta2_initial=${core.theta2_initial}: entries would be stopped out at once`);
  }

  // --- sources ------------------------------------------------------------------------------------------------
  const byPriority = new Map<number, string[]>();
  for (const [id, p] of providers) byPriority.set(p.priority, [...(byPriority.get(p.priority) ?? []), id]);
  for (const [prio, ids] of byPriority) {
    if (ids.length > 1) add('sources', '/providers/value', `providers ${ids.join(', ')} share priority ${prio}; priorities must be unique`);
  }
  for (const [id, p] of providers) {
    if (p.api_key_ref !== undefined && !isSecretRef(p.api_key_ref)) {
      add('sources', `/providers/value/${id}/api_key_ref`, `api_key_ref of ${id} must be an ENV:, FILE: or VAULT: reference, never a literal key`);
    }
  }

  // --- universe consistency -------------------------------------------------------------------------------------
  const seen = new Set<string>();
  const symbols = new Set<string>();
  universe.pairs.forEach((pair, i) => {
    const base = `/pairs/value/${i}`;
    if (seen.has(pair.pair_id)) add('universe', `${base}/pair_id`, `pair_id ${pair.pair_id} is defined twice`);
    seen.add(pair.pair_id);
    const expected = `${pair.leg_A.canonical_symbol}_${pair.leg_B.canonical_symbol}`;
    if (pair.pair_id !== expected) add('universe', `${base}/pair_id`, `pair_id ${pair.pair_id} must be <leg_A>_<leg_B> = ${expected}`);
    if (pair.leg_A.canonical_symbol === pair.leg_B.canonical_symbol) add('universe', `${base}/leg_B/canonical_symbol`, `pair ${pair.pair_id} uses the same symbol on both legs`);
    for (const legName of ['leg_A', 'leg_B'] as const) {
      const leg = pair[legName];
      symbols.add(leg.canonical_symbol);
      const precisionStep = 10 ** -leg.price_precision;
      if (leg.tick_size < precisionStep - EPS || !isMultiple(leg.tick_size, precisionStep)) {
        add('universe', `${base}/${legName}/tick_size`, `${leg.canonical_symbol}: tick_size ${leg.tick_size} is not expressible with price_precision ${leg.price_precision}`);
      }
      if (!isMultiple(leg.min_lot, leg.lot_step)) {
        add('universe', `${base}/${legName}/min_lot`, `${leg.canonical_symbol}: min_lot ${leg.min_lot} is not a multiple of lot_step ${leg.lot_step}`);
      }
    }
  });
  for (const sym of Object.keys(v.cost_table.overrides)) {
    if (!symbols.has(sym)) add('cost_table', `/overrides/value/${sym}`, `override for ${sym}, which is not a symbol of universe.yaml`);
  }

  // --- notifications & runbook ------------------------------------------------------------------------------
  const channels = v.slack_policy.channels;
  const channelNames = Object.values(channels);
  if (!channelNames.includes(v.retrain_policy.retrain_notification_channel)) {
    add('retrain_policy', '/retrain_notification_channel/value', `channel ${v.retrain_policy.retrain_notification_channel} is not defined in slack_policy.channels`);
  }
  for (const [sev, route] of Object.entries(v.slack_policy.severity_routing)) {
    if (channels[route.channel] === undefined) add('slack_policy', `/severity_routing/value/${sev}/channel`, `${sev} routes to unknown channel key ${route.channel}`);
  }
  const rp = v.runbook_policy.resume_policy;
  if (rp.stability_days !== dd.resume_stability_days || Math.abs(rp.corr_threshold - dd.resume_corr_threshold) > EPS || Math.abs(rp.canary_ratio - dd.resume_canary_ratio) > EPS) {
    add('runbook_policy', '/resume_policy/value', `resume_policy must equal dd_policy resume_stability_days/resume_corr_threshold/resume_canary_ratio (${dd.resume_stability_days}/${dd.resume_corr_threshold}/${dd.resume_canary_ratio})`);
  }
  return issues;
}

/** Throws OPS_CONFIG_CROSS listing every violated cross-rule. */
export function assertCrossRules(set: Values | PolicySet): void {
  const issues = checkCrossRules(set);
  if (issues.length) throw new PolicyError('OPS_CONFIG_CROSS', issues, `${issues.length} cross-file rule(s) violated`);
}

function unwrap(set: Values | PolicySet): Values {
  const first = (set as PolicySet).pipeline_policy as unknown as { values?: unknown; sha256?: unknown };
  if (first && typeof first === 'object' && 'values' in first && 'sha256' in first) {
    return Object.fromEntries(Object.entries(set as PolicySet).map(([k, p]) => [k, p.values])) as unknown as Values;
  }
  return set as Values;
}
