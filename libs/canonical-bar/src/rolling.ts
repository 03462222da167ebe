import { CanonicalBarError, DQ_ERROR } from './errors.js';

function assertCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new CanonicalBarError(DQ_ERROR.CONFIG, `window capacity must be an integer ≥ 1, got ${capacity}`);
  }
}

/** Relative variance floor of {@link RollingStd.std}: variance ≤ 1e-12 × mean square counts as zero. */
export const VARIANCE_FLOOR = 1e-12;

/** Serializable contents of a rolling window. */
export interface RollingStdState {
  values: number[];
  sum: number;
  sumSq: number;
  evictions: number;
}

/**
 * Fixed-capacity rolling window with O(1) mean and sample standard deviation (running sums; the sums are
 * recomputed exactly from the window every `16 × capacity` evictions to bound floating drift, whenever an
 * evicted value dwarfs what remains (catastrophic cancellation), and reset to exactly 0 when the window holds
 * only zeros). A variance at or below {@link VARIANCE_FLOOR} × mean square
 * is reported as σ = 0 (zero dispersion).
 */
export class RollingStd {
  private readonly buf: Float64Array;
  private head = 0; // index of the oldest value
  private n = 0;
  private sum = 0;
  private sumSq = 0;
  private nonZero = 0;
  private evictions = 0;

  constructor(readonly capacity: number) {
    assertCapacity(capacity);
    this.buf = new Float64Array(capacity);
  }

  get count(): number {
    return this.n;
  }

  push(x: number): void {
    const cap = this.capacity;
    if (this.n === cap) {
      const old = this.buf[this.head]!;
      this.buf[this.head] = x;
      this.head = this.head + 1 === cap ? 0 : this.head + 1;
      this.sum += x - old;
      this.sumSq += x * x - old * old;
      if (old !== 0) this.nonZero--;
      if (x !== 0) this.nonZero++;
      if (++this.evictions % (16 * cap) === 0) this.recompute();
      else if (this.nonZero === 0) {
        this.sum = 0;
        this.sumSq = 0;
      } else if (old * old > 1e6 * this.sumSq) {
        // The evicted value dwarfed what is left: the subtraction cancelled most significant digits, so the
        // running sums now carry rounding residue of the old value's magnitude. Recompute them exactly.
        this.recompute();
      }
    } else {
      let tail = this.head + this.n;
      if (tail >= cap) tail -= cap;
      this.buf[tail] = x;
      this.n++;
      this.sum += x;
      this.sumSq += x * x;
      if (x !== 0) this.nonZero++;
    }
  }

  private recompute(): void {
    let s = 0;
    let q = 0;
    for (const v of this.values()) {
      s += v;
      q += v * v;
    }
    this.sum = s;
    this.sumSq = q;
  }

  mean(): number {
    return this.n === 0 ? NaN : this.sum / this.n;
  }

  /** Sample standard deviation (n − 1 denominator); NaN for fewer than 2 values. */
  std(): number {
    const n = this.n;
    if (n < 2) return NaN;
    const v = (this.sumSq - (this.sum * this.sum) / n) / (n - 1);
    // Below ~1e-12 of the mean square the running-sum variance is rounding noise (e.g. a window of equal
    // values): report exactly 0 rather than a spurious tiny σ.
    return v > VARIANCE_FLOOR * (this.sumSq / n) ? Math.sqrt(v) : 0;
  }

  /** Window contents, oldest first. */
  values(): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.n; k++) {
      let i = this.head + k;
      if (i >= this.capacity) i -= this.capacity;
      out.push(this.buf[i]!);
    }
    return out;
  }

  snapshot(): RollingStdState {
    return { values: this.values(), sum: this.sum, sumSq: this.sumSq, evictions: this.evictions };
  }

  static restore(capacity: number, s: RollingStdState): RollingStd {
    const r = new RollingStd(capacity);
    if (s.values.length > capacity) throw new CanonicalBarError(DQ_ERROR.CONFIG, 'snapshot holds more values than the window capacity');
    for (const v of s.values) {
      r.buf[r.n++] = v;
      if (v !== 0) r.nonZero++;
    }
    r.sum = s.sum;
    r.sumSq = s.sumSq;
    r.evictions = s.evictions;
    return r;
  }
}

/**
 * Fixed-capacity rolling median: a ring buffer (insertion order) plus a sorted array. The evicted value is
 * found by binary search (O(log n)) and replaced by sliding the values between the old and new ranks
 * (a short in-cache shift of a small typed array, ≈ n/3 moves on average); median is O(1).
 * For even counts the median is the mean of the two middle values.
 */
export class RollingMedian {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private head = 0;
  private n = 0;

  constructor(readonly capacity: number) {
    assertCapacity(capacity);
    this.ring = new Float64Array(capacity);
    this.sorted = new Float64Array(capacity);
  }

  get count(): number {
    return this.n;
  }

  /** First index whose value is ≥ x (lower bound) in sorted[0, n). */
  private lowerBound(x: number): number {
    let lo = 0;
    let hi = this.n;
    const a = this.sorted;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  push(x: number): void {
    if (x !== x) throw new CanonicalBarError(DQ_ERROR.CONFIG, 'RollingMedian does not accept NaN');
    const cap = this.capacity;
    const a = this.sorted;
    const n = this.n;
    if (n === cap) {
      // Replace the oldest value in place: find it by binary search, then slide the values between its
      // slot and the new value's slot by one (a single partial shift instead of a delete plus an insert).
      const old = this.ring[this.head]!;
      this.ring[this.head] = x;
      this.head = this.head + 1 === cap ? 0 : this.head + 1;
      let i = this.lowerBound(old);
      if (x >= old) {
        while (i + 1 < n && a[i + 1]! < x) {
          a[i] = a[i + 1]!;
          i++;
        }
      } else {
        while (i > 0 && a[i - 1]! > x) {
          a[i] = a[i - 1]!;
          i--;
        }
      }
      a[i] = x;
      return;
    }
    let tail = this.head + n;
    if (tail >= cap) tail -= cap;
    this.ring[tail] = x;
    let i = n;
    while (i > 0 && a[i - 1]! > x) {
      a[i] = a[i - 1]!;
      i--;
    }
    a[i] = x;
    this.n = n + 1;
  }

  /** Median of the window; NaN when empty. */
  median(): number {
    const n = this.n;
    if (n === 0) return NaN;
    const a = this.sorted;
    const h = n >>> 1;
    return n % 2 === 1 ? a[h]! : (a[h - 1]! + a[h]!) / 2;
  }

  /** Window contents, oldest first. */
  values(): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.n; k++) {
      let i = this.head + k;
      if (i >= this.capacity) i -= this.capacity;
      out.push(this.ring[i]!);
    }
    return out;
  }

  static restore(capacity: number, values: readonly number[]): RollingMedian {
    if (values.length > capacity) throw new CanonicalBarError(DQ_ERROR.CONFIG, 'snapshot holds more values than the window capacity');
    const r = new RollingMedian(capacity);
    for (const v of values) r.push(v);
    return r;
  }
}
