import { createHash } from 'node:crypto';
import { LABEL_ERROR, labelError } from './labels/errors.js';
import { FEATURE_NAMES } from './schema.js';

/**
 * Robust normalisation of seeds/003 "正規化・クリッピング方針", fitted per feature on a training period and
 * stored as versioned JSON so inference applies exactly the same transform.
 *
 * Fit, for each feature, on its finite values v in the training rows [start, end) (warm-up NaNs are skipped):
 *   1. p01, p99 = the 1 % and 99 % quantiles of v, linear interpolation between order statistics (numpy's
 *      default `method='linear'`, R type 7): sorted x_0 … x_{n−1}, h = (n − 1)·q, Q = x_⌊h⌋ + (h − ⌊h⌋)·(x_⌊h⌋+1 − x_⌊h⌋);
 *   2. winsorise: w = min(max(v, p01), p99);
 *   3. median = median(w) (the same linear quantile at q = 0.5), MAD = median(|w − median|);
 *   4. scale = 1.4826 · MAD (σ-consistent for normal data). MAD = 0 happens when more than half of the values
 *      coincide (e.g. half_life pinned at its clip bound, a flat regime); then scale = √(π/2) · mean(|w − median|)
 *      (also σ-consistent) with scaleMethod 'meanad'; if that is 0 too the feature is constant over the training
 *      period: scale = 1, scaleMethod 'constant', and since p01 = p99 = median every value maps to 0.
 * Apply: y = (min(max(x, p01), p99) − median) / scale, then y clipped to [−5, 5] for the clipped features;
 * NaN stays NaN. By default the clipped features are the z and slope family the seed names — z, z_ema, delta_z,
 * abs_delta_z, slope_spread, slope_z; the other features are bounded by the winsorisation alone (a winsorised
 * value lies within (p99 − p01)/scale of the median, typically a few units).
 *
 * One scalar function does the arithmetic for vectors and matrices, so both paths give identical numbers.
 */
export const NORMALISER_KIND = 'noctria.features.robust-normaliser';
export const NORMALISER_VERSION = 1;
export const MAD_SCALE = 1.4826;
export const MEAN_AD_SCALE = Math.sqrt(Math.PI / 2);
export const WINSOR_LOWER = 0.01;
export const WINSOR_UPPER = 0.99;
export const NORMALISED_CLIP = 5;
export const DEFAULT_CLIPPED_FEATURES: readonly string[] = Object.freeze(['z', 'z_ema', 'delta_z', 'abs_delta_z', 'slope_spread', 'slope_z']);

export type ScaleMethod = 'mad' | 'meanad' | 'constant';

export interface FeatureNormStats {
  name: string;
  /** Finite training values the statistics were computed from. */
  count: number;
  p01: number;
  p99: number;
  median: number;
  mad: number;
  scale: number;
  scaleMethod: ScaleMethod;
  /** Whether the standardised value is clipped to [−clipAt, clipAt]. */
  clip: boolean;
}

export interface NormaliserParams {
  kind: typeof NORMALISER_KIND;
  version: typeof NORMALISER_VERSION;
  quantileMethod: 'linear';
  lowerQuantile: number;
  upperQuantile: number;
  madScale: number;
  meanAdScale: number;
  clipAt: number;
  /** Training rows, half-open [start, end). */
  trainRange: { start: number; end: number };
  /** schemaHash of the feature matrix it was fitted on, when known. */
  featureSchemaHash: string | null;
  features: FeatureNormStats[];
}

/** Anything with named feature columns of equal length (a FeatureMatrix qualifies). */
export interface FeatureColumns {
  columns: Readonly<Record<string, Float64Array>>;
  schemaHash?: string;
}

export interface FitNormaliserOptions {
  /** Features to fit, in output order (default: FEATURE_NAMES). */
  names?: readonly string[];
  /** Features clipped to ±5 after standardisation (default: those of {@link DEFAULT_CLIPPED_FEATURES} being fitted). */
  clipFeatures?: readonly string[];
}

/** Linear-interpolation quantile of an ascending, non-empty array (numpy 'linear'). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw labelError(LABEL_ERROR.NODATA, 'quantile of an empty sample');
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const x = sorted[lo]!;
  if (lo + 1 >= n) return x;
  return x + (h - lo) * (sorted[lo + 1]! - x);
}

function fitOne(name: string, col: Float64Array, start: number, end: number, clip: boolean): FeatureNormStats {
  const v: number[] = [];
  for (let i = start; i < end; i++) {
    const x = col[i]!;
    if (Number.isFinite(x)) v.push(x);
  }
  if (v.length === 0) throw labelError(LABEL_ERROR.NODATA, `feature ${name} has no finite value in training rows [${start}, ${end})`);
  const sorted = Float64Array.from(v).sort();
  const p01 = quantileSorted(sorted, WINSOR_LOWER);
  const p99 = quantileSorted(sorted, WINSOR_UPPER);
  // Winsorising is monotone, so the clamped sorted values stay sorted.
  const w = sorted.map((x) => Math.min(Math.max(x, p01), p99));
  const median = quantileSorted(w, 0.5);
  const dev = w.map((x) => Math.abs(x - median)).sort();
  const mad = quantileSorted(dev, 0.5);
  let scale: number;
  let scaleMethod: ScaleMethod;
  if (mad > 0) {
    scale = MAD_SCALE * mad;
    scaleMethod = 'mad';
  } else {
    let sum = 0;
    for (const d of dev) sum += d;
    const meanAd = sum / dev.length;
    if (meanAd > 0) {
      scale = MEAN_AD_SCALE * meanAd;
      scaleMethod = 'meanad';
    } else {
      scale = 1;
      scaleMethod = 'constant';
    }
  }
  return { name, count: v.length, p01, p99, median, mad, scale, scaleMethod, clip };
}

/** Fits the normaliser on rows [trainRange.start, trainRange.end) of every feature column. */
export function fitRobustNormaliser(matrix: FeatureColumns, trainRange: { start: number; end: number }, options: FitNormaliserOptions = {}): NormaliserParams {
  const names = options.names ?? FEATURE_NAMES;
  // The default list applies to whichever of its features are fitted; an explicit list must name fitted features.
  const clipSet = new Set(options.clipFeatures ?? DEFAULT_CLIPPED_FEATURES.filter((c) => names.includes(c)));
  if (new Set(names).size !== names.length || names.length === 0) throw labelError(LABEL_ERROR.PARAM, 'feature names must be non-empty and unique');
  for (const c of clipSet) if (!names.includes(c)) throw labelError(LABEL_ERROR.PARAM, `clipped feature ${c} is not among the fitted features`);
  const cols = names.map((name) => {
    const c = matrix.columns[name];
    if (c === undefined) throw labelError(LABEL_ERROR.INPUT, `feature column ${name} is missing`);
    return c;
  });
  const n = cols[0]!.length;
  cols.forEach((c, i) => {
    if (c.length !== n) throw labelError(LABEL_ERROR.INPUT, `feature column ${names[i]} has length ${c.length}, expected ${n}`);
  });
  const { start, end } = trainRange;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= n)) {
    throw labelError(LABEL_ERROR.INPUT, `training range [${start}, ${end}) must be integers with 0 ≤ start < end ≤ ${n}`);
  }
  return {
    kind: NORMALISER_KIND,
    version: NORMALISER_VERSION,
    quantileMethod: 'linear',
    lowerQuantile: WINSOR_LOWER,
    upperQuantile: WINSOR_UPPER,
    madScale: MAD_SCALE,
    meanAdScale: MEAN_AD_SCALE,
    clipAt: NORMALISED_CLIP,
    trainRange: { start, end },
    featureSchemaHash: matrix.schemaHash ?? null,
    features: names.map((name, i) => fitOne(name, cols[i]!, start, end, clipSet.has(name))),
  };
}

/** The transform of one value of one feature (the only place the arithmetic lives). */
export function normaliseValue(s: FeatureNormStats, clipAt: number, x: number): number {
  if (x !== x) return NaN;
  const y = (Math.min(Math.max(x, s.p01), s.p99) - s.median) / s.scale;
  return s.clip ? Math.min(Math.max(y, -clipAt), clipAt) : y;
}

/** Normalises one feature vector (values in `params.features` order) … */
export function applyRobustNormaliser(params: NormaliserParams, values: ArrayLike<number>): Float64Array;
/** … or every row of a set of feature columns (returns new columns keyed by feature name). */
export function applyRobustNormaliser(params: NormaliserParams, values: FeatureColumns): Record<string, Float64Array>;
export function applyRobustNormaliser(params: NormaliserParams, values: ArrayLike<number> | FeatureColumns): Float64Array | Record<string, Float64Array> {
  const fs = params.features;
  if (isColumns(values)) {
    const out: Record<string, Float64Array> = {};
    let n = -1;
    for (const s of fs) {
      const c = values.columns[s.name];
      if (c === undefined) throw labelError(LABEL_ERROR.INPUT, `feature column ${s.name} is missing`);
      if (n >= 0 && c.length !== n) throw labelError(LABEL_ERROR.INPUT, `feature column ${s.name} has length ${c.length}, expected ${n}`);
      n = c.length;
      const o = new Float64Array(n);
      for (let i = 0; i < n; i++) o[i] = normaliseValue(s, params.clipAt, c[i]!);
      out[s.name] = o;
    }
    return out;
  }
  if (values.length !== fs.length) throw labelError(LABEL_ERROR.INPUT, `feature vector has ${values.length} values, the normaliser ${fs.length}`);
  const out = new Float64Array(fs.length);
  for (let j = 0; j < fs.length; j++) out[j] = normaliseValue(fs[j]!, params.clipAt, values[j]!);
  return out;
}

function isColumns(v: ArrayLike<number> | FeatureColumns): v is FeatureColumns {
  return typeof (v as FeatureColumns).columns === 'object' && (v as FeatureColumns).columns !== null;
}

/** Canonical JSON text (fixed key order) of the parameters. */
export function serialiseNormaliser(p: NormaliserParams): string {
  const canonical: NormaliserParams = {
    kind: p.kind,
    version: p.version,
    quantileMethod: p.quantileMethod,
    lowerQuantile: p.lowerQuantile,
    upperQuantile: p.upperQuantile,
    madScale: p.madScale,
    meanAdScale: p.meanAdScale,
    clipAt: p.clipAt,
    trainRange: { start: p.trainRange.start, end: p.trainRange.end },
    featureSchemaHash: p.featureSchemaHash,
    features: p.features.map((s) => ({
      name: s.name,
      count: s.count,
      p01: s.p01,
      p99: s.p99,
      median: s.median,
      mad: s.mad,
      scale: s.scale,
      scaleMethod: s.scaleMethod,
      clip: s.clip,
    })),
  };
  return JSON.stringify(canonical);
}

/** sha256 (hex) of {@link serialiseNormaliser}: identifies the transform in model metadata. */
export function normaliserHash(p: NormaliserParams): string {
  return createHash('sha256').update(serialiseNormaliser(p)).digest('hex');
}

function schemaFail(msg: string): never {
  throw labelError(LABEL_ERROR.SCHEMA, `normaliser parameters: ${msg}`);
}

/** Parses and validates serialised parameters (a JSON string or an already-parsed object); throws CORE_LABEL_SCHEMA. */
export function parseNormaliser(input: string | unknown): NormaliserParams {
  let o: unknown = input;
  if (typeof input === 'string') {
    try {
      o = JSON.parse(input);
    } catch (e) {
      schemaFail(`not JSON (${(e as Error).message})`);
    }
  }
  if (o === null || typeof o !== 'object') schemaFail('not an object');
  const r = o as Record<string, unknown>;
  if (r.kind !== NORMALISER_KIND) schemaFail(`kind must be ${NORMALISER_KIND}`);
  if (r.version !== NORMALISER_VERSION) schemaFail(`unsupported version ${JSON.stringify(r.version)} (this build reads ${NORMALISER_VERSION})`);
  if (r.quantileMethod !== 'linear') schemaFail('quantileMethod must be linear');
  const num = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) schemaFail(`${what} must be a finite number`);
    return v;
  };
  const lowerQuantile = num(r.lowerQuantile, 'lowerQuantile');
  const upperQuantile = num(r.upperQuantile, 'upperQuantile');
  if (!(lowerQuantile >= 0 && lowerQuantile < upperQuantile && upperQuantile <= 1)) schemaFail('quantiles must satisfy 0 ≤ lower < upper ≤ 1');
  const clipAt = num(r.clipAt, 'clipAt');
  if (!(clipAt > 0)) schemaFail('clipAt must be > 0');
  const tr = r.trainRange as Record<string, unknown> | null;
  if (tr === null || typeof tr !== 'object' || !Number.isInteger(tr.start) || !Number.isInteger(tr.end)) schemaFail('trainRange must hold integer start and end');
  if (r.featureSchemaHash !== null && typeof r.featureSchemaHash !== 'string') schemaFail('featureSchemaHash must be a string or null');
  if (!Array.isArray(r.features) || r.features.length === 0) schemaFail('features must be a non-empty array');
  const seen = new Set<string>();
  const features = r.features.map((f: unknown, i: number): FeatureNormStats => {
    if (f === null || typeof f !== 'object') schemaFail(`features[${i}] is not an object`);
    const s = f as Record<string, unknown>;
    if (typeof s.name !== 'string' || s.name.length === 0 || seen.has(s.name)) schemaFail(`features[${i}].name must be a unique non-empty string`);
    seen.add(s.name);
    const st: FeatureNormStats = {
      name: s.name,
      count: num(s.count, `${s.name}.count`),
      p01: num(s.p01, `${s.name}.p01`),
      p99: num(s.p99, `${s.name}.p99`),
      median: num(s.median, `${s.name}.median`),
      mad: num(s.mad, `${s.name}.mad`),
      scale: num(s.scale, `${s.name}.scale`),
      scaleMethod: s.scaleMethod as ScaleMethod,
      clip: s.clip as boolean,
    };
    if (!['mad', 'meanad', 'constant'].includes(st.scaleMethod)) schemaFail(`${s.name}.scaleMethod must be mad, meanad or constant`);
    if (typeof st.clip !== 'boolean') schemaFail(`${s.name}.clip must be a boolean`);
    if (!(st.scale > 0 && st.mad >= 0 && st.p01 <= st.median && st.median <= st.p99 && Number.isInteger(st.count) && st.count >= 1)) {
      schemaFail(`${s.name}: need scale > 0, MAD ≥ 0, p01 ≤ median ≤ p99 and an integer count ≥ 1`);
    }
    return st;
  });
  return {
    kind: NORMALISER_KIND,
    version: NORMALISER_VERSION,
    quantileMethod: 'linear',
    lowerQuantile,
    upperQuantile,
    madScale: num(r.madScale, 'madScale'),
    meanAdScale: num(r.meanAdScale, 'meanAdScale'),
    clipAt,
    trainRange: { start: tr.start as number, end: tr.end as number },
    featureSchemaHash: (r.featureSchemaHash as string | null) ?? null,
    features,
  };
}
