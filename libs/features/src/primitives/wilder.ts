import { asRecord, checkWindow, decodeInt, decodeNumber, encodeNumber, stateError, type EncodedNumber } from './codec.js';
import { NAN } from './fastmath.js';

export interface WilderAverageState {
  period: number;
  count: number;
  sum: EncodedNumber;
  value: EncodedNumber;
}

/**
 * Wilder's smoothing: NaN for the first n − 1 inputs, then the mean of the first n inputs, then
 * v_t = ((n − 1)·v_{t−1} + x_t) / n.
 */
export class WilderAverage {
  readonly period: number;
  private n = 0;
  private sum = 0;
  private v = NAN;

  constructor(period: number) {
    this.period = checkWindow(period, 1, 'Wilder period');
  }

  get value(): number {
    return this.v;
  }

  get count(): number {
    return this.n;
  }

  push(x: number): number {
    const p = this.period;
    if (this.n < p) {
      this.sum += x;
      if (++this.n === p) this.v = this.sum / p;
      return this.v;
    }
    this.v = ((p - 1) * this.v + x) / p;
    return this.v;
  }

  snapshot(): WilderAverageState {
    return { period: this.period, count: this.n, sum: encodeNumber(this.sum), value: encodeNumber(this.v) };
  }

  static restore(state: unknown): WilderAverage {
    const s = asRecord(state, 'WilderAverage');
    const w = new WilderAverage(decodeInt(s.period, 1, 1_000_000, 'WilderAverage.period'));
    w.n = decodeInt(s.count, 0, w.period, 'WilderAverage.count');
    w.sum = decodeNumber(s.sum, 'WilderAverage.sum');
    w.v = decodeNumber(s.value, 'WilderAverage.value');
    if ((w.n === w.period) === (w.v !== w.v)) throw stateError('WilderAverage: value must be defined exactly when the seed is complete');
    return w;
  }
}

export interface WilderAtrState {
  prevClose: EncodedNumber;
  avg: WilderAverageState;
}

/**
 * Wilder ATR: TR_t = max(high_t, close_{t−1}) − min(low_t, close_{t−1}) (needs the previous close, so the
 * first bar yields none), first ATR = mean of the first n TRs, then Wilder smoothing (R TTR::ATR).
 */
export class WilderAtr {
  private prevClose = NAN;
  private avg: WilderAverage;

  constructor(period: number) {
    this.avg = new WilderAverage(period);
  }

  get period(): number {
    return this.avg.period;
  }

  get value(): number {
    return this.avg.value;
  }

  push(high: number, low: number, close: number): number {
    const pc = this.prevClose;
    this.prevClose = close;
    if (pc !== pc) return NAN;
    const tr = (high > pc ? high : pc) - (low < pc ? low : pc);
    return this.avg.push(tr);
  }

  snapshot(): WilderAtrState {
    return { prevClose: encodeNumber(this.prevClose), avg: this.avg.snapshot() };
  }

  static restore(state: unknown): WilderAtr {
    const s = asRecord(state, 'WilderAtr');
    const avg = WilderAverage.restore(s.avg);
    const a = new WilderAtr(avg.period);
    a.avg = avg;
    a.prevClose = decodeNumber(s.prevClose, 'WilderAtr.prevClose');
    return a;
  }
}

export interface WilderRsiState {
  prev: EncodedNumber;
  up: WilderAverageState;
  down: WilderAverageState;
}

/**
 * Wilder RSI: gains and losses of successive changes smoothed with {@link WilderAverage} (first averages =
 * mean of the first n changes), RSI = 100·up / (up + down) (R TTR::RSI). A window without any change (up +
 * down = 0) has no direction and reports the neutral 50.
 */
export class WilderRsi {
  private prev = NAN;
  private up: WilderAverage;
  private down: WilderAverage;

  constructor(period: number) {
    this.up = new WilderAverage(period);
    this.down = new WilderAverage(period);
  }

  get period(): number {
    return this.up.period;
  }

  push(x: number): number {
    const p = this.prev;
    this.prev = x;
    if (p !== p) return NAN;
    const d = x - p;
    const u = this.up.push(d > 0 ? d : 0);
    const w = this.down.push(d < 0 ? -d : 0);
    if (u !== u) return NAN;
    const s = u + w;
    return s === 0 ? 50 : (100 * u) / s;
  }

  snapshot(): WilderRsiState {
    return { prev: encodeNumber(this.prev), up: this.up.snapshot(), down: this.down.snapshot() };
  }

  static restore(state: unknown): WilderRsi {
    const s = asRecord(state, 'WilderRsi');
    const up = WilderAverage.restore(s.up);
    const down = WilderAverage.restore(s.down);
    if (up.period !== down.period || up.count !== down.count) throw stateError('WilderRsi: gain and loss averages disagree');
    const r = new WilderRsi(up.period);
    r.up = up;
    r.down = down;
    r.prev = decodeNumber(s.prev, 'WilderRsi.prev');
    return r;
  }
}
