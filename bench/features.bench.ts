/**
 * Features benchmark (one core, seeded data, every figure next to a reference measured in the same run):
 * - full 21-feature vector throughput on a 1 000 000-bar cointegrated pair: PairFeatureEngine (streaming, one
 *   bar at a time) and computeFeatureMatrix (batch);
 * - the naive recompute-each-window reference (libs/features/src/reference/naive.ts) on a prefix, against the
 *   engine on the same prefix: per-bar rates and the speed-up (target ≥ 20×);
 * - single indicators ATR(14), RSI(14), EMA(12) on 1M bars: our primitives against the npm packages
 *   `trading-signals` (v8, number classes) and `technicalindicators` (v3, batch `calculate` and streaming
 *   `nextValue`), with the numerical agreement of each so the comparison is like with like (target: ours ≥ 3× the
 *   fastest reference).
 * BENCH_FEATURES_N (default 1 000 000), BENCH_FEATURES_NAIVE_N (default 20 000). Prints figures; asserts nothing.
 */
import { performance } from 'node:perf_hooks';
import { ATR as TiAtr, EMA as TiEma, RSI as TiRsi } from 'technicalindicators';
import { ATR as TsAtr, EMA as TsEma, RSI as TsRsi } from 'trading-signals';
import {
  computeFeatureMatrix,
  Ema,
  FEATURE_NAMES,
  naiveFeatureMatrix,
  PairFeatureEngine,
  WilderAtr,
  WilderRsi,
  type PairBar,
  type PairSeries,
} from '@noctria/features';

const H = 3_600_000;
const START = Date.UTC(2020, 0, 6);

/** Deterministic PRNG (mulberry32) so every run measures the same data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal by Box–Muller from the seeded uniform source. */
function gaussian(u: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/**
 * A cointegrated pair: log B is a random walk; A = α + β_t·B + OU spread with rare jumps (so the robust Huber
 * switch fires now and then) and a slowly wandering hedge ratio. OHLC around each close.
 */
export function cointegratedPair(n: number, seed = 20240601): PairSeries {
  const u = rng(seed);
  const g = gaussian(u);
  const s: PairSeries = {
    tsMs: new Float64Array(n),
    aOpen: new Float64Array(n),
    aHigh: new Float64Array(n),
    aLow: new Float64Array(n),
    aClose: new Float64Array(n),
    bOpen: new Float64Array(n),
    bHigh: new Float64Array(n),
    bLow: new Float64Array(n),
    bClose: new Float64Array(n),
  };
  let logB = Math.log(25);
  let beta = 1.6;
  let ou = 0;
  let prevA = NaN;
  let prevB = NaN;
  for (let i = 0; i < n; i++) {
    logB += 0.0002 * (Math.log(25) - logB) + 0.002 * g();
    // Mean-reverting hedge ratio so a million bars stay in a realistic range.
    beta += 0.0005 * (1.6 - beta) + 0.0003 * g();
    ou += -0.03 * ou + 0.08 * g() + (u() < 0.002 ? (u() - 0.5) * 4 : 0);
    const b = Math.exp(logB);
    const a = 10 + beta * b + ou;
    const leg = (close: number, prev: number, scale: number, o: Float64Array, h: Float64Array, l: Float64Array, c: Float64Array) => {
      const open = Number.isNaN(prev) ? close : prev;
      o[i] = open;
      h[i] = Math.max(open, close) + scale * Math.abs(g());
      l[i] = Math.min(open, close) - scale * Math.abs(g());
      c[i] = close;
    };
    leg(a, prevA, 0.02, s.aOpen, s.aHigh, s.aLow, s.aClose);
    leg(b, prevB, 0.01, s.bOpen, s.bHigh, s.bLow, s.bClose);
    s.tsMs[i] = START + i * H;
    prevA = a;
    prevB = b;
  }
  return s;
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}

/** Best of `repeats` runs (the least disturbed by the other process on a shared core). */
function best<T>(repeats: number, fn: () => T): { ms: number; value: T } {
  let r = time(fn);
  for (let k = 1; k < repeats; k++) {
    const next = time(fn);
    if (next.ms < r.ms) r = next;
  }
  return r;
}

/** Timed rounds per single-indicator contender (each a full pass over the bars). */
const INDICATOR_ROUNDS = 9;

const perSecond = (n: number, ms: number): number => Math.round((n / ms) * 1000);
const round = (v: number, digits = 2): number => Math.round(v * 10 ** digits) / 10 ** digits;

/** Feeds bars [from, to) through a fresh engine; the bar object is reused so only the engine is measured. */
function stream(series: PairSeries, to: number, onRow?: (i: number, row: Float64Array) => void): number {
  const engine = new PairFeatureEngine();
  const out = new Float64Array(FEATURE_NAMES.length);
  const bar: PairBar = { tsMs: 0, a: { open: 0, high: 0, low: 0, close: 0 }, b: { open: 0, high: 0, low: 0, close: 0 } };
  let sink = 0;
  for (let i = 0; i < to; i++) {
    bar.tsMs = series.tsMs[i] as number;
    bar.a.open = series.aOpen[i] as number;
    bar.a.high = series.aHigh[i] as number;
    bar.a.low = series.aLow[i] as number;
    bar.a.close = series.aClose[i] as number;
    bar.b.open = series.bOpen[i] as number;
    bar.b.high = series.bHigh[i] as number;
    bar.b.low = series.bLow[i] as number;
    bar.b.close = series.bClose[i] as number;
    engine.update(bar, out);
    sink += out[0] as number;
    onRow?.(i, out);
  }
  return sink;
}

function prefix(series: PairSeries, n: number): PairSeries {
  const cut = (a: Float64Array) => a.slice(0, n);
  return {
    tsMs: cut(series.tsMs),
    aOpen: cut(series.aOpen),
    aHigh: cut(series.aHigh),
    aLow: cut(series.aLow),
    aClose: cut(series.aClose),
    bOpen: cut(series.bOpen),
    bHigh: cut(series.bHigh),
    bLow: cut(series.bLow),
    bClose: cut(series.bClose),
  };
}

/** max |x − y| over indices ≥ from where both are numbers; also how many such pairs were compared. */
function maxAbsDiff(x: ArrayLike<number | null | undefined>, y: ArrayLike<number | null | undefined>, from = 0): { maxAbsDiff: number; compared: number } {
  let m = 0;
  let compared = 0;
  for (let i = from; i < Math.min(x.length, y.length); i++) {
    const a = x[i];
    const b = y[i];
    if (typeof a !== 'number' || typeof b !== 'number' || Number.isNaN(a) || Number.isNaN(b)) continue;
    m = Math.max(m, Math.abs(a - b));
    compared++;
  }
  return { maxAbsDiff: m, compared };
}

/** A result array of `technicalindicators` (warm-up omitted) placed at the bar indices it belongs to. */
function alignTail(n: number): (values: Float64Array | readonly number[]) => Float64Array {
  return (values) => {
    const out = new Float64Array(n).fill(NaN);
    out.set(values, n - values.length);
    return out;
  };
}

interface Contender {
  name: string;
  /** The timed computation; every contender writes its values into a Float64Array (NaN = not yet defined). */
  run: () => Float64Array | readonly number[];
  /** Untimed: places the values at their bar indices (for libraries that omit the warm-up). */
  align?: (values: Float64Array | readonly number[]) => ArrayLike<number>;
}

function indicator(n: number, ours: Contender, refs: Contender[], burnIn: number): Record<string, unknown> {
  const target = 3;
  // Rounds interleave the contenders so a load change on the shared machine hits all of them; best round wins.
  const all = [ours, ...refs];
  const bestMs = all.map(() => Infinity);
  const values: (Float64Array | readonly number[])[] = [];
  for (let round = 0; round < INDICATOR_ROUNDS; round++) {
    for (const [k, c] of all.entries()) {
      const r = time(c.run);
      if (r.ms < (bestMs[k] as number)) bestMs[k] = r.ms;
      values[k] = r.value;
    }
  }
  const o = { ms: bestMs[0] as number, value: values[0] as Float64Array };
  const results: Record<string, unknown> = {};
  let fastest = 0;
  let fastestName = '';
  for (const [k, ref] of refs.entries()) {
    const raw = values[k + 1] as Float64Array | readonly number[];
    const r = { ms: bestMs[k + 1] as number, value: ref.align ? ref.align(raw) : raw };
    const rate = perSecond(n, r.ms);
    if (rate > fastest) {
      fastest = rate;
      fastestName = ref.name;
    }
    results[ref.name] = {
      bars_per_s: rate,
      ms: round(r.ms),
      agreement_all_bars: maxAbsDiff(o.value, r.value),
      agreement_after_burn_in: { from_bar: burnIn, ...maxAbsDiff(o.value, r.value, burnIn) },
    };
  }
  const ratio = perSecond(n, o.ms) / fastest;
  return {
    bars: n,
    ours: { name: ours.name, bars_per_s: perSecond(n, o.ms), ms: round(o.ms) },
    references: results,
    fastest_reference: fastestName,
    ratio_ours_to_fastest: round(ratio),
    target: `≥ ${target}× the fastest reference`,
    meetsTarget: ratio >= target,
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const N = Number(process.env['BENCH_FEATURES_N'] ?? 1_000_000);
  const N_NAIVE = Math.min(N, Number(process.env['BENCH_FEATURES_NAIVE_N'] ?? 20_000));
  const series = cointegratedPair(N);

  // JIT warm-up of both paths on a small prefix before anything is timed.
  const warm = prefix(series, 5_000);
  stream(warm, warm.tsMs.length);
  computeFeatureMatrix(warm);
  naiveFeatureMatrix(prefix(series, 1_000));

  const streaming = time(() => stream(series, N));
  const batch = time(() => computeFeatureMatrix(series));

  // Streaming and batch must agree bit for bit (checked, untimed, on the first 100 000 bars).
  const checkN = Math.min(N, 100_000);
  let mismatches = 0;
  stream(series, checkN, (i, row) => {
    for (let j = 0; j < FEATURE_NAMES.length; j++) {
      if (!Object.is(row[j], batch.value.columns[FEATURE_NAMES[j]!][i])) mismatches++;
    }
  });
  let fullyDefined = 0;
  for (let i = 0; i < N; i++) if (FEATURE_NAMES.every((f) => !Number.isNaN(batch.value.columns[f][i]))) fullyDefined++;

  // Naive reference on a prefix, the engine on the same prefix.
  const small = prefix(series, N_NAIVE);
  const naive = time(() => naiveFeatureMatrix(small));
  const streamingSmall = best(3, () => stream(small, N_NAIVE));
  const batchSmall = best(3, () => computeFeatureMatrix(small));
  let worstRel = 0;
  let worstFeature = '';
  for (const f of FEATURE_NAMES) {
    const x = naive.value[f];
    const y = batchSmall.value.columns[f];
    for (let i = 0; i < N_NAIVE; i++) {
      const e = x[i] as number;
      const g = y[i] as number;
      if (Number.isNaN(e) !== Number.isNaN(g)) {
        worstRel = Infinity;
        worstFeature = `${f} (warm-up differs at bar ${i})`;
        break;
      }
      if (Number.isNaN(e)) continue;
      const rel = Math.abs(g - e) / Math.max(Math.abs(e), 1e-12);
      if (rel > worstRel) {
        worstRel = rel;
        worstFeature = f;
      }
    }
  }
  const naiveRate = perSecond(N_NAIVE, naive.ms);
  const streamingSmallRate = perSecond(N_NAIVE, streamingSmall.ms);
  const speedUp = streamingSmallRate / naiveRate;

  // Single indicators on leg A.
  const { aHigh, aLow, aClose } = series;
  const high = Array.from(aHigh);
  const low = Array.from(aLow);
  const close = Array.from(aClose);
  const atr = indicator(
    N,
    {
      name: 'WilderAtr(14)',
      run: () => {
        const ind = new WilderAtr(14);
        const out = new Float64Array(N);
        for (let i = 0; i < N; i++) out[i] = ind.push(aHigh[i] as number, aLow[i] as number, aClose[i] as number);
        return out;
      },
    },
    [
      {
        name: 'trading-signals ATR(14)',
        run: () => {
          const ind = new TsAtr(14);
          const out = new Float64Array(N);
          for (let i = 0; i < N; i++) out[i] = ind.update({ high: high[i] as number, low: low[i] as number, close: close[i] as number }, false) ?? NaN;
          return out;
        },
      },
      { name: 'technicalindicators ATR.calculate', run: () => TiAtr.calculate({ high, low, close, period: 14 }), align: alignTail(N) },
      {
        name: 'technicalindicators ATR.nextValue',
        run: () => {
          const ind = new TiAtr({ high: [], low: [], close: [], period: 14 });
          const out = new Float64Array(N);
          for (let i = 0; i < N; i++) out[i] = (ind.nextValue({ high: high[i] as number, low: low[i] as number, close: close[i] as number }) as number | undefined) ?? NaN;
          return out;
        },
      },
    ],
    1_000,
  );
  const rsi = indicator(
    N,
    {
      name: 'WilderRsi(14)',
      run: () => {
        const ind = new WilderRsi(14);
        const out = new Float64Array(N);
        for (let i = 0; i < N; i++) out[i] = ind.push(aClose[i] as number);
        return out;
      },
    },
    [
      {
        name: 'trading-signals RSI(14)',
        run: () => {
          const ind = new TsRsi(14);
          const out = new Float64Array(N);
          for (let i = 0; i < N; i++) out[i] = ind.update(close[i] as number, false) ?? NaN;
          return out;
        },
      },
      { name: 'technicalindicators RSI.calculate', run: () => TiRsi.calculate({ values: close, period: 14 }), align: alignTail(N) },
      {
        name: 'technicalindicators RSI.nextValue',
        run: () => {
          const ind = new TiRsi({ values: [], period: 14 });
          const out = new Float64Array(N);
          for (let i = 0; i < N; i++) out[i] = (ind.nextValue(close[i] as number) as number | undefined) ?? NaN;
          return out;
        },
      },
    ],
    1_000,
  );
  const emaReferences: Contender[] = [
      {
        name: 'trading-signals EMA(12)',
        run: () => {
          const ind = new TsEma(12);
          const out = new Float64Array(N);
          for (let i = 0; i < N; i++) out[i] = ind.update(close[i] as number, false) ?? NaN;
          return out;
        },
      },
      { name: 'technicalindicators EMA.calculate', run: () => TiEma.calculate({ values: close, period: 12 }), align: alignTail(N) },
      {
        name: 'technicalindicators EMA.nextValue',
        run: () => {
          const ind = new TiEma({ values: [], period: 12 });
          const out = new Float64Array(N);
          for (let i = 0; i < N; i++) out[i] = (ind.nextValue(close[i] as number) as number | undefined) ?? NaN;
          return out;
        },
      },
  ];
  // The series kernel is what a columnar caller uses; the per-value push (streaming) is reported next to it.
  const ema = indicator(N, { name: 'Ema.span(12).pushSeries', run: () => Ema.span(12).pushSeries(aClose) }, emaReferences, 1_000);
  const emaStreaming = indicator(
    N,
    {
      name: 'Ema.span(12).push per value',
      run: () => {
        const ind = Ema.span(12);
        const out = new Float64Array(N);
        for (let i = 0; i < N; i++) out[i] = ind.push(aClose[i] as number);
        return out;
      },
    },
    emaReferences,
    1_000,
  );

  return {
    data: { bars: N, seed: 20240601, fully_defined_rows: fullyDefined },
    full_vector: {
      features: FEATURE_NAMES.length,
      streaming_engine: { pair_bars_per_s: perSecond(N, streaming.ms), ms: Math.round(streaming.ms) },
      batch_matrix: { pair_bars_per_s: perSecond(N, batch.ms), ms: Math.round(batch.ms) },
      streaming_equals_batch: { bars_checked: checkN, mismatching_cells: mismatches },
    },
    naive_reference: {
      bars: N_NAIVE,
      naive_pair_bars_per_s: naiveRate,
      naive_ms: Math.round(naive.ms),
      same_data_streaming_pair_bars_per_s: streamingSmallRate,
      same_data_batch_pair_bars_per_s: perSecond(N_NAIVE, batchSmall.ms),
      max_relative_difference: worstRel,
      max_relative_difference_feature: worstFeature,
      speed_up_streaming_vs_naive: round(speedUp, 1),
      target: '≥ 20× the naive recompute-each-window reference',
      meetsTarget: speedUp >= 20,
    },
    indicators: { atr14: atr, rsi14: rsi, ema12: ema, ema12_streaming_push: emaStreaming },
  };
}
