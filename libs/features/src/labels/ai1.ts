import { LABEL_ERROR, labelError } from './errors.js';
import { assertIncreasing, assertSameLength } from './internal.js';
import { resolveLabelParams, type LabelParams } from './params.js';

/**
 * AI1 (reversion probability) events of seeds/003 "AI1（回帰確率）ラベル定義", for one pair.
 *
 * Resolved rules (bar indices t are positions in the input arrays; M = horizonBars, K = speedLookbackBars):
 *
 * 1. Candidate at t: z_t is finite and |z_t| ≥ zEntry. Direction d = sign(z_t): +1 = short A / long B (the spread
 *    is rich), −1 = long A / short B.
 * 2. Speed filter: speed_t = (|Δz|_{t−K} + … + |Δz|_{t−1}) / K, the K bars *before* t (the start bar's own jump is
 *    not part of it), summed in time order. The candidate needs all K values defined (t ≥ K and none NaN) and is
 *    excluded when speed_t > speedMaxAbsDeltaZ (strictly; exactly at the threshold it stays).
 *    The fixture decides the window: its event at 2023-02-20T06:00 (z jumps from −0.28 to 2.25) has speed 0.039
 *    over t−6..t−1 and 0.452 over t−5..t; its first event is the first bar whose t−6..t−1 is fully defined.
 * 3. An event starting at t is observed over t+1 … t+M (the start bar itself cannot be an exit because
 *    zExit < zEntry). It ends at the first bar e of that range where, in this order:
 *      a. |z_e| ≤ zExit → outcome 1, endReason 'exit' (exactly at zExit counts);
 *      b. z_e has the opposite sign with |z_e| ≥ zEntry (the spread crossed to the opposite entry band without
 *         passing the exit band in between) → outcome 0, endReason 'opposite';
 *      c. e = t + M → outcome 0, endReason 'horizon' (an exit on bar t + M itself is a success, rule a first);
 *    and when the data end before t + M without a, b → outcome 0, endReason 'data_end', endIndex = last bar.
 * 4. While an event is open (bars t … endIndex) no new event of the same direction starts — also not on the
 *    end bar of a 'horizon' event: the next same-direction event can start at endIndex + 1 at the earliest
 *    (fixture: events at 797/846, 1200/1249/1298, 1687/1736 are 49 bars apart while |z| stays ≥ 2).
 * 5. The bar that closes an event by rule b is itself a candidate of the opposite direction and starts a new
 *    event if it passes the speed filter (the seed's "逆方向クロス時は既存イベントをクローズし再ラベルを許可").
 *    The crossing closes the open event even when the filter rejects the new one.
 *
 * Outcomes are the seed's definition ("reached |z| ≤ zExit within M bars"); an event closed by an opposite
 * crossing never reached the exit band, so it is 0. 'data_end' events are censored: their outcome 0 only says
 * the exit was not seen before the data ended; they are listed (as the fixture does, with outcome 0) but the
 * training dataset excludes them (see dataset.ts). An event that reaches the exit before the data end is a
 * definitive 1 even if t + M lies beyond the data.
 *
 * The fixture exercises rules 1, 2, 3a, 3c, 4 and 'data_end'; rule 3b/5 (a one-bar jump across both bands) does
 * not occur in it and is fixed by hand-computed tests.
 */
export interface Ai1Event {
  startIndex: number;
  /** Bar time of the start bar. */
  tsMs: number;
  direction: 1 | -1;
  outcome: 0 | 1;
  /** Bar that ended the event (exit, opposite crossing, t + M, or the last bar for 'data_end'). */
  endIndex: number;
  endReason: Ai1EndReason;
}

export type Ai1EndReason = 'exit' | 'horizon' | 'opposite' | 'data_end';

export interface Ai1Input {
  tsMs: Float64Array;
  z: Float64Array;
  absDeltaZ: Float64Array;
}

/** Mean of absDeltaZ[t−k … t−1] in time order, NaN unless all k values are defined. */
export function entrySpeed(absDeltaZ: ArrayLike<number>, t: number, k: number): number {
  if (t < k) return NaN;
  let sum = 0;
  for (let i = t - k; i < t; i++) {
    const v = absDeltaZ[i]!;
    if (v !== v) return NaN;
    sum += v;
  }
  return sum / k;
}

/** AI1 events of one pair (see the module comment for the rules). Deterministic, O(n · K). */
export function computeAi1Events(input: Ai1Input, params?: Partial<LabelParams>): Ai1Event[] {
  const p = resolveLabelParams(params);
  const { tsMs, z, absDeltaZ } = input;
  const n = z.length;
  assertSameLength('computeAi1Events', n, { tsMs, absDeltaZ });
  assertIncreasing('computeAi1Events', tsMs);
  const M = p.horizonBars;
  const events: Ai1Event[] = [];
  let open: Ai1Event | null = null;
  for (let t = 0; t < n; t++) {
    const zt = z[t]!;
    if (open !== null) {
      const finite = zt === zt;
      const dir = zt > 0 ? 1 : -1;
      if (finite && Math.abs(zt) <= p.zExit) {
        close(open, t, 1, 'exit');
        open = null;
      } else if (finite && Math.abs(zt) >= p.zEntry && dir !== open.direction) {
        close(open, t, 0, 'opposite');
        open = null;
      } else if (t === open.startIndex + M) {
        close(open, t, 0, 'horizon');
        open = null;
        continue; // the horizon bar still belongs to the closed event's window (rule 4)
      } else {
        continue; // same-direction candidates are suppressed while the event is open
      }
    }
    if (!(Math.abs(zt) >= p.zEntry)) continue; // also rejects NaN
    const speed = entrySpeed(absDeltaZ, t, p.speedLookbackBars);
    if (!(speed <= p.speedMaxAbsDeltaZ)) continue; // undefined speed (warm-up) or too fast
    open = { startIndex: t, tsMs: tsMs[t]!, direction: zt > 0 ? 1 : -1, outcome: 0, endIndex: -1, endReason: 'data_end' };
    events.push(open);
  }
  if (open !== null) close(open, n - 1, 0, 'data_end');
  return events;
}

function close(e: Ai1Event, end: number, outcome: 0 | 1, reason: Ai1EndReason): void {
  e.endIndex = end;
  e.outcome = outcome;
  e.endReason = reason;
}

/** Per-bar view of the events: 1 on start bars, with the event's direction, outcome, end and reason. */
export interface Ai1Columns {
  isEvent: Uint8Array;
  /** +1 / −1 on start bars, 0 elsewhere. */
  direction: Int8Array;
  /** 0 / 1 on start bars, −1 elsewhere. */
  outcome: Int8Array;
  /** End bar index on start bars, −1 elsewhere. */
  endIndex: Int32Array;
  /** End reason on start bars, null elsewhere. */
  endReason: (Ai1EndReason | null)[];
}

export function ai1Columns(events: readonly Ai1Event[], n: number): Ai1Columns {
  const c: Ai1Columns = {
    isEvent: new Uint8Array(n),
    direction: new Int8Array(n),
    outcome: new Int8Array(n).fill(-1),
    endIndex: new Int32Array(n).fill(-1),
    endReason: new Array<Ai1EndReason | null>(n).fill(null),
  };
  for (const e of events) {
    if (!(e.startIndex >= 0 && e.startIndex < n)) throw labelError(LABEL_ERROR.INPUT, `event start ${e.startIndex} outside 0..${n - 1}`);
    c.isEvent[e.startIndex] = 1;
    c.direction[e.startIndex] = e.direction;
    c.outcome[e.startIndex] = e.outcome;
    c.endIndex[e.startIndex] = e.endIndex;
    c.endReason[e.startIndex] = e.endReason;
  }
  return c;
}
