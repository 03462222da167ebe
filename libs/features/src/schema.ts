import { createHash } from 'node:crypto';
import { FEATURE_PARAM_KEYS, resolveFeatureParams, type FeatureParams } from './params.js';

/** The 21 features of "特徴量仕様 v1", in the order of every feature vector and matrix of this library. */
export const FEATURE_NAMES = [
  'beta',
  'spread',
  'z',
  'z_ema',
  'delta_z',
  'abs_delta_z',
  'abs_delta_S',
  'atr_A',
  'atr_B',
  'atr_spread',
  'vol_ratio_spread',
  'atr_ratio_A',
  'atr_ratio_B',
  'half_life',
  'rho_rolling',
  'corr_stability',
  'beta_stability',
  'ema_gap_spread',
  'slope_spread',
  'slope_z',
  'rsi_spread',
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];

export const FEATURE_COUNT = FEATURE_NAMES.length;

export const FEATURE_INDEX: Readonly<Record<FeatureName, number>> = Object.freeze(
  Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, i])) as Record<FeatureName, number>,
);

/** Bumped whenever a formula or convention changes (the hash then changes for every parameter set). */
export const FEATURE_SCHEMA_VERSION = 1;

/**
 * sha256 (hex) of the canonical JSON `{"names":[…],"params":{…sorted keys…},"version":N}` with the resolved
 * parameters: two feature matrices are comparable exactly when their hashes agree.
 */
export function featureSchemaHash(params?: Partial<FeatureParams>): string {
  const p = resolveFeatureParams(params);
  const sortedKeys = [...FEATURE_PARAM_KEYS].sort();
  const paramsJson = `{${sortedKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(p[k])}`).join(',')}}`;
  const canonical = `{"names":${JSON.stringify(FEATURE_NAMES)},"params":${paramsJson},"version":${FEATURE_SCHEMA_VERSION}}`;
  return createHash('sha256').update(canonical).digest('hex');
}
