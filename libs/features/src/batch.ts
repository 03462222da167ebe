import { PairFeatureEngine } from './engine.js';
import { FEATURE_ERROR, FeatureError } from './errors.js';
import type { FeatureParams } from './params.js';
import { FEATURE_COUNT, FEATURE_NAMES, type FeatureName } from './schema.js';
import type { PairSeries } from './types.js';

/** Columnar features of a whole pair series (NaN during warm-up). */
export interface FeatureMatrix {
  tsMs: Float64Array;
  columns: Record<FeatureName, Float64Array>;
  params: FeatureParams;
  schemaHash: string;
}

const SERIES_KEYS = ['tsMs', 'aOpen', 'aHigh', 'aLow', 'aClose', 'bOpen', 'bHigh', 'bLow', 'bClose'] as const;

/**
 * Features of every bar of `series`, bit-identical to feeding the same bars to a fresh PairFeatureEngine:
 * the batch path runs the engine's own per-bar kernel over the columns (same code, same arithmetic order),
 * so there is no second implementation to drift. Throws like the engine on the first invalid row, and
 * CORE_FEATURE_SHAPE when the columns differ in length.
 */
export function computeFeatureMatrix(series: PairSeries, params?: Partial<FeatureParams>): FeatureMatrix {
  const n = series.tsMs?.length;
  for (const k of SERIES_KEYS) {
    const col = series[k];
    if (!(col instanceof Float64Array) || col.length !== n) {
      throw new FeatureError(FEATURE_ERROR.SHAPE, `series.${k} must be a Float64Array of length ${n}`);
    }
  }
  const engine = new PairFeatureEngine(params);
  const cols = FEATURE_NAMES.map(() => new Float64Array(n));
  const row = new Float64Array(FEATURE_COUNT);
  const { tsMs, aOpen, aHigh, aLow, aClose, bOpen, bHigh, bLow, bClose } = series;
  for (let i = 0; i < n; i++) {
    try {
      engine.step(tsMs[i]!, aOpen[i]!, aHigh[i]!, aLow[i]!, aClose[i]!, bOpen[i]!, bHigh[i]!, bLow[i]!, bClose[i]!, row, 0);
    } catch (e) {
      if (e instanceof FeatureError) throw new FeatureError(e.id, `row ${i}: ${e.message.slice(e.id.length + 2)}`);
      throw e;
    }
    for (let f = 0; f < FEATURE_COUNT; f++) cols[f]![i] = row[f]!;
  }
  const columns = Object.fromEntries(FEATURE_NAMES.map((name, f) => [name, cols[f]!])) as Record<FeatureName, Float64Array>;
  return { tsMs: Float64Array.from(tsMs), columns, params: { ...engine.params }, schemaHash: engine.schemaHash };
}
