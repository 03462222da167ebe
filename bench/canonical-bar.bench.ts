/**
 * canonical-bar benchmark: validation and DQ throughput on synthetic 1h bars, each next to a naive
 * reference measured in the same run (zod schema validation; DQ with an O(n·w) rolling median and
 * from-scratch σ). Prints figures only; nothing here asserts on time.
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { KNOWN_TIMEFRAMES, QUALITY_FLAGS, createBarValidator, runDq, type CanonicalBar } from '@noctria/canonical-bar';
import { naiveRunDq } from '../libs/canonical-bar/test/naive-dq.js';

const H = 3_600_000;
const START = Date.UTC(2024, 0, 1); // a Monday

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

/** n consecutive hourly bars (24/7 grid) of a random walk with occasional shocks, gaps and a few bad rows. */
function synthetic(n: number, seed = 42): CanonicalBar[] {
  const r = rng(seed);
  const out: CanonicalBar[] = [];
  let close = 1.1;
  let t = START;
  for (let i = 0; i < n; i++) {
    t += r() < 0.002 ? H * (1 + Math.floor(r() * 5)) : H;
    const open = close;
    const shock = r() < 0.001 ? (r() - 0.5) * 0.2 : 0;
    close = close * Math.exp((r() - 0.5) * 0.004 + shock);
    out.push({
      ts_utc: new Date(t).toISOString(),
      symbol: 'EURUSD',
      timeframe: '1h',
      open,
      high: Math.max(open, close) * (1 + r() * 0.001),
      low: Math.min(open, close) * (1 - r() * 0.001),
      close,
      volume: null,
      quality_flag: 'ok',
      source_id: 'bench',
      ingest_run_id: 'bench-run',
      metadata: {},
    });
  }
  return out;
}

const zodBar = z
  .object({
    ts_utc: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    symbol: z.string().regex(/^[A-Z0-9]{1,32}$/),
    timeframe: z.enum(KNOWN_TIMEFRAMES),
    open: z.number().positive().finite(),
    high: z.number().positive().finite(),
    low: z.number().positive().finite(),
    close: z.number().positive().finite(),
    volume: z.number().nonnegative().finite().nullable(),
    quality_flag: z.enum(QUALITY_FLAGS),
    source_id: z.string().min(1),
    ingest_run_id: z.string().min(1),
    metadata: z.record(z.string(), z.unknown()),
  })
  .refine((b) => b.low <= Math.min(b.open, b.close) && b.high >= Math.max(b.open, b.close));

function time<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}

const perSecond = (n: number, ms: number): number => Math.round((n / ms) * 1000);

export async function run(): Promise<Record<string, unknown>> {
  const N = 1_000_000;
  const N_NAIVE_DQ = 50_000;
  const bars = synthetic(N);

  const validate = createBarValidator({ timeframe_allowed: ['15m', '1h', '4h'] });
  validate(bars[0]); // warm-up
  const fast = time(() => {
    let ok = 0;
    for (let i = 0; i < N; i++) if (validate(bars[i]).ok) ok++;
    return ok;
  });
  const ref = time(() => {
    let ok = 0;
    for (let i = 0; i < N; i++) if (zodBar.safeParse(bars[i]).success) ok++;
    return ok;
  });

  const dqOpts = { calendar: '24/7' as const };
  const dq = time(() => runDq(bars, dqOpts));
  const small = bars.slice(0, N_NAIVE_DQ);
  const dqSmall = time(() => runDq(small, dqOpts));
  const naive = time(() => naiveRunDq(small, dqOpts));

  return {
    validation: {
      bars: N,
      valid: fast.value,
      bars_per_s: perSecond(N, fast.ms),
      ms: Math.round(fast.ms),
      reference_zod: { valid: ref.value, bars_per_s: perSecond(N, ref.ms), ms: Math.round(ref.ms) },
    },
    runDq: {
      bars: N,
      bars_per_s: perSecond(N, dq.ms),
      ms: Math.round(dq.ms),
      counters: {
        filled: dq.value.report.filled_bars,
        missing: dq.value.report.missing_bars,
        outliers_sigma: dq.value.report.outliers_sigma,
        outliers_spike: dq.value.report.outliers_spike,
      },
      same_data_as_reference: { bars: N_NAIVE_DQ, bars_per_s: perSecond(N_NAIVE_DQ, dqSmall.ms) },
      reference_naive_rolling_median: { bars: N_NAIVE_DQ, bars_per_s: perSecond(N_NAIVE_DQ, naive.ms), ms: Math.round(naive.ms) },
      outputs_equal: JSON.stringify(dqSmall.value.bars) === JSON.stringify(naive.value.bars),
    },
  };
}
