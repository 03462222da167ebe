import { FeatureError, type FeatureErrorId } from '../errors.js';

/**
 * Error ids of the labels, normalisation and training-dataset modules (`CORE_LABEL_<CODE>`), raised as the
 * library's `FeatureError`.
 */
export const LABEL_ERROR = {
  /** A label, normaliser or data-quality parameter is invalid. */
  PARAM: 'CORE_LABEL_PARAM',
  /** Input arrays are inconsistent (lengths differ, times not increasing, a range outside the data). */
  INPUT: 'CORE_LABEL_INPUT',
  /** A normaliser cannot be fitted: a feature has no finite value in the training range. */
  NODATA: 'CORE_LABEL_NODATA',
  /** Serialised normaliser parameters are malformed, of another version, or for other features. */
  SCHEMA: 'CORE_LABEL_SCHEMA',
} as const;

export type LabelErrorId = (typeof LABEL_ERROR)[keyof typeof LABEL_ERROR];

/**
 * Raised as the library's FeatureError so that one `instanceof` check covers features and labels. FeatureError
 * types its `id` as the core union (`CORE_FEATURE_*`); until that union includes {@link LabelErrorId}, the id is
 * passed through a cast — at run time `id` is the `CORE_LABEL_*` string and the message starts with it.
 */
export class LabelError extends FeatureError {
  constructor(id: LabelErrorId, message: string) {
    super(id as unknown as FeatureErrorId, message);
  }
}

export function labelError(id: LabelErrorId, message: string): LabelError {
  return new LabelError(id, message);
}
