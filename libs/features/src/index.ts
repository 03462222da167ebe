/**
 * @noctria/features — the features and labels of seeds/003 ("特徴量仕様 v1", "ラベリング仕様 v1") as pure,
 * framework-free code over typed arrays. Streaming (PairFeatureEngine) and batch give bit-identical numbers.
 */
// --- parameters, schema, rolling primitives, engine, batch (features core) ---

// --- labels, normalisation, class weights, training data quality ---
