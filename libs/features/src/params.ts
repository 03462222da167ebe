import { FEATURE_ERROR, FeatureError } from './errors.js';

/**
 * Parameters of the feature vector (seed 003 "特徴量仕様 v1"), all in bars. Defaults are the seed values.
 */
export interface FeatureParams {
  /** Rolling OLS window of close_A on close_B (β). */
  betaWindow: number;
  /** EMA half-life smoothing β_raw into β. */
  betaEmaHalfLife: number;
  /** Window of μ/σ of the spread for z (also the σ_S that scales slope_spread). */
  zWindow: number;
  /** EMA half-life of z_ema. */
  zEmaHalfLife: number;
  /** |z| clip. */
  zClip: number;
  /** Wilder period of atr_A, atr_B, atr_spread. */
  atrPeriod: number;
  /** Median window of the ATR baselines (vol_ratio_spread, atr_ratio_A/B). */
  atrBaselineWindow: number;
  /** Window of rho_rolling = corr(r_A, r_B). */
  rhoWindow: number;
  /** Window of corr_stability = var(rho_rolling). */
  corrStabilityWindow: number;
  /** Window of beta_stability = std(β) / (|mean(β)| + 1e−6). */
  betaStabilityWindow: number;
  /** Number of ΔS values in the OU regression of half_life. */
  halfLifeWindow: number;
  /** Lower clip of half_life. */
  halfLifeMin: number;
  /** Upper clip of half_life (also its value when κ = 0). */
  halfLifeMax: number;
  /** Window of slope_spread and slope_z (OLS slope on 0..n−1). */
  slopeWindow: number;
  /** Fast EMA span of ema_gap_spread. */
  emaFastSpan: number;
  /** Slow EMA span of ema_gap_spread. */
  emaSlowSpan: number;
  /** Wilder period of rsi_spread. */
  rsiPeriod: number;
  /** Robust switch: Huber β when std(r) / (1.4826 · MAD(r)) exceeds this over the OLS residuals r. */
  robustMadRatio: number;
  /** Huber tuning constant c. */
  huberC: number;
  /**
   * IRLS iteration cap with statsmodels' `RLM.fit(maxiter)` meaning: the OLS start counts as iteration 1, so at
   * most `huberMaxIter − 1` (and at least one) reweighted fits run.
   */
  huberMaxIter: number;
}

export const DEFAULT_FEATURE_PARAMS: Readonly<FeatureParams> = Object.freeze({
  betaWindow: 180,
  betaEmaHalfLife: 72,
  zWindow: 180,
  zEmaHalfLife: 12,
  zClip: 5,
  atrPeriod: 14,
  atrBaselineWindow: 180,
  rhoWindow: 180,
  corrStabilityWindow: 180,
  betaStabilityWindow: 180,
  halfLifeWindow: 180,
  halfLifeMin: 1,
  halfLifeMax: 240,
  slopeWindow: 20,
  emaFastSpan: 12,
  emaSlowSpan: 26,
  rsiPeriod: 14,
  robustMadRatio: 2.0,
  huberC: 1.345,
  huberMaxIter: 50,
});

export const FEATURE_PARAM_KEYS = Object.freeze(Object.keys(DEFAULT_FEATURE_PARAMS) as (keyof FeatureParams)[]);

/** Windows above this are configuration mistakes (and would allocate absurd buffers). */
const MAX_WINDOW = 1_000_000;

type Rule = { kind: 'int'; min: number } | { kind: 'pos' };

const RULES: Record<keyof FeatureParams, Rule> = {
  // The Huber deviance divides by n − 2 degrees of freedom, so the β window needs a third bar.
  betaWindow: { kind: 'int', min: 3 },
  betaEmaHalfLife: { kind: 'pos' },
  zWindow: { kind: 'int', min: 2 },
  zEmaHalfLife: { kind: 'pos' },
  zClip: { kind: 'pos' },
  atrPeriod: { kind: 'int', min: 1 },
  atrBaselineWindow: { kind: 'int', min: 1 },
  rhoWindow: { kind: 'int', min: 2 },
  corrStabilityWindow: { kind: 'int', min: 2 },
  betaStabilityWindow: { kind: 'int', min: 2 },
  halfLifeWindow: { kind: 'int', min: 2 },
  halfLifeMin: { kind: 'pos' },
  halfLifeMax: { kind: 'pos' },
  slopeWindow: { kind: 'int', min: 2 },
  emaFastSpan: { kind: 'int', min: 1 },
  emaSlowSpan: { kind: 'int', min: 1 },
  rsiPeriod: { kind: 'int', min: 1 },
  robustMadRatio: { kind: 'pos' },
  huberC: { kind: 'pos' },
  huberMaxIter: { kind: 'int', min: 1 },
};

function describe(v: unknown): string {
  return typeof v === 'number' ? String(v) : `${typeof v} ${JSON.stringify(v) ?? String(v)}`;
}

/**
 * Defaults overlaid with `partial`, validated (windows integers ≥ their minimum, half-lives/thresholds finite
 * and > 0, halfLifeMin ≤ halfLifeMax, no unknown keys). Throws `CORE_FEATURE_PARAM`. Returns a frozen object.
 */
export function resolveFeatureParams(partial?: Partial<FeatureParams>): Readonly<FeatureParams> {
  if (partial !== undefined && (partial === null || typeof partial !== 'object')) {
    throw new FeatureError(FEATURE_ERROR.PARAM, `feature params must be an object, got ${describe(partial)}`);
  }
  const out: FeatureParams = { ...DEFAULT_FEATURE_PARAMS };
  for (const [k, v] of Object.entries(partial ?? {})) {
    if (!(k in RULES)) throw new FeatureError(FEATURE_ERROR.PARAM, `unknown feature parameter ${k}`);
    if (v === undefined) continue;
    (out as unknown as Record<string, unknown>)[k] = v;
  }
  for (const k of FEATURE_PARAM_KEYS) {
    const v: unknown = out[k];
    const rule = RULES[k];
    if (rule.kind === 'int') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < rule.min || v > MAX_WINDOW) {
        throw new FeatureError(FEATURE_ERROR.PARAM, `${k} must be an integer in [${rule.min}, ${MAX_WINDOW}], got ${describe(v)}`);
      }
    } else if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new FeatureError(FEATURE_ERROR.PARAM, `${k} must be a finite number > 0, got ${describe(v)}`);
    }
  }
  if (out.halfLifeMin > out.halfLifeMax) {
    throw new FeatureError(FEATURE_ERROR.PARAM, `halfLifeMin (${out.halfLifeMin}) must not exceed halfLifeMax (${out.halfLifeMax})`);
  }
  return Object.freeze(out);
}

/**
 * The feature-window keys of `configs/pipeline_policy.yaml` as unwrapped values (the `PipelinePolicy` type of
 * @noctria/policy satisfies this structurally; the math library does not import the policy library).
 */
export interface FeatureWindowPolicy {
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
}

/** Feature parameters from the pipeline policy values (validated like {@link resolveFeatureParams}). */
export function featureParamsFromPolicy(p: FeatureWindowPolicy): Readonly<FeatureParams> {
  if (p === null || typeof p !== 'object') throw new FeatureError(FEATURE_ERROR.PARAM, 'pipeline policy values must be an object');
  const need = <T>(v: T | undefined, key: string): T => {
    if (v === undefined || v === null) throw new FeatureError(FEATURE_ERROR.PARAM, `pipeline_policy.${key} is missing`);
    return v;
  };
  const clip = need(p.half_life_clip_bars, 'half_life_clip_bars');
  const spans = need(p.ema_gap_spans, 'ema_gap_spans');
  const robust = need(p.beta_robust_switch, 'beta_robust_switch');
  return resolveFeatureParams({
    betaWindow: need(p.beta_window_bars, 'beta_window_bars'),
    betaEmaHalfLife: need(p.beta_ema_half_life_bars, 'beta_ema_half_life_bars'),
    zWindow: need(p.z_window_bars, 'z_window_bars'),
    zEmaHalfLife: need(p.z_ema_half_life_bars, 'z_ema_half_life_bars'),
    zClip: need(p.z_clip_sigma, 'z_clip_sigma'),
    atrPeriod: need(p.atr_period, 'atr_period'),
    atrBaselineWindow: need(p.atr_baseline_median_bars, 'atr_baseline_median_bars'),
    rhoWindow: need(p.rho_window_bars, 'rho_window_bars'),
    corrStabilityWindow: need(p.corr_stability_window_bars, 'corr_stability_window_bars'),
    betaStabilityWindow: need(p.beta_stability_window_bars, 'beta_stability_window_bars'),
    halfLifeWindow: need(p.half_life_window_bars, 'half_life_window_bars'),
    halfLifeMin: need(clip.min, 'half_life_clip_bars.min'),
    halfLifeMax: need(clip.max, 'half_life_clip_bars.max'),
    slopeWindow: need(p.slope_window_bars, 'slope_window_bars'),
    emaFastSpan: need(spans.fast, 'ema_gap_spans.fast'),
    emaSlowSpan: need(spans.slow, 'ema_gap_spans.slow'),
    rsiPeriod: need(p.rsi_period, 'rsi_period'),
    robustMadRatio: need(robust.mad_ratio, 'beta_robust_switch.mad_ratio'),
    huberC: need(robust.huber_c, 'beta_robust_switch.huber_c'),
    huberMaxIter: need(robust.huber_max_iter, 'beta_robust_switch.huber_max_iter'),
  });
}
