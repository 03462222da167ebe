export { ML_ERROR, MlError, type MlErrorId } from './errors.js';
export { DEFAULT_GBDT_PARAMS, resolveGbdtParams, type GbdtParams } from './params.js';
export { Rng } from './rng.js';
export { binMatrix, binOf, buildBins, type FeatureBins } from './binning.js';
export { trainGbdt, type Dataset, type TrainOptions, type TrainResult } from './gbdt.js';
export { MODEL_FORMAT, MODEL_VERSION, parseModel, serializeModel, validateTree, type GbdtModel, type GbdtTree } from './model.js';
export { compileModel, FlatForest, type RowMatrix } from './predictor.js';
export { loadXgboostModel, type XgboostModelInfo } from './xgboost.js';
export {
  averagePrecision,
  brierScore,
  expectedCalibrationError,
  f1AtThreshold,
  logLoss,
  lowRiskRecall,
  rocAuc,
  type F1Options,
} from './metrics.js';
export {
  applyIsotonic,
  applyIsotonicBatch,
  fitIsotonic,
  ISOTONIC_FORMAT,
  ISOTONIC_VERSION,
  parseIsotonic,
  serializeIsotonic,
  type IsotonicModel,
} from './calibration.js';
export { purgedGroupKFold, type Fold, type PurgedKFoldOptions, type TestBlock, type TimeSamples } from './cv.js';
export { daysToBars, expandingWalkForward, type WalkForwardOptions, type WalkForwardSplit } from './walkforward.js';
export {
  blockBootstrapCi,
  bootstrapDifferenceCi,
  bootstrapMeanCi,
  bootstrapSharpeCi,
  mean,
  movingBlockIndices,
  quantileSorted,
  sharpeRatio,
  type BootstrapCi,
  type BootstrapOptions,
} from './bootstrap.js';
export {
  dieboldMariano,
  dieboldMarianoReturns,
  erfc,
  logGamma,
  meanStd,
  normalCdf,
  regularizedBeta,
  studentTCdf,
  weeklySums,
  type DieboldMarianoOptions,
  type DieboldMarianoResult,
} from './stats.js';
