/**
 * @noctria/features — the features and labels of seeds/003 ("特徴量仕様 v1", "ラベリング仕様 v1") as pure,
 * framework-free code over typed arrays. Streaming (PairFeatureEngine) and batch give bit-identical numbers.
 */
// --- parameters, schema, rolling primitives, engine, batch (features core) ---
export * from './errors.js';
export * from './types.js';
export * from './params.js';
export * from './schema.js';
export * from './primitives/index.js';
export * from './engine.js';
export * from './batch.js';

// --- labels, normalisation, class weights, training data quality ---
export * from './labels/index.js';
export * from './normalise.js';
export * from './dataset.js';

// --- reference (test oracle) ---
export * from './reference/naive.js';
