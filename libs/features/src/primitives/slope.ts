import { asRecord, checkWindow, decodeInt, decodeNumber, encodeNumber, stateError, type EncodedNumber } from './codec.js';
import { REBASE_RATIO } from './moments.js';
import { RollingWindow, type RollingWindowState } from './window.js';
import { NAN, abs } from './fastmath.js';

/** As in RollingMoments: dispersion below ~16 ulps of the level is rounding noise. */
const FLOOR_REL = 2 ** -48;

export interface LinearSlopeState {
  window: RollingWindowState;
  shift: EncodedNumber;
  sy: EncodedNumber;
  cy: EncodedNumber;
  siy: EncodedNumber;
  ciy: EncodedNumber;
  syy: EncodedNumber;
  cyy: EncodedNumber;
  peak: EncodedNumber;
  sinceRebuild: number;
}

/**
 * OLS slope of the last n values on their positions 0..n−1 in O(1) per push: with d_j = y_j − k (k a shift),
 * Sy = Σd_j and Siy = Σ j·d_j, dropping y_0 and appending y_new turns Siy into Siy − (Sy − d_0) + (n−1)·d_new;
 * slope = (Siy − (n−1)/2·Sy) / (n(n²−1)/12). The subtracted Sy carries its own rounding into Siy at every
 * push, so the sums are rebuilt from the window (k = window mean) every n pushes — amortised O(1), the rounding
 * never accumulates over more than one window — and also, as in RollingMoments, as soon as the largest Σd²
 * since the last rebuild exceeds REBASE_RATIO × the window's centred Σd² (a level jump left the window), so a
 * flat window after a jump reads a slope of 0 rather than the residue of the old level.
 */
export class RollingLinearSlope {
  readonly window: number;
  private buf: RollingWindow;
  private k = 0;
  private sy = 0;
  private cy = 0;
  private siy = 0;
  private ciy = 0;
  private syy = 0;
  private cyy = 0;
  private peak = 0;
  private sinceRebuild = 0;
  private readonly centre: number;
  private readonly sxx: number;

  constructor(window: number) {
    this.window = checkWindow(window, 2, 'RollingLinearSlope window');
    this.buf = new RollingWindow(this.window);
    const n = this.window;
    this.centre = (n - 1) / 2;
    this.sxx = (n * (n * n - 1)) / 12;
  }

  get count(): number {
    return this.buf.count;
  }

  get isFull(): boolean {
    return this.buf.isFull;
  }

  push(y: number): void {
    const buf = this.buf;
    const n = this.window;
    if (buf.count === 0) this.k = y;
    const d = y - this.k;
    if (buf.isFull) {
      const d0 = buf.push(y) - this.k;
      const sy = this.sy + this.cy;
      this.addIy(d0 - sy);
      this.addIy((n - 1) * d);
      this.addY(-d0);
      this.addY(d);
      this.addYy(-(d0 * d0));
      this.addYy(d * d);
      if (++this.sinceRebuild >= n || this.drifted()) this.rebuild();
    } else {
      const j = buf.count;
      buf.push(y);
      this.addY(d);
      this.addIy(j * d);
      this.addYy(d * d);
      if (this.drifted()) this.rebuild();
    }
  }

  private drifted(): boolean {
    const q = this.syy + this.cyy;
    if (q > this.peak) this.peak = q;
    const n = this.buf.count;
    const a = this.sy + this.cy;
    const m2 = q - (a * a) / n;
    const f = FLOOR_REL * this.k;
    return this.peak > REBASE_RATIO * ((m2 > 0 ? m2 : 0) + n * f * f);
  }

  private addY(x: number): void {
    const s = this.sy;
    const t = s + x;
    this.cy += abs(s) >= abs(x) ? s - t + x : x - t + s;
    this.sy = t;
  }

  private addIy(x: number): void {
    const s = this.siy;
    const t = s + x;
    this.ciy += abs(s) >= abs(x) ? s - t + x : x - t + s;
    this.siy = t;
  }

  private addYy(x: number): void {
    const s = this.syy;
    const t = s + x;
    this.cyy += abs(s) >= abs(x) ? s - t + x : x - t + s;
    this.syy = t;
  }

  private rebuild(): void {
    const buf = this.buf;
    const n = buf.count;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += buf.get(j);
    const k = sum / n;
    this.k = k;
    this.sy = this.cy = this.siy = this.ciy = this.syy = this.cyy = 0;
    for (let j = 0; j < n; j++) {
      const d = buf.get(j) - k;
      this.addY(d);
      this.addIy(j * d);
      this.addYy(d * d);
    }
    this.peak = this.syy + this.cyy;
    this.sinceRebuild = 0;
  }

  /** Slope per step; NaN until the window is full. */
  slope(): number {
    if (!this.buf.isFull) return NAN;
    return (this.siy + this.ciy - this.centre * (this.sy + this.cy)) / this.sxx;
  }

  snapshot(): LinearSlopeState {
    return {
      window: this.buf.snapshot(),
      shift: encodeNumber(this.k),
      sy: encodeNumber(this.sy),
      cy: encodeNumber(this.cy),
      siy: encodeNumber(this.siy),
      ciy: encodeNumber(this.ciy),
      syy: encodeNumber(this.syy),
      cyy: encodeNumber(this.cyy),
      peak: encodeNumber(this.peak),
      sinceRebuild: this.sinceRebuild,
    };
  }

  static restore(state: unknown): RollingLinearSlope {
    const s = asRecord(state, 'RollingLinearSlope');
    const buf = RollingWindow.restore(s.window);
    if (buf.capacity < 2) throw stateError('RollingLinearSlope: window below 2');
    const r = new RollingLinearSlope(buf.capacity);
    r.buf = buf;
    r.k = decodeNumber(s.shift, 'RollingLinearSlope.shift');
    r.sy = decodeNumber(s.sy, 'RollingLinearSlope.sy');
    r.cy = decodeNumber(s.cy, 'RollingLinearSlope.cy');
    r.siy = decodeNumber(s.siy, 'RollingLinearSlope.siy');
    r.ciy = decodeNumber(s.ciy, 'RollingLinearSlope.ciy');
    r.syy = decodeNumber(s.syy, 'RollingLinearSlope.syy');
    r.cyy = decodeNumber(s.cyy, 'RollingLinearSlope.cyy');
    r.peak = decodeNumber(s.peak, 'RollingLinearSlope.peak');
    r.sinceRebuild = decodeInt(s.sinceRebuild, 0, buf.capacity - 1, 'RollingLinearSlope.sinceRebuild');
    return r;
  }
}
