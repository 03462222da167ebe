import { assertSameLength } from './internal.js';
import { resolveLabelParams, type LabelParams } from './params.js';

/**
 * AI2 (risk) labels of seeds/003 "AI2（リスク）ラベル定義", for one pair:
 *
 *   risk_t = 1 iff at least one of
 *     corr  : corr_stability_t   > riskCorrVar   (var(ρ_rolling, 180) > 0.025)
 *     vol   : vol_ratio_spread_t > riskVolRatio  (ATR_now / median(ATR, 180) > 1.8)
 *     speed : speedEma_t         > riskSpeed     (EMA_hl6(|Δz|) > 0.12)
 *     dd    : dd_recent_t        > riskDd        (drawdown of the plain z rule over 60 business days > 0.07)
 *
 * speedEma: EMA with half-life riskSpeedHalfLife, α = 1 − 0.5^(1/h), y = α·x + (1 − α)·y_prev, seeded with the
 * first defined |Δz|; a NaN input after the seed leaves the state unchanged and outputs NaN for that bar.
 * All comparisons are strict. A condition whose input is undefined (NaN, warm-up) is 0.
 *
 * defined_t = 1 iff at least one condition input is defined at t (the fixture decides this: its `defined` turns 1
 * at the first bar where corr_stability and |Δz| exist, thirteen bars before vol_ratio_spread does, with those
 * bars' vol condition counted as 0). risk is 0 wherever defined is 0.
 */
export interface Ai2Input {
  corrStability: Float64Array;
  volRatioSpread: Float64Array;
  absDeltaZ: Float64Array;
  /** From {@link plainZRuleDrawdown}; without it the dd condition is 0 everywhere and does not make a bar defined. */
  ddRecent?: Float64Array;
}

export interface Ai2Risk {
  risk: Uint8Array;
  defined: Uint8Array;
  speedEma: Float64Array;
  conditions: { corr: Uint8Array; vol: Uint8Array; speed: Uint8Array; dd: Uint8Array };
}

/** EMA of a series with half-life h bars, seeded with the first defined value (NaN before it and on NaN inputs). */
export function halfLifeEma(x: Float64Array, halfLife: number): Float64Array {
  const alpha = 1 - Math.pow(0.5, 1 / halfLife);
  const out = new Float64Array(x.length);
  let y = NaN;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v !== v) {
      out[i] = NaN;
      continue;
    }
    y = y !== y ? v : alpha * v + (1 - alpha) * y;
    out[i] = y;
  }
  return out;
}

export function computeAi2Risk(input: Ai2Input, params?: Partial<LabelParams>): Ai2Risk {
  const p = resolveLabelParams(params);
  const { corrStability: cs, volRatioSpread: vr, absDeltaZ, ddRecent: dd } = input;
  const n = cs.length;
  assertSameLength('computeAi2Risk', n, { volRatioSpread: vr, absDeltaZ, ddRecent: dd });
  const speedEma = halfLifeEma(absDeltaZ, p.riskSpeedHalfLife);
  const out: Ai2Risk = {
    risk: new Uint8Array(n),
    defined: new Uint8Array(n),
    speedEma,
    conditions: { corr: new Uint8Array(n), vol: new Uint8Array(n), speed: new Uint8Array(n), dd: new Uint8Array(n) },
  };
  const c = out.conditions;
  for (let t = 0; t < n; t++) {
    const a = cs[t]!;
    const b = vr[t]!;
    const s = speedEma[t]!;
    const d = dd === undefined ? NaN : dd[t]!;
    const defined = a === a || b === b || s === s || d === d;
    if (!defined) continue;
    out.defined[t] = 1;
    c.corr[t] = a > p.riskCorrVar ? 1 : 0;
    c.vol[t] = b > p.riskVolRatio ? 1 : 0;
    c.speed[t] = s > p.riskSpeed ? 1 : 0;
    c.dd[t] = d > p.riskDd ? 1 : 0;
    out.risk[t] = c.corr[t]! | c.vol[t]! | c.speed[t]! | c.dd[t]!;
  }
  return out;
}

/**
 * dd_recent: the drawdown of the *plain z rule* traded on the pair, over the last riskDdWindowBars bars.
 *
 * Plain z rule (AI1's event rules without the speed filter; frictionless; one position at a time):
 *   - decisions at bar closes t where z_t is finite; spread position s ∈ {−1, 0, +1} (s = −sign(z) at entry:
 *     z > 0 → short the spread = short A / long B when β > 0);
 *   - enter when flat and |z_t| ≥ zEntry (and β_t finite);
 *   - exit at the first later bar where |z| ≤ zExit, or where z is on the opposite side with |z| ≥ zEntry
 *     (then the position flips: it re-enters in the new direction on that bar), or on bar entry + M (no
 *     re-entry on that bar: like AI1, the next same-direction entry is at entry + M + 1 at the earliest);
 *   - unit gross notional, β-neutral: at entry with β_e = β_t, G = A_t + |β_e|·B_t, quantities
 *     q_A = s / G, q_B = −s·β_e / G (units of each leg), so |q_A|·A_t + |q_B|·B_t = 1 and the position is
 *     s units of the spread S = A − β_e·B scaled by 1/G. The hedge is 1 : |β| in *units* (β is a price-level
 *     hedge ratio); a notional split 1 : |β| would not be hedged when the legs' price levels differ.
 *   - marked to market on closes: E_t = E_{t−1} + q_A·(A_t − A_{t−1}) + q_B·(B_t − B_{t−1}) for every bar
 *     after the entry bar up to and including the exit bar; the P&L is not reinvested (unit notional).
 *   - E = 1 on the first bar t0 where z and β are finite; equity and dd are NaN before t0.
 *
 * Drawdown: for a window [a, t], DD = max over i ≤ j in the window of (1 − max(E_j, 0) / E_i), with a term
 * of 1 (ruin) when E_i ≤ 0; so DD ∈ [0, 1]. dd_recent_t is DD over [max(t0, t − W + 1), t],
 * W = riskDdWindowBars. Unlike the features, the window is not required to be full: an equity curve starting
 * at 1 has a well-defined drawdown from its start, and waiting 60 business days would blank the dd condition
 * for the first quarter of every training set. Computed in O(n) with a two-stack sliding-window aggregate of
 * (max, min, DD) per range, which equals the O(n·W) definition bit for bit (every candidate is the same
 * floating-point expression 1 − E_j/E_i of one pair, and the maximising pair is always among them).
 */
export interface PlainZRuleInput {
  z: Float64Array;
  beta: Float64Array;
  closeA: Float64Array;
  closeB: Float64Array;
}

export interface PlainZRuleResult {
  equity: Float64Array;
  ddRecent: Float64Array;
  /** Spread position held after the decision at each bar's close (−1 short, +1 long, 0 flat). */
  position: Int8Array;
}

export function plainZRuleDrawdown(input: PlainZRuleInput, params?: Partial<LabelParams>): PlainZRuleResult {
  const p = resolveLabelParams(params);
  const { z, beta, closeA: A, closeB: B } = input;
  const n = z.length;
  assertSameLength('plainZRuleDrawdown', n, { beta, closeA: A, closeB: B });
  const equity = new Float64Array(n).fill(NaN);
  const position = new Int8Array(n);
  let t0 = -1;
  for (let t = 0; t < n; t++) {
    if (z[t]! === z[t]! && beta[t]! === beta[t]!) {
      t0 = t;
      break;
    }
  }
  if (t0 < 0) return { equity, ddRecent: new Float64Array(n).fill(NaN), position };
  let s = 0;
  let entry = -1;
  let qA = 0;
  let qB = 0;
  let e = 1;
  const M = p.horizonBars;
  for (let t = t0; t < n; t++) {
    if (s !== 0) e += qA * (A[t]! - A[t - 1]!) + qB * (B[t]! - B[t - 1]!);
    equity[t] = e;
    const zt = z[t]!;
    if (zt === zt) {
      let mayEnter = true;
      if (s !== 0) {
        const az = Math.abs(zt);
        const side = zt > 0 ? -1 : 1; // the position a fresh entry on this bar would take
        if (az <= p.zExit) s = 0;
        else if (az >= p.zEntry && side !== s) s = 0;
        else if (t - entry === M) {
          s = 0;
          mayEnter = false;
        } else mayEnter = false; // still holding
      }
      const bt = beta[t]!;
      if (s === 0 && mayEnter && Math.abs(zt) >= p.zEntry && bt === bt) {
        s = zt > 0 ? -1 : 1;
        entry = t;
        const g = A[t]! + Math.abs(bt) * B[t]!;
        qA = s / g;
        qB = (-s * bt) / g;
      }
    } else if (s !== 0 && t - entry === M) {
      s = 0;
    }
    position[t] = s;
  }
  return { equity, ddRecent: rollingMaxDrawdown(equity, p.riskDdWindowBars), position };
}

/**
 * DD over [max(first defined, t − w + 1), t] for every t (see {@link plainZRuleDrawdown}); NaN where the equity
 * is NaN. Equity must be NaN only before its first defined value.
 */
export function rollingMaxDrawdown(equity: Float64Array, w: number): Float64Array {
  const n = equity.length;
  const out = new Float64Array(n).fill(NaN);
  let t0 = 0;
  while (t0 < n && equity[t0]! !== equity[t0]!) t0++;
  // Front segment [fs, fe): suffix aggregates of (max, min, dd); back segment [fe, t]: running aggregate.
  const sMax = new Float64Array(n);
  const sMin = new Float64Array(n);
  const sDd = new Float64Array(n);
  let fe = t0;
  let bMax = -Infinity;
  let bMin = Infinity;
  let bDd = 0;
  let bEmpty = true;
  for (let t = t0; t < n; t++) {
    const x = equity[t]!;
    if (bEmpty) {
      bMax = x;
      bMin = x;
      bDd = x > 0 ? 0 : 1;
      bEmpty = false;
    } else {
      const cross = bMax > 0 ? 1 - Math.max(x, 0) / bMax : 1;
      bDd = Math.max(bDd, x > 0 ? 0 : 1, cross);
      if (x > bMax) bMax = x;
      if (x < bMin) bMin = x;
    }
    const a = Math.max(t0, t - w + 1);
    if (a >= fe) {
      // Front exhausted: move the back segment [a, t] into the front as suffix aggregates.
      let mx = -Infinity;
      let mn = Infinity;
      let dd = 0;
      for (let i = t; i >= a; i--) {
        const v = equity[i]!;
        // v precedes every element of the suffix (i+1 … t): cross term uses v as the peak.
        const cross = v > 0 ? 1 - Math.max(mn, 0) / v : 1;
        dd = i === t ? (v > 0 ? 0 : 1) : Math.max(dd, v > 0 ? 0 : 1, cross);
        if (v > mx) mx = v;
        if (v < mn) mn = v;
        sMax[i] = mx;
        sMin[i] = mn;
        sDd[i] = dd;
      }
      fe = t + 1;
      bEmpty = true;
      out[t] = sDd[a]!;
      continue;
    }
    // Window = front suffix from a (earlier) followed by the back segment [fe, t].
    const fMax = sMax[a]!;
    const cross = fMax > 0 ? 1 - Math.max(bMin, 0) / fMax : 1;
    out[t] = bEmpty ? sDd[a]! : Math.max(sDd[a]!, bDd, cross);
  }
  return out;
}
