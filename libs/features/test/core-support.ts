import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PairBar, PairSeries } from '../src/types.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

function readCsv(name: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(join(FIXTURES, name), 'utf8').split(/\r?\n/).filter((l) => l.length > 0);
  return { header: lines[0]!.split(','), rows: lines.slice(1).map((l) => l.split(',')) };
}

/** pair_A.csv ⋈ pair_B.csv on ts_utc (inner join, as the issue prescribes). */
export function fixturePair(): { ts: string[]; series: PairSeries } {
  const a = readCsv('pair_A.csv');
  const b = readCsv('pair_B.csv');
  const bByTs = new Map(b.rows.map((r) => [r[0]!, r]));
  const joined = a.rows.filter((r) => bByTs.has(r[0]!)).map((r) => [r, bByTs.get(r[0]!)!] as const);
  const col = (leg: 0 | 1, c: number) => Float64Array.from(joined, (p) => Number(p[leg][c]));
  return {
    ts: joined.map((p) => p[0][0]!),
    series: {
      tsMs: Float64Array.from(joined, (p) => Date.parse(p[0][0]!)),
      aOpen: col(0, 1),
      aHigh: col(0, 2),
      aLow: col(0, 3),
      aClose: col(0, 4),
      bOpen: col(1, 1),
      bHigh: col(1, 2),
      bLow: col(1, 3),
      bClose: col(1, 4),
    },
  };
}

/** expected.csv: feature columns by name, empty cells as NaN. */
export function fixtureExpected(): { ts: string[]; columns: Record<string, Float64Array> } {
  const { header, rows } = readCsv('expected.csv');
  const columns: Record<string, Float64Array> = {};
  for (let c = 1; c < header.length; c++) columns[header[c]!] = Float64Array.from(rows, (r) => (r[c] === '' ? NaN : Number(r[c])));
  return { ts: rows.map((r) => r[0]!), columns };
}

// Module aliases: global lookups (Math, NaN) are ~100× slower inside Jest's vm context.
const { sqrt, log, sin, cos, exp, abs, max, min, imul, PI } = Math;
const NAN = NaN;

/** Deterministic PRNG (mulberry32) with a Box–Muller normal. */
export class Rng {
  private s: number;
  private spare = NAN;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  uniform(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare === this.spare) {
      const v = this.spare;
      this.spare = NAN;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = sqrt(-2 * log(u));
    this.spare = r * sin(2 * PI * v);
    return r * cos(2 * PI * v);
  }
}

/**
 * A synthetic cointegrated pair: B a geometric random walk, A = α + β_t·B + OU noise, with occasional jumps in
 * both legs and a hedge-ratio regime break at `breakAt`. OHLC bracket the closes with random wicks.
 */
export function syntheticPair(n: number, seed: number, opts: { breakAt?: number; jumpProb?: number } = {}): PairSeries {
  const rng = new Rng(seed);
  const breakAt = opts.breakAt ?? Math.floor(n / 2);
  const jumpProb = opts.jumpProb ?? 0.004;
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
  let b = 1800;
  let ou = 0;
  let prevA = NAN;
  let prevB = NAN;
  const t0 = Date.UTC(2022, 0, 3);
  for (let i = 0; i < n; i++) {
    b *= exp(0.002 * rng.normal());
    if (rng.uniform() < jumpProb) b *= exp(0.03 * rng.normal());
    ou = 0.97 * ou + 0.4 * rng.normal();
    if (rng.uniform() < jumpProb) ou += 8 * rng.normal();
    const beta = i < breakAt ? 0.015 : 0.021;
    const a = max(1, 2 + beta * b + ou);
    const oa = prevA === prevA ? prevA : a;
    const ob = prevB === prevB ? prevB : b;
    s.tsMs[i] = t0 + i * 3_600_000;
    s.aOpen[i] = oa;
    s.aClose[i] = a;
    s.aHigh[i] = max(oa, a) * (1 + 0.001 * abs(rng.normal()));
    s.aLow[i] = min(oa, a) * (1 - 0.001 * abs(rng.normal()));
    s.bOpen[i] = ob;
    s.bClose[i] = b;
    s.bHigh[i] = max(ob, b) * (1 + 0.001 * abs(rng.normal()));
    s.bLow[i] = min(ob, b) * (1 - 0.001 * abs(rng.normal()));
    prevA = a;
    prevB = b;
  }
  return s;
}

export function barAt(s: PairSeries, i: number): PairBar {
  return {
    tsMs: s.tsMs[i]!,
    a: { open: s.aOpen[i]!, high: s.aHigh[i]!, low: s.aLow[i]!, close: s.aClose[i]! },
    b: { open: s.bOpen[i]!, high: s.bHigh[i]!, low: s.bLow[i]!, close: s.bClose[i]! },
  };
}
