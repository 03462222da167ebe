import { checkNonNegInt, checkTimeSamples, type TimeSamples } from './cv.js';
import { ML_ERROR, MlError } from './errors.js';

export interface WalkForwardOptions {
  /** Bars per day of the timeframe (e.g. 24 for 1h bars on a 24 h clock); days convert as round(days × barsPerDay). */
  barsPerDay: number;
  /** retrain_cv.wf_step_days (default 30). */
  stepDays?: number;
  /** retrain_cv.wf_min_train_days (default 360). */
  minTrainDays?: number;
  /** retrain_cv.purge_bars (default 24). */
  purgeBars?: number;
  /** retrain_cv.embargo_bars (default 24). */
  embargoBars?: number;
}

export interface WalkForwardSplit {
  step: number;
  /** First bar of the data (the expanding window's fixed origin). */
  trainStart: number;
  /** Training label horizons end before this bar: testStart − purgeBars − embargoBars. */
  trainEnd: number;
  testStart: number;
  /** Last bar of the test window (inclusive); the final window is cut at the last sample. */
  testEnd: number;
  /** Sample indices, ascending. */
  train: Uint32Array;
  test: Uint32Array;
}

export function daysToBars(days: number, barsPerDay: number): number {
  if (!(barsPerDay > 0) || !Number.isFinite(barsPerDay)) throw new MlError(ML_ERROR.PARAM, `barsPerDay must be > 0, got ${barsPerDay}`);
  if (!(days >= 0) || !Number.isFinite(days)) throw new MlError(ML_ERROR.PARAM, `days must be ≥ 0, got ${days}`);
  return Math.round(days * barsPerDay);
}

/**
 * Expanding walk-forward. With t₀ the first sample time, test windows are [t₀ + minTrain + j·step,
 * t₀ + minTrain + (j+1)·step − 1] for j = 0, 1, … while the window starts at or before the last sample time. The
 * training set of a window holds every sample (all groups) whose label horizon ends before testStart − purgeBars −
 * embargoBars: the purge keeps training labels clear of the test window, and since an expanding window never trains
 * on anything after its test window, the embargo is spent as an extra gap at the same boundary (the conservative
 * reading of "purge and embargo at each boundary"). Windows without a test sample are skipped; a window whose
 * training set is empty is still reported (the caller decides).
 */
export function expandingWalkForward(samples: TimeSamples, options: WalkForwardOptions): WalkForwardSplit[] {
  const step = daysToBars(options.stepDays ?? 30, options.barsPerDay);
  const minTrain = daysToBars(options.minTrainDays ?? 360, options.barsPerDay);
  const purge = options.purgeBars ?? 24;
  const embargo = options.embargoBars ?? 24;
  checkNonNegInt('step bars', step, 1);
  checkNonNegInt('purgeBars', purge);
  checkNonNegInt('embargoBars', embargo);
  const n = checkTimeSamples(samples);
  if (n === 0) return [];
  let t0 = Infinity;
  let tMax = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = samples.time[i]!;
    if (t < t0) t0 = t;
    if (t > tMax) tMax = t;
  }
  // Samples sorted by time, and by horizon end, so each window is two binary-search cuts.
  const byTime = Array.from({ length: n }, (_, i) => i).sort((a, b) => samples.time[a]! - samples.time[b]! || a - b);
  const byEnd = Array.from({ length: n }, (_, i) => i).sort((a, b) => samples.horizonEnd[a]! - samples.horizonEnd[b]! || a - b);
  const firstAtLeast = (idx: number[], key: ArrayLike<number>, v: number): number => {
    let lo = 0;
    let hi = idx.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (key[idx[mid]!]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const splits: WalkForwardSplit[] = [];
  for (let s = t0 + minTrain, j = 0; s <= tMax; s += step, j++) {
    const testEnd = Math.min(s + step - 1, tMax);
    const a = firstAtLeast(byTime, samples.time, s);
    const b = firstAtLeast(byTime, samples.time, testEnd + 1);
    if (b === a) continue;
    const trainEnd = s - purge - embargo;
    const c = firstAtLeast(byEnd, samples.horizonEnd, trainEnd);
    const test = Uint32Array.from(byTime.slice(a, b)).sort();
    const train = Uint32Array.from(byEnd.slice(0, c)).sort();
    splits.push({ step: j, trainStart: t0, trainEnd, testStart: s, testEnd, train, test });
  }
  return splits;
}
