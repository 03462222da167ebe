export { ML_ERROR, MlError, type MlErrorId } from './errors.js';
export { DEFAULT_GBDT_PARAMS, resolveGbdtParams, type GbdtParams } from './params.js';
export { Rng } from './rng.js';
export { binMatrix, binOf, buildBins, type FeatureBins } from './binning.js';
export { trainGbdt, type Dataset, type TrainOptions, type TrainResult } from './gbdt.js';
export { MODEL_FORMAT, MODEL_VERSION, parseModel, serializeModel, validateTree, type GbdtModel, type GbdtTree } from './model.js';
export { compileModel, FlatForest, type RowMatrix } from './predictor.js';
export { loadXgboostModel, type XgboostModelInfo } from './xgboost.js';
export { logLoss, rocAuc } from './metrics.js';
