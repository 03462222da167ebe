import { FEATURE_ERROR, FeatureError } from '../errors.js';
import { asRecord, decodeNumber, encodeNumber, stateError, type EncodedNumber } from './codec.js';
import { RollingOls, type CovarianceState } from './covariance.js';
import { LN2, NAN, abs } from './fastmath.js';

export interface OuFitState {
  min: EncodedNumber;
  max: EncodedNumber;
  prev: EncodedNumber;
  ols: CovarianceState;
}

/**
 * Mean-reversion half-life of a series S: over the last `window` changes, OLS ΔS_k = a + b·S_{k−1}, κ = −b,
 * half_life = clip(ln 2 / |κ|, min, max), and `max` when κ = 0 (or S_{k−1} has no dispersion, where no κ is
 * identifiable). The first value needs window + 1 inputs.
 */
export class RollingOuFit {
  readonly window: number;
  readonly min: number;
  readonly max: number;
  private prev = NAN;
  private ols: RollingOls;

  constructor(window: number, min: number, max: number) {
    if (!(Number.isFinite(min) && Number.isFinite(max) && min > 0 && min <= max)) {
      throw new FeatureError(FEATURE_ERROR.PARAM, `half-life clip must satisfy 0 < min ≤ max, got [${min}, ${max}]`);
    }
    this.ols = new RollingOls(window);
    this.window = this.ols.window;
    this.min = min;
    this.max = max;
  }

  /** Adds S_t; returns the half-life (NaN during warm-up). */
  push(s: number): number {
    const p = this.prev;
    this.prev = s;
    if (p !== p) return NAN;
    this.ols.push(p, s - p);
    return this.halfLife();
  }

  /** κ = −b of the current window (NaN during warm-up or without dispersion in S_{k−1}). */
  kappa(): number {
    return this.ols.isFull ? -this.ols.slope() : NAN;
  }

  halfLife(): number {
    if (!this.ols.isFull) return NAN;
    const kappa = -this.ols.slope();
    if (kappa !== kappa || kappa === 0) return this.max;
    const h = LN2 / abs(kappa);
    return h < this.min ? this.min : h > this.max ? this.max : h;
  }

  snapshot(): OuFitState {
    return { min: encodeNumber(this.min), max: encodeNumber(this.max), prev: encodeNumber(this.prev), ols: this.ols.snapshot() };
  }

  static restore(state: unknown): RollingOuFit {
    const s = asRecord(state, 'RollingOuFit');
    const ols = RollingOls.restore(s.ols);
    const min = decodeNumber(s.min, 'RollingOuFit.min');
    const max = decodeNumber(s.max, 'RollingOuFit.max');
    if (!(min > 0 && min <= max && Number.isFinite(max))) throw stateError('RollingOuFit: invalid clip');
    const f = new RollingOuFit(ols.window, min, max);
    f.ols = ols;
    f.prev = decodeNumber(s.prev, 'RollingOuFit.prev');
    return f;
  }
}
