import { FEATURE_ERROR, FeatureError } from '../errors.js';
import { asRecord, decodeNumber, encodeNumber, stateError, type EncodedNumber } from './codec.js';
import { LN2, NAN } from './fastmath.js';

export interface EmaState {
  alpha: EncodedNumber;
  value: EncodedNumber;
}

/**
 * Recursive EMA y_t = (1 − α)·y_{t−1} + α·x_t, seeded with the first input (pandas `ewm(adjust=False)`).
 */
export class Ema {
  readonly alpha: number;
  private readonly keep: number;
  private v = NAN;

  constructor(alpha: number) {
    if (typeof alpha !== 'number' || !(alpha > 0 && alpha <= 1)) {
      throw new FeatureError(FEATURE_ERROR.PARAM, `EMA alpha must be in (0, 1], got ${String(alpha)}`);
    }
    this.alpha = alpha;
    this.keep = 1 - alpha;
  }

  /** α = 1 − 0.5^(1/h): the weight of an input halves every h steps. */
  static halfLife(h: number): Ema {
    if (typeof h !== 'number' || !Number.isFinite(h) || h <= 0) {
      throw new FeatureError(FEATURE_ERROR.PARAM, `EMA half-life must be a finite number > 0, got ${String(h)}`);
    }
    // −expm1(−ln2/h) is 1 − 0.5^(1/h) without the cancellation of 1 − (a number close to 1) for long half-lives.
    return new Ema(-Math.expm1(-LN2 / h));
  }

  /** α = 2 / (n + 1). */
  static span(n: number): Ema {
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 1) {
      throw new FeatureError(FEATURE_ERROR.PARAM, `EMA span must be a finite number ≥ 1, got ${String(n)}`);
    }
    return new Ema(2 / (n + 1));
  }

  get value(): number {
    return this.v;
  }

  push(x: number): number {
    const v = this.v;
    // An unchanged input keeps the value exactly (as pandas does), so a constant series has a constant EMA.
    if (v !== v) this.v = x;
    else if (v !== x) this.v = this.keep * v + this.alpha * x;
    return this.v;
  }

  /**
   * Runs the EMA over a whole series in one tight loop (the columnar form of {@link push}, same arithmetic, so
   * the output is bit-identical to pushing the values one by one) and leaves this instance at the end state.
   * NaN inputs before the first number keep the output NaN (the EMA is seeded with the first defined input).
   */
  pushSeries(values: Float64Array, out: Float64Array = new Float64Array(values.length)): Float64Array {
    if (out.length < values.length) {
      throw new FeatureError(FEATURE_ERROR.SHAPE, `EMA output length ${out.length} is shorter than the input ${values.length}`);
    }
    const alpha = this.alpha;
    const keep = this.keep;
    let v = this.v;
    const n = values.length;
    for (let i = 0; i < n; i++) {
      const x = values[i] as number;
      if (v !== v) v = x;
      else if (v !== x) v = keep * v + alpha * x;
      out[i] = v;
    }
    this.v = v;
    return out;
  }

  snapshot(): EmaState {
    return { alpha: encodeNumber(this.alpha), value: encodeNumber(this.v) };
  }

  static restore(state: unknown): Ema {
    const s = asRecord(state, 'Ema');
    const alpha = decodeNumber(s.alpha, 'Ema.alpha');
    if (!(alpha > 0 && alpha <= 1)) throw stateError(`Ema.alpha out of (0, 1]: ${alpha}`);
    const e = new Ema(alpha);
    e.v = decodeNumber(s.value, 'Ema.value');
    return e;
  }
}
