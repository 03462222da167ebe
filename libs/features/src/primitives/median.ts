import { asRecord, checkWindow, stateError } from './codec.js';
import { RollingWindow, type RollingWindowState } from './window.js';
import { NAN } from './fastmath.js';

const LOW = 0;
const HIGH = 1;

export interface RollingMedianState {
  window: RollingWindowState;
  /** Slots of the lower half as a max-heap (array order is part of the state). */
  low: number[];
  /** Slots of the upper half as a min-heap. */
  high: number[];
}

/**
 * Exact rolling median over the last `window` values in O(log n) per push: an indexed two-heap over the ring
 * slots. The lower half is a max-heap, the upper half a min-heap (|low| = ⌈count/2⌉); an evicted value's slot is
 * overwritten by the new value and re-sifted in place, then the two roots are exchanged if they cross. For an
 * even count the median is (low root + high root) / 2, exactly what sorting the window gives.
 */
export class RollingMedian {
  readonly window: number;
  private buf: RollingWindow;
  private readonly low: Int32Array;
  private readonly high: Int32Array;
  private readonly pos: Int32Array;
  private readonly side: Uint8Array;
  private nLow = 0;
  private nHigh = 0;

  constructor(window: number) {
    this.window = checkWindow(window, 1, 'RollingMedian window');
    this.buf = new RollingWindow(this.window);
    this.low = new Int32Array(this.window);
    this.high = new Int32Array(this.window);
    this.pos = new Int32Array(this.window);
    this.side = new Uint8Array(this.window);
  }

  get count(): number {
    return this.buf.count;
  }

  get isFull(): boolean {
    return this.buf.isFull;
  }

  get values(): RollingWindow {
    return this.buf;
  }

  push(x: number): void {
    const buf = this.buf;
    if (buf.isFull) {
      const slot = buf.head;
      buf.push(x);
      this.replaced(slot);
    } else {
      const slot = buf.count;
      buf.push(x);
      this.insert(slot);
    }
  }

  median(): number {
    if (this.buf.count === 0) return NAN;
    const v = this.buf.data;
    const lo = v[this.low[0]!]!;
    return this.nLow > this.nHigh ? lo : (lo + v[this.high[0]!]!) / 2;
  }

  private insert(slot: number): void {
    const v = this.buf.data;
    if (this.nLow === 0 || v[slot]! <= v[this.low[0]!]!) this.pushLow(slot);
    else this.pushHigh(slot);
    if (this.nLow > this.nHigh + 1) {
      const s = this.low[0]!;
      this.popRoot(LOW);
      this.pushHigh(s);
    } else if (this.nHigh > this.nLow) {
      const s = this.high[0]!;
      this.popRoot(HIGH);
      this.pushLow(s);
    }
  }

  private replaced(slot: number): void {
    const p = this.pos[slot]!;
    if (this.side[slot] === LOW) {
      this.siftDownLow(this.siftUpLow(p));
    } else {
      this.siftDownHigh(this.siftUpHigh(p));
    }
    if (this.nHigh > 0) {
      const v = this.buf.data;
      const a = this.low[0]!;
      const b = this.high[0]!;
      if (v[a]! > v[b]!) {
        this.low[0] = b;
        this.side[b] = LOW;
        this.pos[b] = 0;
        this.high[0] = a;
        this.side[a] = HIGH;
        this.pos[a] = 0;
        this.siftDownLow(0);
        this.siftDownHigh(0);
      }
    }
  }

  private pushLow(slot: number): void {
    const i = this.nLow++;
    this.low[i] = slot;
    this.side[slot] = LOW;
    this.pos[slot] = i;
    this.siftUpLow(i);
  }

  private pushHigh(slot: number): void {
    const i = this.nHigh++;
    this.high[i] = slot;
    this.side[slot] = HIGH;
    this.pos[slot] = i;
    this.siftUpHigh(i);
  }

  private popRoot(which: number): void {
    if (which === LOW) {
      const last = this.low[--this.nLow]!;
      if (this.nLow > 0) {
        this.low[0] = last;
        this.pos[last] = 0;
        this.siftDownLow(0);
      }
    } else {
      const last = this.high[--this.nHigh]!;
      if (this.nHigh > 0) {
        this.high[0] = last;
        this.pos[last] = 0;
        this.siftDownHigh(0);
      }
    }
  }

  private siftUpLow(i: number): number {
    const h = this.low;
    const v = this.buf.data;
    const pos = this.pos;
    const s = h[i]!;
    const x = v[s]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = h[p]!;
      if (!(v[ps]! < x)) break;
      h[i] = ps;
      pos[ps] = i;
      i = p;
    }
    h[i] = s;
    pos[s] = i;
    return i;
  }

  private siftDownLow(i: number): void {
    const h = this.low;
    const n = this.nLow;
    const v = this.buf.data;
    const pos = this.pos;
    const s = h[i]!;
    const x = v[s]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      let cv = v[h[l]!]!;
      const r = l + 1;
      if (r < n) {
        const rv = v[h[r]!]!;
        if (rv > cv) {
          c = r;
          cv = rv;
        }
      }
      if (!(cv > x)) break;
      const cs = h[c]!;
      h[i] = cs;
      pos[cs] = i;
      i = c;
    }
    h[i] = s;
    pos[s] = i;
  }

  private siftUpHigh(i: number): number {
    const h = this.high;
    const v = this.buf.data;
    const pos = this.pos;
    const s = h[i]!;
    const x = v[s]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = h[p]!;
      if (!(v[ps]! > x)) break;
      h[i] = ps;
      pos[ps] = i;
      i = p;
    }
    h[i] = s;
    pos[s] = i;
    return i;
  }

  private siftDownHigh(i: number): void {
    const h = this.high;
    const n = this.nHigh;
    const v = this.buf.data;
    const pos = this.pos;
    const s = h[i]!;
    const x = v[s]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      let cv = v[h[l]!]!;
      const r = l + 1;
      if (r < n) {
        const rv = v[h[r]!]!;
        if (rv < cv) {
          c = r;
          cv = rv;
        }
      }
      if (!(cv < x)) break;
      const cs = h[c]!;
      h[i] = cs;
      pos[cs] = i;
      i = c;
    }
    h[i] = s;
    pos[s] = i;
  }

  snapshot(): RollingMedianState {
    return {
      window: this.buf.snapshot(),
      low: Array.from(this.low.subarray(0, this.nLow)),
      high: Array.from(this.high.subarray(0, this.nHigh)),
    };
  }

  static restore(state: unknown): RollingMedian {
    const s = asRecord(state, 'RollingMedian');
    const buf = RollingWindow.restore(s.window);
    const m = new RollingMedian(buf.capacity);
    m.buf = buf;
    const n = buf.count;
    const low = s.low;
    const high = s.high;
    if (!Array.isArray(low) || !Array.isArray(high) || low.length !== Math.ceil(n / 2) || high.length !== Math.floor(n / 2)) {
      throw stateError(`RollingMedian: heaps must hold ⌈${n}/2⌉ and ⌊${n}/2⌋ slots`);
    }
    const seen = new Uint8Array(m.window);
    const place = (slots: unknown[], heap: Int32Array, side: number): void => {
      slots.forEach((slot, i) => {
        if (typeof slot !== 'number' || !Number.isInteger(slot) || slot < 0 || slot >= n || seen[slot]) {
          throw stateError(`RollingMedian: heap slot ${String(slot)} is invalid or repeated`);
        }
        seen[slot] = 1;
        heap[i] = slot;
        m.pos[slot] = i;
        m.side[slot] = side;
      });
    };
    place(low, m.low, LOW);
    place(high, m.high, HIGH);
    m.nLow = low.length;
    m.nHigh = high.length;
    const v = buf.data;
    for (let i = 1; i < m.nLow; i++) if (v[m.low[(i - 1) >> 1]!]! < v[m.low[i]!]!) throw stateError('RollingMedian: low heap order violated');
    for (let i = 1; i < m.nHigh; i++) if (v[m.high[(i - 1) >> 1]!]! > v[m.high[i]!]!) throw stateError('RollingMedian: high heap order violated');
    if (m.nHigh > 0 && v[m.low[0]!]! > v[m.high[0]!]!) throw stateError('RollingMedian: halves overlap');
    return m;
  }
}
