/** Injection tokens of the features module. */
export const FEATURES_OPTIONS = 'FEATURES_OPTIONS';
