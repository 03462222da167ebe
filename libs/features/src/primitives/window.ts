import { asRecord, checkWindow, decodeArrayInto, decodeInt, encodeArray, stateError, type EncodedNumber } from './codec.js';
import { NAN } from './fastmath.js';

export interface RollingWindowState {
  capacity: number;
  head: number;
  count: number;
  /** Physical slots (not chronological): the layout is part of the state because sums run in slot order. */
  data: EncodedNumber[];
}

/** Fixed-capacity ring buffer of doubles over a Float64Array; the oldest value is evicted when full. */
export class RollingWindow {
  readonly capacity: number;
  /** Physical storage; slot `head` holds the oldest value. Read-only for callers. */
  readonly data: Float64Array;
  private h = 0;
  private n = 0;

  constructor(capacity: number) {
    this.capacity = checkWindow(capacity, 1, 'window capacity');
    this.data = new Float64Array(this.capacity);
  }

  get count(): number {
    return this.n;
  }

  get head(): number {
    return this.h;
  }

  get isFull(): boolean {
    return this.n === this.capacity;
  }

  /** Appends `x`; returns the evicted value, or NaN when the window was not yet full. */
  push(x: number): number {
    const cap = this.capacity;
    if (this.n === cap) {
      const h = this.h;
      const old = this.data[h]!;
      this.data[h] = x;
      this.h = h + 1 === cap ? 0 : h + 1;
      return old;
    }
    let tail = this.h + this.n;
    if (tail >= cap) tail -= cap;
    this.data[tail] = x;
    this.n++;
    return NAN;
  }

  /** The value that the next push evicts (NaN while not full). */
  peekEvicted(): number {
    return this.n === this.capacity ? this.data[this.h]! : NAN;
  }

  /** `i`-th value, oldest first (0 ≤ i < count). */
  get(i: number): number {
    let k = this.h + i;
    if (k >= this.capacity) k -= this.capacity;
    return this.data[k]!;
  }

  newest(): number {
    return this.n === 0 ? NAN : this.get(this.n - 1);
  }

  /** Chronological copy (allocates; not for hot paths). */
  toArray(): Float64Array {
    const out = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) out[i] = this.get(i);
    return out;
  }

  snapshot(): RollingWindowState {
    return { capacity: this.capacity, head: this.h, count: this.n, data: encodeArray(this.data) };
  }

  static restore(state: unknown): RollingWindow {
    const s = asRecord(state, 'RollingWindow');
    const cap = decodeInt(s.capacity, 1, 1_000_000, 'RollingWindow.capacity');
    const w = new RollingWindow(cap);
    w.n = decodeInt(s.count, 0, cap, 'RollingWindow.count');
    w.h = decodeInt(s.head, 0, cap - 1, 'RollingWindow.head');
    // The head only moves once the window is full.
    if (w.n < cap && w.h !== 0) throw stateError('RollingWindow: a window that is not full must have head 0');
    decodeArrayInto(s.data, w.data, cap, 'RollingWindow.data');
    return w;
  }
}
