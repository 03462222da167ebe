import { FEATURE_ERROR, FeatureError } from './errors.js';
import { FEATURE_PARAM_KEYS, resolveFeatureParams, type FeatureParams } from './params.js';
import { FEATURE_COUNT, FEATURE_NAMES, FEATURE_SCHEMA_VERSION, featureSchemaHash, type FeatureName } from './schema.js';
import type { PairBar } from './types.js';
import { asRecord, decodeInt, decodeNumber, encodeNumber, stateError, type EncodedNumber } from './primitives/codec.js';
import { RollingCovariance, type CovarianceState } from './primitives/covariance.js';
import { Ema, type EmaState } from './primitives/ema.js';
import { RollingMedian, type RollingMedianState } from './primitives/median.js';
import { RollingMoments, type MomentsState } from './primitives/moments.js';
import { RollingOuFit, type OuFitState } from './primitives/ou.js';
import { RollingRobustSlope, type RobustSlopeState } from './primitives/robust.js';
import { RollingLinearSlope, type LinearSlopeState } from './primitives/slope.js';
import { WilderAtr, WilderAverage, WilderRsi, type WilderAtrState, type WilderAverageState, type WilderRsiState } from './primitives/wilder.js';
import { INF, NAN, abs, log } from './primitives/fastmath.js';

/**
 * 0-based index of the first bar at which each feature is defined (NaN before), for a gap-free series:
 * β needs a full OLS window; the spread inherits it; every later statistic adds its own window on top.
 */
export function featureWarmupIndices(params?: Partial<FeatureParams>): Readonly<Record<FeatureName, number>> {
  const p = resolveFeatureParams(params);
  const b0 = p.betaWindow - 1;
  const z0 = b0 + p.zWindow - 1;
  const atrS0 = b0 + p.atrPeriod;
  const atrLeg0 = p.atrPeriod;
  return Object.freeze({
    beta: b0,
    spread: b0,
    z: z0,
    z_ema: z0,
    delta_z: z0 + 1,
    abs_delta_z: z0 + 1,
    abs_delta_S: b0 + 1,
    atr_A: atrLeg0,
    atr_B: atrLeg0,
    atr_spread: atrS0,
    vol_ratio_spread: atrS0 + p.atrBaselineWindow - 1,
    atr_ratio_A: atrLeg0 + p.atrBaselineWindow - 1,
    atr_ratio_B: atrLeg0 + p.atrBaselineWindow - 1,
    half_life: b0 + p.halfLifeWindow,
    rho_rolling: p.rhoWindow,
    corr_stability: p.rhoWindow + p.corrStabilityWindow - 1,
    beta_stability: b0 + p.betaStabilityWindow - 1,
    ema_gap_spread: b0,
    slope_spread: Math.max(b0 + p.slopeWindow - 1, z0),
    slope_z: z0 + p.slopeWindow - 1,
    rsi_spread: b0 + p.rsiPeriod,
  });
}

/** Index of the first bar at which the whole vector is defined (377 with the seed parameters). */
export function fullVectorWarmupBars(params?: Partial<FeatureParams>): number {
  const w = featureWarmupIndices(params);
  let m = 0;
  for (const name of FEATURE_NAMES) if (w[name] > m) m = w[name];
  return m;
}

export interface PairFeatureEngineState {
  kind: 'PairFeatureEngine';
  version: number;
  schemaHash: string;
  params: FeatureParams;
  barsSeen: number;
  lastTsMs: EncodedNumber;
  prevCloseA: EncodedNumber;
  prevCloseB: EncodedNumber;
  prevSpread: EncodedNumber;
  prevZ: EncodedNumber;
  atrA: WilderAtrState;
  atrB: WilderAtrState;
  atrMedianA: RollingMedianState;
  atrMedianB: RollingMedianState;
  atrSpread: WilderAverageState;
  atrMedianSpread: RollingMedianState;
  rho: CovarianceState;
  rhoMoments: MomentsState;
  betaRaw: RobustSlopeState;
  betaEma: EmaState;
  betaMoments: MomentsState;
  spreadMoments: MomentsState;
  zEma: EmaState;
  halfLife: OuFitState;
  emaFast: EmaState;
  emaSlow: EmaState;
  slopeSpread: LinearSlopeState;
  slopeZ: LinearSlopeState;
  rsi: WilderRsiState;
}

const F_BETA = 0;
const F_SPREAD = 1;
const F_Z = 2;
const F_Z_EMA = 3;
const F_DELTA_Z = 4;
const F_ABS_DELTA_Z = 5;
const F_ABS_DELTA_S = 6;
const F_ATR_A = 7;
const F_ATR_B = 8;
const F_ATR_SPREAD = 9;
const F_VOL_RATIO_SPREAD = 10;
const F_ATR_RATIO_A = 11;
const F_ATR_RATIO_B = 12;
const F_HALF_LIFE = 13;
const F_RHO = 14;
const F_CORR_STABILITY = 15;
const F_BETA_STABILITY = 16;
const F_EMA_GAP = 17;
const F_SLOPE_SPREAD = 18;
const F_SLOPE_Z = 19;
const F_RSI = 20;

/** ATR over its baseline median; a zero baseline (≥ half the window without any range) makes any range a spike. */
function ratioToMedian(atr: number, med: number): number {
  if (med > 0) return atr / med;
  return atr > 0 ? INF : 1;
}

/**
 * Streaming computation of the 21 features of "特徴量仕様 v1" for one pair, one closed bar at a time. Every
 * statistic is updated incrementally (O(1) or O(log n) per bar, except the O(window) robust-switch test of the
 * β regression and, when it fires, the Huber IRLS). `update` allocates nothing when given `out`.
 * Conventions where the issue is silent (degenerate windows that real prices do not produce):
 *  - σ_S = 0 → z = 0 and slope_spread = 0; rho_rolling = 0 when a leg's returns have no dispersion;
 *  - an ATR baseline median of 0 → ratio 1 if the ATR is 0, +∞ otherwise;
 *  - a β window where close_B has no dispersion yields no β_raw; β keeps its last EMA value.
 */
export class PairFeatureEngine {
  readonly params: Readonly<FeatureParams>;
  readonly schemaHash: string;

  private n = 0;
  private lastTs = NAN;
  private prevA = NAN;
  private prevB = NAN;
  private prevS = NAN;
  private prevZ = NAN;

  private atrA: WilderAtr;
  private atrB: WilderAtr;
  private medA: RollingMedian;
  private medB: RollingMedian;
  private atrS: WilderAverage;
  private medS: RollingMedian;
  private rhoCov: RollingCovariance;
  private rhoMom: RollingMoments;
  private betaRaw: RollingRobustSlope;
  private betaEma: Ema;
  private betaMom: RollingMoments;
  private sMom: RollingMoments;
  private zEma: Ema;
  private ou: RollingOuFit;
  private emaFast: Ema;
  private emaSlow: Ema;
  private slopeS: RollingLinearSlope;
  private slopeZ: RollingLinearSlope;
  private rsi: WilderRsi;
  private readonly zClip: number;

  constructor(params?: Partial<FeatureParams>) {
    const p = resolveFeatureParams(params);
    this.params = p;
    this.schemaHash = featureSchemaHash(p);
    this.zClip = p.zClip;
    this.atrA = new WilderAtr(p.atrPeriod);
    this.atrB = new WilderAtr(p.atrPeriod);
    this.medA = new RollingMedian(p.atrBaselineWindow);
    this.medB = new RollingMedian(p.atrBaselineWindow);
    this.atrS = new WilderAverage(p.atrPeriod);
    this.medS = new RollingMedian(p.atrBaselineWindow);
    this.rhoCov = new RollingCovariance(p.rhoWindow);
    this.rhoMom = new RollingMoments(p.corrStabilityWindow);
    this.betaRaw = new RollingRobustSlope(p.betaWindow, p.robustMadRatio, p.huberC, p.huberMaxIter);
    this.betaEma = Ema.halfLife(p.betaEmaHalfLife);
    this.betaMom = new RollingMoments(p.betaStabilityWindow);
    this.sMom = new RollingMoments(p.zWindow);
    this.zEma = Ema.halfLife(p.zEmaHalfLife);
    this.ou = new RollingOuFit(p.halfLifeWindow, p.halfLifeMin, p.halfLifeMax);
    this.emaFast = Ema.span(p.emaFastSpan);
    this.emaSlow = Ema.span(p.emaSlowSpan);
    this.slopeS = new RollingLinearSlope(p.slopeWindow);
    this.slopeZ = new RollingLinearSlope(p.slopeWindow);
    this.rsi = new WilderRsi(p.rsiPeriod);
  }

  /** Bars accepted so far. */
  get barsSeen(): number {
    return this.n;
  }

  /** Time of the last accepted bar (NaN before the first). */
  get lastTsMs(): number {
    return this.lastTs;
  }

  /** β windows in which the robust (Huber) switch fired so far. */
  get robustBetaWindows(): number {
    return this.betaRaw.robustCount;
  }

  /** Whether the β_raw of the last bar came from the Huber fit. */
  get lastBetaRobust(): boolean {
    return this.betaRaw.lastRobust;
  }

  /**
   * Accepts the next closed bar and returns its feature vector in FEATURE_NAMES order (NaN = warm-up).
   * Writes into `out` when given (no allocation); otherwise returns a new array. Throws FeatureError
   * (CORE_FEATURE_ORDER, CORE_FEATURE_NONFIN, CORE_FEATURE_OHLC) without changing any state.
   */
  update(bar: PairBar, out?: Float64Array): Float64Array {
    const o = out ?? new Float64Array(FEATURE_COUNT);
    if (o.length < FEATURE_COUNT) throw new FeatureError(FEATURE_ERROR.PARAM, `output array needs ${FEATURE_COUNT} slots, got ${o.length}`);
    const a = bar.a;
    const b = bar.b;
    this.step(bar.tsMs, a.open, a.high, a.low, a.close, b.open, b.high, b.low, b.close, o, 0);
    return o;
  }

  /**
   * Columnar entry point shared with the batch path: same validation and arithmetic as {@link update}, writing
   * the 21 values at out[offset..offset+21).
   */
  step(
    ts: number,
    aOpen: number,
    aHigh: number,
    aLow: number,
    aClose: number,
    bOpen: number,
    bHigh: number,
    bLow: number,
    bClose: number,
    out: Float64Array,
    offset: number,
  ): void {
    if (
      !(
        ts > -INF &&
        ts < INF &&
        aOpen > 0 &&
        aOpen < INF &&
        aHigh > 0 &&
        aHigh < INF &&
        aLow > 0 &&
        aLow < INF &&
        aClose > 0 &&
        aClose < INF &&
        bOpen > 0 &&
        bOpen < INF &&
        bHigh > 0 &&
        bHigh < INF &&
        bLow > 0 &&
        bLow < INF &&
        bClose > 0 &&
        bClose < INF
      )
    ) {
      rejectNonFinite(ts, [aOpen, aHigh, aLow, aClose, bOpen, bHigh, bLow, bClose]);
    }
    if (this.n > 0 && !(ts > this.lastTs)) {
      throw new FeatureError(FEATURE_ERROR.ORDER, `bar time ${ts} is not after the previous bar time ${this.lastTs}`);
    }
    if (aHigh < aLow || bHigh < bLow) {
      throw new FeatureError(FEATURE_ERROR.OHLC, `bar ${ts}: high below low (A ${aHigh} < ${aLow} or B ${bHigh} < ${bLow})`);
    }

    // --- legs: ATR, ATR baselines, log-return correlation ---------------------------------------------------
    const atrA = this.atrA.push(aHigh, aLow, aClose);
    const atrB = this.atrB.push(bHigh, bLow, bClose);
    let ratioA = NAN;
    if (atrA === atrA) {
      this.medA.push(atrA);
      if (this.medA.isFull) ratioA = ratioToMedian(atrA, this.medA.median());
    }
    let ratioB = NAN;
    if (atrB === atrB) {
      this.medB.push(atrB);
      if (this.medB.isFull) ratioB = ratioToMedian(atrB, this.medB.median());
    }
    let rho = NAN;
    if (this.n > 0) {
      this.rhoCov.push(log(aClose / this.prevA), log(bClose / this.prevB));
      if (this.rhoCov.isFull) {
        const c = this.rhoCov.correlation();
        rho = c === c ? c : 0;
      }
    }
    let corrStab = NAN;
    if (rho === rho) {
      this.rhoMom.push(rho);
      if (this.rhoMom.isFull) corrStab = this.rhoMom.variance();
    }

    // --- β and its stability ---------------------------------------------------------------------------------
    const raw = this.betaRaw.push(bClose, aClose);
    const beta = raw === raw ? this.betaEma.push(raw) : this.betaEma.value;
    let betaStab = NAN;
    if (beta === beta) {
      this.betaMom.push(beta);
      if (this.betaMom.isFull) betaStab = this.betaMom.std() / (abs(this.betaMom.mean()) + 1e-6);
    }

    // --- spread features ----------------------------------------------------------------------------------------
    let s = NAN;
    let z = NAN;
    let zEma = NAN;
    let dz = NAN;
    let absDs = NAN;
    let atrS = NAN;
    let volRatio = NAN;
    let halfLife = NAN;
    let gap = NAN;
    let slopeSpread = NAN;
    let slopeZ = NAN;
    let rsi = NAN;
    if (beta === beta) {
      s = aClose - beta * bClose;
      const sMom = this.sMom;
      sMom.push(s);
      let sd = NAN;
      if (sMom.isFull) {
        sd = sMom.std();
        if (sd > 0) {
          const zr = (s - sMom.mean()) / sd;
          const c = this.zClip;
          z = zr > c ? c : zr < -c ? -c : zr;
        } else {
          z = 0;
        }
      }
      const ps = this.prevS;
      if (ps === ps) {
        const d = s - ps;
        absDs = d < 0 ? -d : d;
        atrS = this.atrS.push(absDs);
        if (atrS === atrS) {
          this.medS.push(atrS);
          if (this.medS.isFull) volRatio = ratioToMedian(atrS, this.medS.median());
        }
      }
      halfLife = this.ou.push(s);
      gap = this.emaFast.push(s) - this.emaSlow.push(s);
      this.slopeS.push(s);
      if (this.slopeS.isFull && sd === sd) slopeSpread = sd > 0 ? this.slopeS.slope() / sd : 0;
      rsi = this.rsi.push(s);
    }
    if (z === z) {
      zEma = this.zEma.push(z);
      const pz = this.prevZ;
      if (pz === pz) dz = z - pz;
      this.slopeZ.push(z);
      if (this.slopeZ.isFull) slopeZ = this.slopeZ.slope();
    }

    this.n++;
    this.lastTs = ts;
    this.prevA = aClose;
    this.prevB = bClose;
    this.prevS = s;
    this.prevZ = z;

    out[offset + F_BETA] = beta;
    out[offset + F_SPREAD] = s;
    out[offset + F_Z] = z;
    out[offset + F_Z_EMA] = zEma;
    out[offset + F_DELTA_Z] = dz;
    out[offset + F_ABS_DELTA_Z] = dz < 0 ? -dz : dz;
    out[offset + F_ABS_DELTA_S] = absDs;
    out[offset + F_ATR_A] = atrA;
    out[offset + F_ATR_B] = atrB;
    out[offset + F_ATR_SPREAD] = atrS;
    out[offset + F_VOL_RATIO_SPREAD] = volRatio;
    out[offset + F_ATR_RATIO_A] = ratioA;
    out[offset + F_ATR_RATIO_B] = ratioB;
    out[offset + F_HALF_LIFE] = halfLife;
    out[offset + F_RHO] = rho;
    out[offset + F_CORR_STABILITY] = corrStab;
    out[offset + F_BETA_STABILITY] = betaStab;
    out[offset + F_EMA_GAP] = gap;
    out[offset + F_SLOPE_SPREAD] = slopeSpread;
    out[offset + F_SLOPE_Z] = slopeZ;
    out[offset + F_RSI] = rsi;
  }

  /** Plain JSON-serialisable state; `PairFeatureEngine.restore(JSON.parse(JSON.stringify(s)))` continues bit-exactly. */
  snapshot(): PairFeatureEngineState {
    return {
      kind: 'PairFeatureEngine',
      version: FEATURE_SCHEMA_VERSION,
      schemaHash: this.schemaHash,
      params: { ...this.params },
      barsSeen: this.n,
      lastTsMs: encodeNumber(this.lastTs),
      prevCloseA: encodeNumber(this.prevA),
      prevCloseB: encodeNumber(this.prevB),
      prevSpread: encodeNumber(this.prevS),
      prevZ: encodeNumber(this.prevZ),
      atrA: this.atrA.snapshot(),
      atrB: this.atrB.snapshot(),
      atrMedianA: this.medA.snapshot(),
      atrMedianB: this.medB.snapshot(),
      atrSpread: this.atrS.snapshot(),
      atrMedianSpread: this.medS.snapshot(),
      rho: this.rhoCov.snapshot(),
      rhoMoments: this.rhoMom.snapshot(),
      betaRaw: this.betaRaw.snapshot(),
      betaEma: this.betaEma.snapshot(),
      betaMoments: this.betaMom.snapshot(),
      spreadMoments: this.sMom.snapshot(),
      zEma: this.zEma.snapshot(),
      halfLife: this.ou.snapshot(),
      emaFast: this.emaFast.snapshot(),
      emaSlow: this.emaSlow.snapshot(),
      slopeSpread: this.slopeS.snapshot(),
      slopeZ: this.slopeZ.snapshot(),
      rsi: this.rsi.snapshot(),
    };
  }

  /**
   * Rebuilds an engine from {@link snapshot} output (also after a JSON round trip). `params`, when given, must
   * resolve to the snapshot's parameters. Throws CORE_FEATURE_STATE for a malformed or foreign snapshot.
   */
  static restore(state: unknown, params?: Partial<FeatureParams>): PairFeatureEngine {
    const s = asRecord(state, 'PairFeatureEngineState');
    if (s.kind !== 'PairFeatureEngine') throw stateError(`not a PairFeatureEngine snapshot (kind ${JSON.stringify(s.kind)})`);
    if (s.version !== FEATURE_SCHEMA_VERSION) throw stateError(`snapshot schema version ${JSON.stringify(s.version)} ≠ ${FEATURE_SCHEMA_VERSION}`);
    let p: Readonly<FeatureParams>;
    try {
      p = resolveFeatureParams(asRecord(s.params, 'PairFeatureEngineState.params') as Partial<FeatureParams>);
    } catch (e) {
      throw stateError(`snapshot parameters are invalid: ${(e as Error).message}`);
    }
    if (params !== undefined) {
      const want = resolveFeatureParams(params);
      const diff = FEATURE_PARAM_KEYS.filter((k) => !Object.is(want[k], p[k]));
      if (diff.length > 0) throw stateError(`snapshot was taken with other parameters (${diff.join(', ')})`);
    }
    const e = new PairFeatureEngine(p);
    if (s.schemaHash !== e.schemaHash) throw stateError('snapshot schema hash does not match its parameters');
    e.n = decodeInt(s.barsSeen, 0, Number.MAX_SAFE_INTEGER, 'barsSeen');
    e.lastTs = decodeNumber(s.lastTsMs, 'lastTsMs');
    e.prevA = decodeNumber(s.prevCloseA, 'prevCloseA');
    e.prevB = decodeNumber(s.prevCloseB, 'prevCloseB');
    e.prevS = decodeNumber(s.prevSpread, 'prevSpread');
    e.prevZ = decodeNumber(s.prevZ, 'prevZ');
    if ((e.n === 0) !== (e.lastTs !== e.lastTs)) throw stateError('lastTsMs must be NaN exactly when no bar was seen');
    e.atrA = WilderAtr.restore(s.atrA);
    e.atrB = WilderAtr.restore(s.atrB);
    e.medA = RollingMedian.restore(s.atrMedianA);
    e.medB = RollingMedian.restore(s.atrMedianB);
    e.atrS = WilderAverage.restore(s.atrSpread);
    e.medS = RollingMedian.restore(s.atrMedianSpread);
    e.rhoCov = RollingCovariance.restore(s.rho);
    e.rhoMom = RollingMoments.restore(s.rhoMoments);
    e.betaRaw = RollingRobustSlope.restore(s.betaRaw, p.robustMadRatio, p.huberC, p.huberMaxIter);
    e.betaEma = Ema.restore(s.betaEma);
    e.betaMom = RollingMoments.restore(s.betaMoments);
    e.sMom = RollingMoments.restore(s.spreadMoments);
    e.zEma = Ema.restore(s.zEma);
    e.ou = RollingOuFit.restore(s.halfLife);
    e.emaFast = Ema.restore(s.emaFast);
    e.emaSlow = Ema.restore(s.emaSlow);
    e.slopeS = RollingLinearSlope.restore(s.slopeSpread);
    e.slopeZ = RollingLinearSlope.restore(s.slopeZ);
    e.rsi = WilderRsi.restore(s.rsi);
    const shapes: [string, number, number][] = [
      ['atrA', e.atrA.period, p.atrPeriod],
      ['atrB', e.atrB.period, p.atrPeriod],
      ['atrSpread', e.atrS.period, p.atrPeriod],
      ['atrMedianA', e.medA.window, p.atrBaselineWindow],
      ['atrMedianB', e.medB.window, p.atrBaselineWindow],
      ['atrMedianSpread', e.medS.window, p.atrBaselineWindow],
      ['rho', e.rhoCov.window, p.rhoWindow],
      ['rhoMoments', e.rhoMom.window, p.corrStabilityWindow],
      ['betaRaw', e.betaRaw.window, p.betaWindow],
      ['betaMoments', e.betaMom.window, p.betaStabilityWindow],
      ['spreadMoments', e.sMom.window, p.zWindow],
      ['halfLife', e.ou.window, p.halfLifeWindow],
      ['halfLife.min', e.ou.min, p.halfLifeMin],
      ['halfLife.max', e.ou.max, p.halfLifeMax],
      ['slopeSpread', e.slopeS.window, p.slopeWindow],
      ['slopeZ', e.slopeZ.window, p.slopeWindow],
      ['rsi', e.rsi.period, p.rsiPeriod],
      ['betaEma.alpha', e.betaEma.alpha, Ema.halfLife(p.betaEmaHalfLife).alpha],
      ['zEma.alpha', e.zEma.alpha, Ema.halfLife(p.zEmaHalfLife).alpha],
      ['emaFast.alpha', e.emaFast.alpha, Ema.span(p.emaFastSpan).alpha],
      ['emaSlow.alpha', e.emaSlow.alpha, Ema.span(p.emaSlowSpan).alpha],
    ];
    for (const [what, got, want] of shapes) {
      if (!Object.is(got, want)) throw stateError(`${what} is ${got} in the snapshot but ${want} for its parameters`);
    }
    return e;
  }
}

function rejectNonFinite(ts: number, prices: number[]): never {
  if (!Number.isFinite(ts)) throw new FeatureError(FEATURE_ERROR.NONFIN, `bar time ${ts} is not a finite number`);
  const names = ['A.open', 'A.high', 'A.low', 'A.close', 'B.open', 'B.high', 'B.low', 'B.close'];
  const i = prices.findIndex((p) => !(p > 0 && p < INF));
  throw new FeatureError(FEATURE_ERROR.NONFIN, `bar ${ts}: ${names[i]} = ${prices[i]} is not a finite positive price`);
}
