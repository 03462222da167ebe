import { ML_ERROR, MlError } from './errors.js';

/**
 * Samples for time-series splitting. `time` is the bar index of the event (on one bar clock shared by all groups),
 * `horizonEnd` the last bar its label looks at (event start + M), `group` the pair. All integers.
 */
export interface TimeSamples {
  group: ArrayLike<number>;
  time: ArrayLike<number>;
  horizonEnd: ArrayLike<number>;
}

export interface PurgedKFoldOptions {
  /** Folds (retrain_cv.k_folds, default 5). */
  k?: number;
  /** Bars before a test block that a training label horizon must stay clear of (retrain_cv.purge_bars, default 24). */
  purgeBars?: number;
  /** Bars after a test block in which no training sample may lie (retrain_cv.embargo_bars, default 24). */
  embargoBars?: number;
  /** Shortest test block in bars (retrain_cv.min_block_len_bars, default 240). */
  minBlockLenBars?: number;
  /**
   * 'group' (default): a test block of pair P only purges and embargoes samples of P. 'all': every test block of
   * the fold purges and embargoes every pair (for pairs that share legs, at the cost of much less training data).
   */
  purgeScope?: 'group' | 'all';
}

export interface TestBlock {
  group: number;
  /** First bar of the block. */
  start: number;
  /** Last bar of the block (inclusive). */
  end: number;
}

export interface Fold {
  fold: number;
  /** Sample indices, ascending. */
  train: Uint32Array;
  test: Uint32Array;
  blocks: TestBlock[];
  /** Training candidates dropped because their label horizon reaches [start − purgeBars, end]. */
  purged: number;
  /** Training candidates dropped because their label horizon reaches the embargo (end, end + embargoBars] only. */
  embargoed: number;
}

function isInt(v: number): boolean {
  return Number.isSafeInteger(v);
}

export function checkTimeSamples(s: TimeSamples): number {
  const n = s.time.length;
  if (s.group.length !== n || s.horizonEnd.length !== n) {
    throw new MlError(ML_ERROR.DATA, `time samples: length mismatch (group ${s.group.length}, time ${n}, horizonEnd ${s.horizonEnd.length})`);
  }
  for (let i = 0; i < n; i++) {
    const g = s.group[i]!;
    const t = s.time[i]!;
    const e = s.horizonEnd[i]!;
    if (!isInt(g) || !isInt(t) || !isInt(e) || e < t) {
      throw new MlError(ML_ERROR.DATA, `time samples: sample ${i} needs integer group/time/horizonEnd with horizonEnd ≥ time`);
    }
  }
  return n;
}

export function checkNonNegInt(name: string, v: number, min = 0): void {
  if (!isInt(v) || v < min) throw new MlError(ML_ERROR.PARAM, `${name} must be an integer ≥ ${min}, got ${v}`);
}

/**
 * Purged grouped time-series K-fold.
 *
 * Per group (pair) the bars it spans, [first sample time, last sample time], are cut into
 * nb = min(K, ⌊span / minBlockLenBars⌋) contiguous, equal-length time blocks (so every block is at least
 * minBlockLenBars long); block b goes to fold ⌊(b + ½)·K / nb⌋, which is block b → fold b when nb = K. A group
 * spanning less than minBlockLenBars is one block (the whole group) and lands in fold ⌊K/2⌋. Short groups thus
 * merge their would-be blocks rather than drop samples: every sample is a test sample in exactly one fold, and
 * some folds may hold no block of a short group.
 *
 * For a test block [a, b], a training sample with label horizon [t, e] is removed when [t, e] intersects
 * [a − purgeBars, b + embargoBars]: "purged" when it reaches [a − purgeBars, b], else "embargoed" (it lies in, or
 * its horizon reaches only, the embargo after the block). Training = all non-test samples not removed.
 */
export function purgedGroupKFold(samples: TimeSamples, options: PurgedKFoldOptions = {}): Fold[] {
  const k = options.k ?? 5;
  const purge = options.purgeBars ?? 24;
  const embargo = options.embargoBars ?? 24;
  const minLen = options.minBlockLenBars ?? 240;
  const scope = options.purgeScope ?? 'group';
  checkNonNegInt('k', k, 2);
  checkNonNegInt('purgeBars', purge);
  checkNonNegInt('embargoBars', embargo);
  checkNonNegInt('minBlockLenBars', minLen, 1);
  const n = checkTimeSamples(samples);

  // Time span of each group.
  const span = new Map<number, { lo: number; hi: number }>();
  for (let i = 0; i < n; i++) {
    const g = samples.group[i]!;
    const t = samples.time[i]!;
    const r = span.get(g);
    if (r === undefined) span.set(g, { lo: t, hi: t });
    else {
      if (t < r.lo) r.lo = t;
      if (t > r.hi) r.hi = t;
    }
  }

  const blocksByFold: TestBlock[][] = Array.from({ length: k }, () => []);
  const groups = [...span.keys()].sort((a, b) => a - b);
  for (const g of groups) {
    const { lo, hi } = span.get(g)!;
    const len = hi - lo + 1;
    const nb = Math.max(1, Math.min(k, Math.floor(len / minLen)));
    for (let b = 0; b < nb; b++) {
      const start = lo + Math.floor((b * len) / nb);
      const end = lo + Math.floor(((b + 1) * len) / nb) - 1;
      blocksByFold[Math.floor(((b + 0.5) * k) / nb)]!.push({ group: g, start, end });
    }
  }

  const folds: Fold[] = [];
  for (let f = 0; f < k; f++) {
    const blocks = blocksByFold[f]!;
    const byGroup = new Map<number, TestBlock>();
    for (const bl of blocks) byGroup.set(bl.group, bl);
    const train: number[] = [];
    const test: number[] = [];
    let purged = 0;
    let embargoed = 0;
    for (let i = 0; i < n; i++) {
      const g = samples.group[i]!;
      const t = samples.time[i]!;
      const e = samples.horizonEnd[i]!;
      const own = byGroup.get(g);
      if (own !== undefined && t >= own.start && t <= own.end) {
        test.push(i);
        continue;
      }
      let verdict: 'keep' | 'purge' | 'embargo' = 'keep';
      const check = (bl: TestBlock): void => {
        if (e >= bl.start - purge && t <= bl.end) verdict = 'purge';
        else if (verdict === 'keep' && e >= bl.start - purge && t <= bl.end + embargo) verdict = 'embargo';
      };
      if (scope === 'group') {
        if (own !== undefined) check(own);
      } else {
        for (const bl of blocks) check(bl);
      }
      if (verdict === 'keep') train.push(i);
      else if (verdict === 'purge') purged++;
      else embargoed++;
    }
    folds.push({ fold: f, train: Uint32Array.from(train), test: Uint32Array.from(test), blocks, purged, embargoed });
  }
  return folds;
}
