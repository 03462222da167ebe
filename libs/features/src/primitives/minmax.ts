import { checkWindow } from './codec.js';
import { NAN } from './fastmath.js';

/**
 * Rolling minimum and maximum of the last `window` values with monotone deques (O(1) amortised per push,
 * no allocation). Internal helper; its state is derived from the window, so it is rebuilt rather than
 * serialised.
 */
export class RollingMinMax {
  readonly window: number;
  private readonly maxVal: Float64Array;
  private readonly maxSeq: Float64Array;
  private readonly minVal: Float64Array;
  private readonly minSeq: Float64Array;
  private maxHead = 0;
  private maxLen = 0;
  private minHead = 0;
  private minLen = 0;
  private seq = 0;
  /** Current extremes, kept in fields so that hot callers read them without a call returning a boxed double. */
  hi = NAN;
  lo = NAN;

  constructor(window: number) {
    this.window = checkWindow(window, 1, 'RollingMinMax window');
    this.maxVal = new Float64Array(this.window);
    this.maxSeq = new Float64Array(this.window);
    this.minVal = new Float64Array(this.window);
    this.minSeq = new Float64Array(this.window);
  }

  reset(): void {
    this.maxHead = this.maxLen = this.minHead = this.minLen = 0;
    this.seq = 0;
    this.hi = this.lo = NAN;
  }

  push(x: number): void {
    const cap = this.window;
    const seq = this.seq++;
    const expired = seq - cap;
    // max deque: values strictly decreasing from the front
    while (this.maxLen > 0) {
      let back = this.maxHead + this.maxLen - 1;
      if (back >= cap) back -= cap;
      if (this.maxVal[back]! > x) break;
      this.maxLen--;
    }
    if (this.maxLen > 0 && this.maxSeq[this.maxHead]! <= expired) {
      this.maxHead = this.maxHead + 1 === cap ? 0 : this.maxHead + 1;
      this.maxLen--;
    }
    let t = this.maxHead + this.maxLen;
    if (t >= cap) t -= cap;
    this.maxVal[t] = x;
    this.maxSeq[t] = seq;
    this.maxLen++;
    // min deque: values strictly increasing from the front
    while (this.minLen > 0) {
      let back = this.minHead + this.minLen - 1;
      if (back >= cap) back -= cap;
      if (this.minVal[back]! < x) break;
      this.minLen--;
    }
    if (this.minLen > 0 && this.minSeq[this.minHead]! <= expired) {
      this.minHead = this.minHead + 1 === cap ? 0 : this.minHead + 1;
      this.minLen--;
    }
    t = this.minHead + this.minLen;
    if (t >= cap) t -= cap;
    this.minVal[t] = x;
    this.minSeq[t] = seq;
    this.minLen++;
    this.hi = this.maxVal[this.maxHead]!;
    this.lo = this.minVal[this.minHead]!;
  }

  max(): number {
    return this.maxLen === 0 ? NAN : this.maxVal[this.maxHead]!;
  }

  min(): number {
    return this.minLen === 0 ? NAN : this.minVal[this.minHead]!;
  }
}
