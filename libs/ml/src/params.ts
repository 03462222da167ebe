import { ML_ERROR, MlError } from './errors.js';

/** Training parameters of the histogram GBDT (names follow XGBoost's where one exists). */
export interface GbdtParams {
  /** Boosting rounds (upper bound when early stopping is on). */
  rounds: number;
  /** Shrinkage η applied to every leaf value. */
  learningRate: number;
  /** Maximum tree depth (root = depth 0). */
  maxDepth: number;
  /** Minimum hessian sum in each child of a split. */
  minChildWeight: number;
  /** L2 regularisation λ on leaf values. */
  lambda: number;
  /** Minimum split gain γ: a split is kept only when ½[G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)] − γ > 0. */
  gamma: number;
  /** Bins per feature including the missing-value bin (2..255). */
  maxBin: number;
  /** Fraction of rows drawn (Bernoulli, seeded) for each tree. */
  subsample: number;
  /** Fraction of features drawn (seeded, without replacement) for each tree. */
  colsampleBytree: number;
  /** Initial probability; 'mean' = weighted mean of the training labels (the model starts at its log-odds). */
  baseScore: number | 'mean';
  /** Rounds without a validation improvement before training stops; 0 disables early stopping. */
  earlyStoppingRounds: number;
  /** When no validation set is passed: the last fraction of the (time-ordered) rows becomes validation. */
  validationFraction: number;
}

export const DEFAULT_GBDT_PARAMS: Readonly<GbdtParams> = Object.freeze({
  rounds: 100,
  learningRate: 0.3,
  maxDepth: 6,
  minChildWeight: 1,
  lambda: 1,
  gamma: 0,
  maxBin: 255,
  subsample: 1,
  colsampleBytree: 1,
  baseScore: 'mean',
  earlyStoppingRounds: 50,
  validationFraction: 0,
});

const KEYS = Object.keys(DEFAULT_GBDT_PARAMS) as (keyof GbdtParams)[];

function fail(message: string): never {
  throw new MlError(ML_ERROR.PARAM, message);
}

function num(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${name} must be a finite number, got ${String(v)}`);
  return v;
}

function int(name: string, v: unknown, min: number, max: number): number {
  const n = num(name, v);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be an integer in [${min}, ${max}], got ${n}`);
  return n;
}

function inRange(name: string, v: unknown, lo: number, hi: number, loOpen: boolean): number {
  const n = num(name, v);
  if ((loOpen ? n <= lo : n < lo) || n > hi) fail(`${name} must be in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${n}`);
  return n;
}

/** Merges `user` over the defaults and validates every value; unknown keys are an error (a typo must not pass). */
export function resolveGbdtParams(user: Partial<GbdtParams> = {}): GbdtParams {
  for (const k of Object.keys(user)) if (!KEYS.includes(k as keyof GbdtParams)) fail(`unknown parameter '${k}'`);
  const p: GbdtParams = { ...DEFAULT_GBDT_PARAMS, ...user };
  int('rounds', p.rounds, 1, 1_000_000);
  inRange('learningRate', p.learningRate, 0, 1, true);
  int('maxDepth', p.maxDepth, 1, 20);
  inRange('minChildWeight', p.minChildWeight, 0, Number.MAX_VALUE, false);
  inRange('lambda', p.lambda, 0, Number.MAX_VALUE, false);
  inRange('gamma', p.gamma, 0, Number.MAX_VALUE, false);
  int('maxBin', p.maxBin, 2, 255);
  inRange('subsample', p.subsample, 0, 1, true);
  inRange('colsampleBytree', p.colsampleBytree, 0, 1, true);
  if (p.baseScore !== 'mean') {
    const b = num('baseScore', p.baseScore);
    if (b <= 0 || b >= 1) fail(`baseScore must be 'mean' or in (0, 1), got ${b}`);
  }
  int('earlyStoppingRounds', p.earlyStoppingRounds, 0, 1_000_000);
  const vf = num('validationFraction', p.validationFraction);
  if (vf < 0 || vf >= 1) fail(`validationFraction must be in [0, 1), got ${vf}`);
  return p;
}
