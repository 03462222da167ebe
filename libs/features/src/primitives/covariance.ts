import { asRecord, checkWindow, decodeArrayInto, decodeInt, decodeNumber, encodeArray, encodeNumber, stateError, type EncodedNumber } from './codec.js';
import { REBASE_RATIO } from './moments.js';
import { RollingWindow, type RollingWindowState } from './window.js';
import { NAN, abs, sqrt } from './fastmath.js';

const FLOOR_REL = 2 ** -48;

// Slots of the compensated sums (value, compensation) in `acc`.
const SX = 0;
const SY = 2;
const SXX = 4;
const SYY = 6;
const SXY = 8;

export interface CovarianceState {
  x: RollingWindowState;
  y: RollingWindowState;
  kx: EncodedNumber;
  ky: EncodedNumber;
  acc: EncodedNumber[];
  peakX: EncodedNumber;
  peakY: EncodedNumber;
  rebases: number;
}

/**
 * Rolling covariance / correlation of pairs (x, y) over the last `window` pairs, O(1) per push. Same drift
 * control as RollingMoments: shifted Neumaier sums, rebuilt from the windows when either Σd² grew more than
 * REBASE_RATIO × its current centred value (so the error of cov and corr stays ~REBASE_RATIO·eps relative).
 */
export class RollingCovariance {
  readonly window: number;
  protected bx: RollingWindow;
  protected by: RollingWindow;
  protected kx = 0;
  protected ky = 0;
  protected readonly acc = new Float64Array(10);
  private peakX = 0;
  private peakY = 0;
  private nRebases = 0;

  constructor(window: number, minWindow = 2) {
    this.window = checkWindow(window, minWindow, `${new.target.name} window`);
    this.bx = new RollingWindow(this.window);
    this.by = new RollingWindow(this.window);
  }

  get count(): number {
    return this.bx.count;
  }

  get isFull(): boolean {
    return this.bx.isFull;
  }

  get rebases(): number {
    return this.nRebases;
  }

  /** x values (physical slots; see RollingWindow). */
  get xs(): RollingWindow {
    return this.bx;
  }

  /** y values, slot-aligned with {@link xs}. */
  get ys(): RollingWindow {
    return this.by;
  }

  push(x: number, y: number): void {
    const bx = this.bx;
    if (bx.count === 0) {
      this.kx = x;
      this.ky = y;
    }
    const kx = this.kx;
    const ky = this.ky;
    const full = bx.isFull;
    const ox = bx.push(x);
    const oy = this.by.push(y);
    // Neumaier steps written out: this runs for three windows per bar, and calls returning doubles would box.
    const a = this.acc;
    let s: number;
    let t: number;
    let v: number;
    if (full) {
      const dx = ox - kx;
      const dy = oy - ky;
      s = a[SX]!;
      v = -dx;
      t = s + v;
      a[SX + 1]! += abs(s) >= abs(v) ? s - t + v : v - t + s;
      a[SX] = t;
      s = a[SY]!;
      v = -dy;
      t = s + v;
      a[SY + 1]! += abs(s) >= abs(v) ? s - t + v : v - t + s;
      a[SY] = t;
      s = a[SXX]!;
      v = -(dx * dx);
      t = s + v;
      a[SXX + 1]! += abs(s) >= abs(v) ? s - t + v : v - t + s;
      a[SXX] = t;
      s = a[SYY]!;
      v = -(dy * dy);
      t = s + v;
      a[SYY + 1]! += abs(s) >= abs(v) ? s - t + v : v - t + s;
      a[SYY] = t;
      s = a[SXY]!;
      v = -(dx * dy);
      t = s + v;
      a[SXY + 1]! += abs(s) >= abs(v) ? s - t + v : v - t + s;
      a[SXY] = t;
    }
    const dx = x - kx;
    const dy = y - ky;
    s = a[SX]!;
    v = dx;
    t = s + v;
    a[SX + 1]! += abs(s) >= abs(v) ? s - t + v : v - t + s;
    a[SX] = t;
    s = a[SY]!;
    v = dy;
    t = s + v;
    a[SY + 1]! += abs(s) >= abs(v) ? s - t + v : v - t + s;
    a[SY] = t;
    s = a[SXX]!;
    v = dx * dx;
    t = s + v;
    a[SXX + 1]! += abs(s) >= abs(v) ? s - t + v : v - t + s;
    a[SXX] = t;
    s = a[SYY]!;
    v = dy * dy;
    t = s + v;
    a[SYY + 1]! += abs(s) >= abs(v) ? s - t + v : v - t + s;
    a[SYY] = t;
    s = a[SXY]!;
    v = dx * dy;
    t = s + v;
    a[SXY + 1]! += abs(s) >= abs(v) ? s - t + v : v - t + s;
    a[SXY] = t;
    const n = bx.count;
    const sx = a[SX]! + a[SX + 1]!;
    const sy = a[SY]! + a[SY + 1]!;
    const qx = a[SXX]! + a[SXX + 1]!;
    const qy = a[SYY]! + a[SYY + 1]!;
    if (qx > this.peakX) this.peakX = qx;
    if (qy > this.peakY) this.peakY = qy;
    let m2x = qx - (sx * sx) / n;
    let m2y = qy - (sy * sy) / n;
    if (!(m2x > 0)) m2x = 0;
    if (!(m2y > 0)) m2y = 0;
    const fx = FLOOR_REL * kx;
    const fy = FLOOR_REL * ky;
    if (this.peakX > REBASE_RATIO * (m2x + n * fx * fx) || this.peakY > REBASE_RATIO * (m2y + n * fy * fy)) this.rebase();
  }

  private add(i: number, x: number): void {
    const a = this.acc;
    const s = a[i]!;
    const t = s + x;
    a[i + 1]! += abs(s) >= abs(x) ? s - t + x : x - t + s;
    a[i] = t;
  }

  private sum(i: number): number {
    return this.acc[i]! + this.acc[i + 1]!;
  }

  protected floorX(): number {
    const f = FLOOR_REL * this.kx;
    return this.bx.count * f * f;
  }

  protected floorY(): number {
    const f = FLOOR_REL * this.ky;
    return this.bx.count * f * f;
  }

  /** Σ(x − x̄)² (≥ 0). */
  protected m2x(): number {
    const n = this.bx.count;
    if (n < 2) return 0;
    const s = this.sum(SX);
    const m = this.sum(SXX) - (s * s) / n;
    return m > 0 ? m : 0;
  }

  /** Σ(y − ȳ)² (≥ 0). */
  protected m2y(): number {
    const n = this.bx.count;
    if (n < 2) return 0;
    const s = this.sum(SY);
    const m = this.sum(SYY) - (s * s) / n;
    return m > 0 ? m : 0;
  }

  /** Σ(x − x̄)(y − ȳ). */
  protected cxy(): number {
    const n = this.bx.count;
    if (n < 2) return 0;
    return this.sum(SXY) - (this.sum(SX) * this.sum(SY)) / n;
  }

  private rebase(): void {
    const n = this.bx.count;
    const xd = this.bx.data;
    const yd = this.by.data;
    let sx = 0;
    let sy = 0;
    for (let i = 0; i < n; i++) {
      sx += xd[i]!;
      sy += yd[i]!;
    }
    const kx = sx / n;
    const ky = sy / n;
    this.kx = kx;
    this.ky = ky;
    this.acc.fill(0);
    for (let i = 0; i < n; i++) {
      const dx = xd[i]! - kx;
      const dy = yd[i]! - ky;
      this.add(SX, dx);
      this.add(SY, dy);
      this.add(SXX, dx * dx);
      this.add(SYY, dy * dy);
      this.add(SXY, dx * dy);
    }
    this.peakX = this.sum(SXX);
    this.peakY = this.sum(SYY);
    this.nRebases++;
  }

  meanX(): number {
    const n = this.bx.count;
    return n === 0 ? NAN : this.kx + this.sum(SX) / n;
  }

  meanY(): number {
    const n = this.bx.count;
    return n === 0 ? NAN : this.ky + this.sum(SY) / n;
  }

  /** Sample variance of x (0 below the rounding floor, NaN under two pairs). */
  varianceX(): number {
    const n = this.bx.count;
    if (n < 2) return NAN;
    const m = this.m2x();
    return m <= this.floorX() ? 0 : m / (n - 1);
  }

  varianceY(): number {
    const n = this.bx.count;
    if (n < 2) return NAN;
    const m = this.m2y();
    return m <= this.floorY() ? 0 : m / (n - 1);
  }

  /** Sample covariance (n − 1). */
  covariance(): number {
    const n = this.bx.count;
    return n < 2 ? NAN : this.cxy() / (n - 1);
  }

  /** Pearson correlation in [−1, 1]; NaN when either side has no dispersion (or under two pairs). */
  correlation(): number {
    if (this.bx.count < 2) return NAN;
    const mx = this.m2x();
    const my = this.m2y();
    if (mx <= this.floorX() || my <= this.floorY()) return NAN;
    const r = this.cxy() / sqrt(mx * my);
    return r > 1 ? 1 : r < -1 ? -1 : r;
  }

  snapshot(): CovarianceState {
    return {
      x: this.bx.snapshot(),
      y: this.by.snapshot(),
      kx: encodeNumber(this.kx),
      ky: encodeNumber(this.ky),
      acc: encodeArray(this.acc),
      peakX: encodeNumber(this.peakX),
      peakY: encodeNumber(this.peakY),
      rebases: this.nRebases,
    };
  }

  protected load(state: unknown, what: string): this {
    const s = asRecord(state, what);
    const bx = RollingWindow.restore(s.x);
    const by = RollingWindow.restore(s.y);
    if (bx.capacity !== this.window || by.capacity !== this.window || bx.count !== by.count || bx.head !== by.head) {
      throw stateError(`${what}: x/y windows do not match a window of ${this.window}`);
    }
    this.bx = bx;
    this.by = by;
    this.kx = decodeNumber(s.kx, `${what}.kx`);
    this.ky = decodeNumber(s.ky, `${what}.ky`);
    decodeArrayInto(s.acc, this.acc, 10, `${what}.acc`);
    this.peakX = decodeNumber(s.peakX, `${what}.peakX`);
    this.peakY = decodeNumber(s.peakY, `${what}.peakY`);
    this.nRebases = decodeInt(s.rebases, 0, Number.MAX_SAFE_INTEGER, `${what}.rebases`);
    return this;
  }

  static windowOf(state: unknown, what: string): number {
    const s = asRecord(state, what);
    return decodeInt(asRecord(s.x, `${what}.x`).capacity, 1, 1_000_000, `${what}.x.capacity`);
  }

  static restore(state: unknown): RollingCovariance {
    return new RollingCovariance(RollingCovariance.windowOf(state, 'RollingCovariance')).load(state, 'RollingCovariance');
  }
}

/** Rolling OLS of y on x with intercept over the last `window` pairs (O(1) per push). */
export class RollingOls extends RollingCovariance {
  constructor(window: number) {
    super(window, 2);
  }

  /** OLS slope Σ(x−x̄)(y−ȳ) / Σ(x−x̄)²; NaN while not full-rank (fewer than two pairs or constant x). */
  slope(): number {
    if (this.bx.count < 2) return NAN;
    const mx = this.m2x();
    return mx <= this.floorX() ? NAN : this.cxy() / mx;
  }

  intercept(): number {
    return this.meanY() - this.slope() * this.meanX();
  }

  /** Residual standard error sqrt(SSR / (n − 2)); NaN under three pairs or when the slope is undefined. */
  residualStd(): number {
    const n = this.bx.count;
    if (n < 3) return NAN;
    const b = this.slope();
    if (b !== b) return NAN;
    const ssr = this.m2y() - b * this.cxy();
    return sqrt(ssr > 0 ? ssr / (n - 2) : 0);
  }

  /** Residual sum of squares Σ(y − ȳ)² − b·Σ(x − x̄)(y − ȳ) from the running sums (NaN without a slope). */
  ssr(): number {
    const b = this.slope();
    if (b !== b) return NAN;
    const v = this.m2y() - b * this.cxy();
    return v > 0 ? v : 0;
  }

  /** Σ(y − ȳ)² of the window: the scale against which {@link ssr} carries its rounding error (~1e−11 of it). */
  syy(): number {
    return this.m2y();
  }

  /** Outputs of {@link fit} (same arithmetic as slope(), intercept(), ssr(), syy(), meanY()). */
  fitSlope = NAN;
  fitIntercept = NAN;
  fitSsr = NAN;
  fitSyy = NAN;
  fitMeanY = NAN;

  /**
   * Computes slope, intercept, SSR, Syy and ȳ at once into the `fit*` fields: the same expressions as the
   * separate getters (bit-identical results), but one call and no doubles returned — on the per-bar path a
   * call that is not inlined boxes every double it returns.
   */
  fit(): void {
    const n = this.bx.count;
    if (n < 2) {
      this.fitSlope = this.fitIntercept = this.fitSsr = NAN;
      this.fitSyy = 0;
      this.fitMeanY = n === 0 ? NAN : this.meanY();
      return;
    }
    const a = this.acc;
    const sx = a[SX]! + a[SX + 1]!;
    const sy = a[SY]! + a[SY + 1]!;
    let mx = a[SXX]! + a[SXX + 1]! - (sx * sx) / n;
    if (!(mx > 0)) mx = 0;
    let my = a[SYY]! + a[SYY + 1]! - (sy * sy) / n;
    if (!(my > 0)) my = 0;
    const cxy = a[SXY]! + a[SXY + 1]! - (sx * sy) / n;
    const f = FLOOR_REL * this.kx;
    const b = mx <= n * f * f ? NAN : cxy / mx;
    const meanY = this.ky + sy / n;
    this.fitSlope = b;
    this.fitMeanY = meanY;
    this.fitSyy = my;
    this.fitIntercept = meanY - b * (this.kx + sx / n);
    if (b !== b) {
      this.fitSsr = NAN;
    } else {
      const v = my - b * cxy;
      this.fitSsr = v > 0 ? v : 0;
    }
  }

  static override restore(state: unknown): RollingOls {
    return new RollingOls(RollingCovariance.windowOf(state, 'RollingOls')).load(state, 'RollingOls');
  }
}
