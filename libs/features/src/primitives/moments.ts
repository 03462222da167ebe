import { asRecord, checkWindow, decodeInt, decodeNumber, encodeNumber, type EncodedNumber } from './codec.js';
import { RollingWindow, type RollingWindowState } from './window.js';
import { NAN, abs, sqrt } from './fastmath.js';

/**
 * Drift control shared by the rolling sums. The sums are kept relative to a shift k (the window mean at the
 * last rebase) with Neumaier compensation, so adding and later removing the same term cancels to within
 * ~eps of the current sum, whatever the history. What remains is cancellation in m2 = Σd² − (Σd)²/n: its
 * rounding error is ~eps·Σd², so the sums are rebuilt from the window (new k = window mean) as soon as the
 * largest Σd² seen since the last rebase exceeds REBASE_RATIO × (m2 + floor). That bounds the relative error
 * of m2 by ~REBASE_RATIO·eps ≈ 1.5e−11 after a regime jump, a spike leaving the window or a slow drift of the
 * level, at an amortised O(1) cost (a rebase is one pass over the window and is rare on market data).
 */
export const REBASE_RATIO = 65536;

/**
 * Dispersion below ~16 ulps of the level is rounding noise, not signal: without this floor a window of equal
 * values whose mean is not representable would report a spurious σ and rebase on every push.
 */
const FLOOR_REL = 2 ** -48;

export interface MomentsState {
  window: RollingWindowState;
  shift: EncodedNumber;
  s1: EncodedNumber;
  c1: EncodedNumber;
  s2: EncodedNumber;
  c2: EncodedNumber;
  peak: EncodedNumber;
  rebases: number;
}

/**
 * Rolling mean / sample variance / std over the last `window` values (O(1) per push, drift-free; see
 * {@link REBASE_RATIO}). Values are expected finite (the engine validates its inputs).
 */
export class RollingMoments {
  readonly window: number;
  private buf: RollingWindow;
  private k = 0;
  private s1 = 0;
  private c1 = 0;
  private s2 = 0;
  private c2 = 0;
  private peak = 0;
  private nRebases = 0;

  constructor(window: number) {
    this.window = checkWindow(window, 1, 'RollingMoments window');
    this.buf = new RollingWindow(this.window);
  }

  get count(): number {
    return this.buf.count;
  }

  get isFull(): boolean {
    return this.buf.isFull;
  }

  /** How many times the sums were rebuilt from the window (diagnostics and tests). */
  get rebases(): number {
    return this.nRebases;
  }

  push(x: number): void {
    const buf = this.buf;
    if (buf.count === 0) this.k = x;
    const k = this.k;
    const full = buf.isFull;
    const old = buf.push(x);
    // Neumaier steps written out (hot path: calls returning doubles would box).
    let s: number;
    let t: number;
    let v: number;
    if (full) {
      const d = old - k;
      s = this.s1;
      v = -d;
      t = s + v;
      this.c1 += abs(s) >= abs(v) ? s - t + v : v - t + s;
      this.s1 = t;
      s = this.s2;
      v = -(d * d);
      t = s + v;
      this.c2 += abs(s) >= abs(v) ? s - t + v : v - t + s;
      this.s2 = t;
    }
    const d = x - k;
    s = this.s1;
    t = s + d;
    this.c1 += abs(s) >= abs(d) ? s - t + d : d - t + s;
    this.s1 = t;
    s = this.s2;
    v = d * d;
    t = s + v;
    this.c2 += abs(s) >= abs(v) ? s - t + v : v - t + s;
    this.s2 = t;
    const q = this.s2 + this.c2;
    if (q > this.peak) this.peak = q;
    const n = buf.count;
    const a = this.s1 + this.c1;
    const m2 = q - (a * a) / n;
    const f = FLOOR_REL * k;
    if (this.peak > REBASE_RATIO * ((m2 > 0 ? m2 : 0) + n * f * f)) this.rebase();
  }

  private add1(x: number): void {
    const s = this.s1;
    const t = s + x;
    this.c1 += abs(s) >= abs(x) ? s - t + x : x - t + s;
    this.s1 = t;
  }

  private add2(x: number): void {
    const s = this.s2;
    const t = s + x;
    this.c2 += abs(s) >= abs(x) ? s - t + x : x - t + s;
    this.s2 = t;
  }

  private floor(): number {
    const f = FLOOR_REL * this.k;
    return this.buf.count * f * f;
  }

  /** Σ(x − mean)² of the window (≥ 0). */
  private m2(): number {
    const n = this.buf.count;
    if (n < 2) return 0;
    const a = this.s1 + this.c1;
    const m = this.s2 + this.c2 - (a * a) / n;
    return m > 0 ? m : 0;
  }

  private rebase(): void {
    const buf = this.buf;
    const data = buf.data;
    const n = buf.count;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += data[i]!;
    const k = sum / n;
    this.k = k;
    this.s1 = this.c1 = this.s2 = this.c2 = 0;
    for (let i = 0; i < n; i++) {
      const d = data[i]! - k;
      this.add1(d);
      this.add2(d * d);
    }
    this.peak = this.s2 + this.c2;
    this.nRebases++;
  }

  mean(): number {
    const n = this.buf.count;
    return n === 0 ? NAN : this.k + (this.s1 + this.c1) / n;
  }

  /** Sample variance (n − 1); NaN below two values; 0 when the dispersion is below the rounding floor. */
  variance(): number {
    const n = this.buf.count;
    if (n < 2) return NAN;
    const m2 = this.m2();
    return m2 <= this.floor() ? 0 : m2 / (n - 1);
  }

  std(): number {
    return sqrt(this.variance());
  }

  /** Read-only view of the window (physical slots; see {@link RollingWindow}). */
  get values(): RollingWindow {
    return this.buf;
  }

  snapshot(): MomentsState {
    return {
      window: this.buf.snapshot(),
      shift: encodeNumber(this.k),
      s1: encodeNumber(this.s1),
      c1: encodeNumber(this.c1),
      s2: encodeNumber(this.s2),
      c2: encodeNumber(this.c2),
      peak: encodeNumber(this.peak),
      rebases: this.nRebases,
    };
  }

  static restore(state: unknown): RollingMoments {
    const s = asRecord(state, 'RollingMoments');
    const buf = RollingWindow.restore(s.window);
    const m = new RollingMoments(buf.capacity);
    m.buf = buf;
    m.k = decodeNumber(s.shift, 'RollingMoments.shift');
    m.s1 = decodeNumber(s.s1, 'RollingMoments.s1');
    m.c1 = decodeNumber(s.c1, 'RollingMoments.c1');
    m.s2 = decodeNumber(s.s2, 'RollingMoments.s2');
    m.c2 = decodeNumber(s.c2, 'RollingMoments.c2');
    m.peak = decodeNumber(s.peak, 'RollingMoments.peak');
    m.nRebases = decodeInt(s.rebases, 0, Number.MAX_SAFE_INTEGER, 'RollingMoments.rebases');
    return m;
  }
}
