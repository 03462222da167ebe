/** Error ids of dataset snapshots (documented in docs/error-codes.md, section DATA_FEATURES). */
export const DATASET_ERROR = {
  /** Features recomputed from the stored leg bars differ from the stored vectors of the same bars (corrupt store or series). */
  INTEGRITY: 'DATA_FEATURES_INTEGRITY',
  /** The requested period holds no usable rows for a pair (no stored bars, or only segments shorter than the warm-up). */
  NODATA: 'DATA_FEATURES_NODATA',
  /** Building or storing a snapshot failed for another reason (artefact store, database); the snapshot is `failed`. */
  SNAPSHOT: 'DATA_FEATURES_SNAPSHOT',
} as const;
