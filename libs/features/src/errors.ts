/**
 * Error ids of the features library. The library is framework-free (scope:math), so ids are plain strings in
 * the platform format `{DOMAIN}_{CATEGORY}_{CODE}`; services wrap them in NoctriaError when they surface them.
 */
export const FEATURE_ERROR = {
  /** Invalid feature parameters (window not an integer ≥ its minimum, non-positive half-life, unknown key…). */
  PARAM: 'CORE_FEATURE_PARAM',
  /** A price or timestamp is NaN/±Infinity, or a price is zero or negative. */
  NONFIN: 'CORE_FEATURE_NONFIN',
  /** A bar's high is below its low (the true range would be meaningless). */
  OHLC: 'CORE_FEATURE_OHLC',
  /** A bar time is not strictly after the previous bar time of the pair. */
  ORDER: 'CORE_FEATURE_ORDER',
  /** The columns of a PairSeries differ in length. */
  SHAPE: 'CORE_FEATURE_SHAPE',
  /** A snapshot is malformed, of another schema version, or was taken with other parameters. */
  STATE: 'CORE_FEATURE_STATE',
} as const;

export type FeatureErrorId = (typeof FEATURE_ERROR)[keyof typeof FEATURE_ERROR];

export class FeatureError extends Error {
  constructor(
    readonly id: FeatureErrorId,
    message: string,
  ) {
    super(`${id}: ${message}`);
    this.name = 'FeatureError';
  }
}
