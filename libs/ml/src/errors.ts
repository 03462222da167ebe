/**
 * Error ids of the models library. The library is framework-free (scope:math), so ids are plain strings in the
 * platform format `{DOMAIN}_{CATEGORY}_{CODE}`; services wrap them in NoctriaError when they surface them.
 */
export const ML_ERROR = {
  /** Invalid training parameters (out of range, not finite, wrong type, unknown key). */
  PARAM: 'CORE_ML_PARAM',
  /** Invalid training or scoring data: shape mismatch, NaN/±∞ label, label outside [0,1], ±∞ feature, bad weight. */
  DATA: 'CORE_ML_DATA',
  /** A model document is malformed, of an unknown format/version, or uses an unsupported XGBoost objective. */
  MODEL: 'CORE_ML_MODEL',
} as const;

export type MlErrorId = (typeof ML_ERROR)[keyof typeof ML_ERROR];

export class MlError extends Error {
  constructor(
    readonly id: MlErrorId,
    message: string,
  ) {
    super(`${id}: ${message}`);
    this.name = 'MlError';
  }
}
