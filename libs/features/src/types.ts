/** One leg's OHLC of a closed bar. Only `close` (and `high`/`low` for the true range) enter the features. */
export interface LegOhlc {
  open: number;
  high: number;
  low: number;
  close: number;
}

/** A closed bar of a pair, both legs aligned on the same bar time (inner join on bar open time). */
export interface PairBar {
  /** Bar open time, epoch milliseconds UTC; strictly increasing along a series. */
  tsMs: number;
  a: LegOhlc;
  b: LegOhlc;
}

/** Columnar pair series: equal lengths, strictly increasing `tsMs`. */
export interface PairSeries {
  tsMs: Float64Array;
  aOpen: Float64Array;
  aHigh: Float64Array;
  aLow: Float64Array;
  aClose: Float64Array;
  bOpen: Float64Array;
  bHigh: Float64Array;
  bLow: Float64Array;
  bClose: Float64Array;
}

/** Converts bar objects to the columnar layout (no validation here; the engine and batch validate each row). */
export function pairSeriesFromBars(bars: readonly PairBar[]): PairSeries {
  const n = bars.length;
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
  for (let i = 0; i < n; i++) {
    const bar = bars[i]!;
    s.tsMs[i] = bar.tsMs;
    s.aOpen[i] = bar.a.open;
    s.aHigh[i] = bar.a.high;
    s.aLow[i] = bar.a.low;
    s.aClose[i] = bar.a.close;
    s.bOpen[i] = bar.b.open;
    s.bHigh[i] = bar.b.high;
    s.bLow[i] = bar.b.low;
    s.bClose[i] = bar.b.close;
  }
  return s;
}
