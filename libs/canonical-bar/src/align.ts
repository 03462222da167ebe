import { CanonicalBarError, DQ_ERROR } from './errors.js';
import { parseTsUtcMs } from './time.js';
import type { CanonicalBar } from './types.js';

export interface AlignedPair {
  tsMs: number;
  ts_utc: string;
  a: CanonicalBar;
  b: CanonicalBar;
}

export interface AlignResult {
  /** Pairs on the timestamps present in both series, in increasing time. */
  pairs: AlignedPair[];
  /** Bars of A whose timestamp has no B bar (dropped). */
  aOnly: number;
  /** Bars of B whose timestamp has no A bar (dropped). */
  bOnly: number;
  /** Earlier duplicates of a timestamp within A (latest in input order wins), dropped before the join. */
  aDuplicates: number;
  bDuplicates: number;
}

/** Returns bars with their epoch ms, sorted by time and de-duplicated latest-wins; counts dropped duplicates. */
function prepare(bars: readonly CanonicalBar[], name: string): { ms: number[]; bars: CanonicalBar[]; duplicates: number } {
  const n = bars.length;
  const ms = new Array<number>(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    const t = parseTsUtcMs(bars[i]!.ts_utc);
    if (t !== t) throw new CanonicalBarError(DQ_ERROR.TSFMT, `series ${name} bar ${i} has a non-canonical ts_utc ${JSON.stringify(bars[i]!.ts_utc)}`);
    ms[i] = t;
    if (i > 0 && t <= ms[i - 1]!) sorted = false;
  }
  if (sorted) return { ms, bars: bars as CanonicalBar[], duplicates: 0 };
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((x, y) => ms[x]! - ms[y]! || x - y);
  const outMs: number[] = [];
  const out: CanonicalBar[] = [];
  let duplicates = 0;
  for (const i of idx) {
    if (outMs.length > 0 && outMs[outMs.length - 1] === ms[i]) {
      out[out.length - 1] = bars[i]!; // later in input order wins
      duplicates++;
    } else {
      outMs.push(ms[i]!);
      out.push(bars[i]!);
    }
  }
  return { ms: outMs, bars: out, duplicates };
}

/**
 * A/B pair alignment on bar time: inner join of two bar series on `ts_utc` (merge join, O(n + m) for
 * sorted input; unsorted input is sorted first, and duplicate timestamps within a series are resolved
 * latest-wins). Invariant: `pairs.length + aOnly + aDuplicates === a.length` (likewise for B).
 * Both series must share one timeframe (throws `DATA_DQ_TFRAME` otherwise; `DATA_DQ_TSFMT` for
 * non-canonical timestamps — validate first).
 */
export function alignPairs(a: readonly CanonicalBar[], b: readonly CanonicalBar[]): AlignResult {
  const tf = a[0]?.timeframe ?? b[0]?.timeframe;
  for (const [name, s] of [['A', a], ['B', b]] as const) {
    for (let i = 0; i < s.length; i++) {
      if (s[i]!.timeframe !== tf) {
        throw new CanonicalBarError(DQ_ERROR.TFRAME, `series ${name} bar ${i} has timeframe ${s[i]!.timeframe}, expected ${String(tf)}`);
      }
    }
  }
  const pa = prepare(a, 'A');
  const pb = prepare(b, 'B');
  const pairs: AlignedPair[] = [];
  let i = 0;
  let j = 0;
  let aOnly = 0;
  let bOnly = 0;
  const na = pa.ms.length;
  const nb = pb.ms.length;
  while (i < na && j < nb) {
    const ta = pa.ms[i]!;
    const tb = pb.ms[j]!;
    if (ta === tb) {
      const barA = pa.bars[i]!;
      pairs.push({ tsMs: ta, ts_utc: barA.ts_utc, a: barA, b: pb.bars[j]! });
      i++;
      j++;
    } else if (ta < tb) {
      aOnly++;
      i++;
    } else {
      bOnly++;
      j++;
    }
  }
  aOnly += na - i;
  bOnly += nb - j;
  return { pairs, aOnly, bOnly, aDuplicates: pa.duplicates, bDuplicates: pb.duplicates };
}
